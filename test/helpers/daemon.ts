/**
 * Test helpers: an in-process daemon with static rooms on a chosen transport, and sessions
 * that join it, so protocol tests read as a scenario.
 */
import { ChatSession, type SessionOptions } from '../../lib/client/session/session.js';
import type { RoomCredentials } from '../../lib/protocol/handshake-server.js';
import { type DaemonLimits, defaultDaemonLimits } from '../../lib/protocol/limits.js';
import type { RoomStore } from '../../lib/rooms/seam.js';
import { Daemon } from '../../lib/server/daemon.js';
import { credentialsFromPassword, RoomRegistry } from '../../lib/server/rooms.js';
import { tcpClient, tcpServer } from '../../lib/transport/tcp.js';
import type { ClientTransport } from '../../lib/transport/transport.js';
import { within } from './deadline.js';
import { silentLogger } from './silent-logger.js';

/** How long opening a session, joining, or a daemon's shutdown may take before the test fails. */
const SESSION_MS = 30_000;

export interface TestDaemon {
  daemon: Daemon;
  registry: RoomRegistry;
  port: number;
  client(): ClientTransport;
  stop(): Promise<void>;
}

/** Each room's credentials as first derived in this process, by name, password and legacy flag. */
const derived = new Map<string, Promise<RoomCredentials>>();

/**
 * A room's credentials from its password, as `--room NAME=PASSWORD` gives them: a function of
 * the name and password (stable salts), so derived once per test process (a scrypt each) and
 * handed out as copies, since a daemon wipes its rooms' credentials when it stops.
 */
async function roomCredentials(name: string, password: string, legacy: boolean): Promise<RoomCredentials> {
  const key = JSON.stringify([name, password, legacy]);
  let credentials = derived.get(key);
  if (credentials === undefined) {
    credentials = credentialsFromPassword(name, password, legacy);
    derived.set(key, credentials);
  }
  const { identity, salt, verifier, roomSalt, legacy: v1 } = await credentials;
  const copy: RoomCredentials = {
    identity: Buffer.from(identity),
    salt: Buffer.from(salt),
    verifier: Buffer.from(verifier),
    roomSalt: Buffer.from(roomSalt),
  };
  if (v1) copy.legacy = { salt: Buffer.from(v1.salt), verifier: Buffer.from(v1.verifier) };
  return copy;
}

/** Starts a daemon on 127.0.0.1 with an ephemeral port and the given rooms. */
export async function startDaemon(
  rooms: Record<string, string>,
  options: {
    limits?: Partial<DaemonLimits>;
    openRooms?: boolean;
    legacy?: boolean;
    behindProxy?: boolean;
    /** Where the rooms live (another daemon's store too: daemons sharing rooms in one process). */
    store?: RoomStore;
  } = {},
): Promise<TestDaemon> {
  const limits = { ...defaultDaemonLimits, rateFramesPerSecond: 0, rateBytesPerSecond: 0, ...options.limits };
  const registry = new RoomRegistry({ ...limits, openRooms: options.openRooms ?? false });
  if (options.store) registry.useStore(options.store);
  for (const [name, password] of Object.entries(rooms)) {
    registry.addStatic(name, await roomCredentials(name, password, options.legacy ?? false));
  }
  const daemon = new Daemon({
    limits,
    registry,
    logger: silentLogger,
    behindProxy: options.behindProxy ?? false,
  });
  const listener = await daemon.listen(tcpServer({ host: '127.0.0.1', port: 0 }));
  const port = listener.port!;
  return {
    daemon,
    registry,
    port,
    client: () => tcpClient({ host: '127.0.0.1', port }),
    stop: () => within(daemon.shutdown(), SESSION_MS, `the daemon on port ${port} to shut down`),
  };
}

type SessionExtra = Partial<
  Pick<
    SessionOptions,
    'create' | 'legacy' | 'reconnect' | 'transport' | 'username' | 'identitySeed' | 'trust'
  >
>;

/**
 * Opens a session to `room` on `d` (authenticated, not joined yet). It does not reconnect
 * unless `extra.reconnect` says so: most scenarios end with the daemon, and a session
 * retrying would outlive the test.
 */
export function openSession(
  d: TestDaemon,
  room: string,
  password: string,
  extra: SessionExtra = {},
): Promise<ChatSession> {
  return within(
    ChatSession.open({ transport: d.client(), room, password, reconnect: false, ...extra }),
    SESSION_MS,
    `a session to ${room} on port ${d.port}`,
  );
}

/** Opens a session (as `openSession`) and joins as `name`. */
export async function joinAs(
  d: TestDaemon,
  room: string,
  password: string,
  name: string,
  extra: Omit<SessionExtra, 'username'> = {},
): Promise<ChatSession> {
  const session = await openSession(d, room, password, { username: name, ...extra });
  await within(session.join(name), SESSION_MS, `${name} to join ${room} on port ${d.port}`).catch(
    async (err: unknown) => {
      await session.close();
      throw err;
    },
  );
  return session;
}
