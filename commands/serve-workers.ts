/**
 * `serve --workers N`, the worker's side: N daemon processes on one port (Node's cluster
 * module: the primary accepts connections and hands them to the workers in turn; it works on
 * Windows too), sharing rooms through NATS JetStream. A worker is an ordinary daemon whose
 * rooms, decoys and secrets come from the primary (workers-primary.ts) over the IPC channel
 * (never a file, the environment or a command line); this module is that channel's worker end
 * and what both ends share.
 */
import type { Cluster } from 'node:cluster';
import type { ClusterConnectOptions } from '../lib/cluster/connection.js';
import type { RoomCredentials } from '../lib/protocol/handshake-server.js';
import type { Logger } from '../lib/server/log.js';

/** Set in a worker's environment: its slot, 1 to N (not a secret). */
export const WORKER_ENV = 'CMD_CHAT_WORKER';
export const MAX_WORKERS = 64;
const CONFIG_TIMEOUT_MS = 30_000;

/** What the primary sends a worker once it is online (structured clone over IPC). */
export interface WorkerConfig {
  t: 'config';
  rooms: Array<[string, RoomCredentials]>;
  /** The primary's decoys (a rooms file's decoy key, or its per-run secret). */
  decoys: { secret: Buffer; keyed: boolean };
  connect: ClusterConnectOptions;
  secret: Buffer;
}

export type ToWorker = WorkerConfig | { t: 'stop'; signal: string };
export type FromWorker = { t: 'ready' } | { t: 'listening'; address: string; port: number | undefined };

/** This process is a worker of `serve --workers` (its slot), or undefined. */
export function workerSlot(): number | undefined {
  // Only a process started with our variable loads the cluster module: a daemon alone, or
  // the primary, never needs it here (docs/benchmarks.md, backlog RSS).
  if (process.env[WORKER_ENV] === undefined) return undefined;
  // The module's CommonJS object is the cluster itself (its types only know the ES namespace).
  const cluster = process.getBuiltinModule('node:cluster') as unknown as Cluster;
  if (!cluster.isWorker) return undefined;
  const slot = Number(process.env[WORKER_ENV]);
  return Number.isInteger(slot) && slot > 0 ? slot : undefined;
}

/** The worker's logger: every line says which worker wrote it. */
export function workerLogger(base: Logger, slot: number): Logger {
  return {
    verbose: base.verbose,
    info: (m) => base.info(`worker ${slot}: ${m}`),
    detail: (m) => base.detail(`worker ${slot}: ${m}`),
  };
}

const bytes = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** Worker side: waits for the configuration the primary sends (Buffers restored). */
export function receiveWorkerConfig(): Promise<WorkerConfig> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no configuration from the primary')), CONFIG_TIMEOUT_MS);
    const onMessage = (m: ToWorker): void => {
      if (m?.t !== 'config') return;
      clearTimeout(timer);
      process.off('message', onMessage);
      const rooms = m.rooms.map(([name, c]): [string, RoomCredentials] => [
        name,
        {
          identity: bytes(c.identity),
          salt: bytes(c.salt),
          verifier: bytes(c.verifier),
          roomSalt: bytes(c.roomSalt),
          ...(c.legacy ? { legacy: { salt: bytes(c.legacy.salt), verifier: bytes(c.legacy.verifier) } } : {}),
        },
      ]);
      resolve({
        ...m,
        rooms,
        decoys: { secret: bytes(m.decoys.secret), keyed: m.decoys.keyed },
        secret: bytes(m.secret),
      });
    };
    process.on('message', onMessage);
    // Asked for once listening: a message sent before a listener exists would be lost.
    process.send?.({ t: 'ready' } satisfies FromWorker);
  });
}

/** Worker side: tells the primary where this worker listens. */
export function reportListening(address: string, port: number | undefined): void {
  process.send?.({ t: 'listening', address, port } satisfies FromWorker);
}

/** Worker side: `stop` runs on the primary's request, or when the primary is gone. */
export function onPrimaryStop(stop: (signal: string) => void): void {
  process.on('message', (m: ToWorker) => {
    if (m?.t === 'stop') stop(m.signal);
  });
  process.on('disconnect', () => stop('primary gone'));
}
