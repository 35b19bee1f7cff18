/**
 * `serve --cluster` / `--workers`: joins the NATS cluster and puts the registry's rooms on
 * JetStream. Loaded only when a daemon is given cluster settings, so a daemon alone (and
 * every other command) never loads the NATS client (about 70 modules).
 */
import { NatsRoomBus } from '../lib/cluster/bus.js';
import { BusDirectChannel } from '../lib/cluster/direct.js';
import { JetStreamRoomStore } from '../lib/cluster/jetstream-store.js';
import { deriveClusterKeys } from '../lib/cluster/keys.js';
import type { DaemonLimits } from '../lib/protocol/limits.js';
import type { Logger } from '../lib/server/log.js';
import { logLimitsOf, type RoomRegistry } from '../lib/server/rooms.js';
import type { ClusterSettings } from './cluster-options.js';

/** Why joining failed, for serve's message and exit code; no secret in it. */
export class ClusterJoinError extends Error {}

/**
 * Connects to the cluster and gives `registry` the JetStream room store; returns the bus to
 * close at shutdown. Zeroes the secret and the decoy key once derived.
 */
export async function joinCluster(
  settings: ClusterSettings,
  registry: RoomRegistry,
  limits: DaemonLimits,
  logger: Logger,
): Promise<NatsRoomBus> {
  const keys = deriveClusterKeys(settings.secret);
  settings.secret.fill(0);
  // Probing an unknown name on two daemons must not tell it from a real room.
  if (!registry.stableDecoys) registry.setDecoyKey(keys.decoyKey);
  keys.decoyKey.fill(0);
  const connected = await NatsRoomBus.connect(
    { ...settings.connect, reconnectWaitMs: Math.min(1000, settings.heartbeatMs) },
    keys,
    logger,
  ).catch((err: Error) => {
    throw new ClusterJoinError(`cannot join the cluster: ${err.message.split('\n')[0]}`);
  });
  // The rooms live on JetStream: one memory stream per room, names in a KV bucket.
  const store = await JetStreamRoomStore.start(connected.connection, keys, {
    limits: logLimitsOf(limits),
    // A bucket TTL cannot be 0: with no grace, names are released rather than held.
    holdMs: Math.max(1000, limits.resumeGraceMs),
    // A daemon silent for three heartbeats has lost its lease: its members' names are held.
    leaseMs: 3 * settings.heartbeatMs,
    onLapsed: () => logger.info('cluster: this daemon lost its lease; its members resume'),
    onResynced: (restarted) =>
      logger.info(`cluster: resynchronised${restarted > 0 ? `; ${restarted} room log(s) started over` : ''}`),
    direct: (roomId) => new BusDirectChannel(connected, `direct\0${roomId}`),
  }).catch((err: Error) => {
    throw new ClusterJoinError(`cannot use JetStream on the NATS server: ${err.message.split('\n')[0]}`);
  });
  registry.useStore(store);
  return connected;
}
