/**
 * Test helpers for clusters: a real nats-server with a password, daemons started from the
 * compiled CLI with `serve --cluster` (secrets through the environment, as documented), and
 * in-process sessions that join any of them and record their events.
 */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { ChatSession } from '../../lib/client/session/session.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { within } from './deadline.js';
import { EventLog } from './events.js';
import { type NatsServer, skipWithoutNats, startNatsServer } from './nats.js';
import { type DaemonProcess, startDaemonProcess } from './processes.js';
import { waitFor } from './raw-client.js';

export { skipWithoutNats } from './nats.js';

export const NATS_USER = 'daemons';
/** How long a member may take to open its session, or to join, before the test fails. */
const JOIN_MS = 30_000;

export interface TestCluster {
  nats: NatsServer;
  daemons: DaemonProcess[];
  /** The environment every daemon of this cluster gets (secret, NATS password). */
  env: NodeJS.ProcessEnv;
  /** Starts one more daemon of the cluster (with other room arguments, more environment if given). */
  addDaemon(roomArgs?: string[], extraEnv?: NodeJS.ProcessEnv): Promise<DaemonProcess>;
  stop(): Promise<void>;
}

/**
 * A nats-server (or `shared`, left running) and `count` daemons sharing rooms through it
 * (their own cluster secret), each started with `args`
 * (rooms, --open-rooms, ...), JetStream on memory storage. A heartbeat of 0.2 s (unless args
 * say otherwise: leases of 0.6 s) keeps failure detection short.
 */
export async function startCluster(
  count: number,
  args: string[],
  shared?: ClusterNats,
): Promise<TestCluster> {
  const { nats, password } = shared ?? (await startClusterNats());
  const env: NodeJS.ProcessEnv = {
    CMD_CHAT_CLUSTER_SECRET: randomBytes(32).toString('base64'),
    CMD_CHAT_NATS_PASSWORD: password,
  };
  const daemons: DaemonProcess[] = [];
  const addDaemon = async (
    roomArgs: string[] = args,
    extraEnv: NodeJS.ProcessEnv = {},
  ): Promise<DaemonProcess> => {
    const d = await startDaemonProcess(
      [
        '--cluster',
        nats.url,
        '--nats-user',
        NATS_USER,
        ...(roomArgs.includes('--cluster-heartbeat') ? [] : ['--cluster-heartbeat', '0.2']),
        ...roomArgs,
      ],
      { ...env, ...extraEnv },
    );
    daemons.push(d);
    return d;
  };
  try {
    for (let i = 0; i < count; i++) await addDaemon();
  } catch (err) {
    // What did start is stopped: left running, it would outlive the test.
    await Promise.all(daemons.map((d) => d.stop('SIGKILL').catch(() => null)));
    if (!shared) await nats.stop();
    throw err;
  }
  return {
    nats,
    daemons,
    env,
    addDaemon,
    stop: async () => {
      await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
      if (!shared) await nats.stop();
    },
  };
}

/** A nats-server for clusters (JetStream on memory, a password), to share among a file's tests. */
export interface ClusterNats {
  nats: NatsServer;
  password: string;
}

export async function startClusterNats(): Promise<ClusterNats> {
  const password = randomBytes(12).toString('hex');
  const nats = await startNatsServer({
    jetstream: true,
    config: `authorization { user: ${NATS_USER}, password: "${password}" }`,
  });
  return { nats, password };
}

/**
 * `startCluster` for one test: undefined when the test is skipped (no nats-server), and
 * stopped (daemons killed, nats-server stopped) when the test ends.
 */
export async function clusterForTest(
  t: TestContext,
  count: number,
  args: string[],
): Promise<TestCluster | undefined> {
  if (skipWithoutNats(t)) return undefined;
  const cluster = await startCluster(count, args);
  t.after(() => cluster.stop());
  return cluster;
}

export interface Member {
  session: ChatSession;
  log: EventLog;
  name: string;
  /** What the room's history held when it joined (bodies, oldest first). */
  history: string[];
}

/** Opens a session on `daemon` and joins `room` as `name` (`create`: open rooms). */
export async function member(
  daemon: DaemonProcess,
  room: string,
  password: string,
  name: string,
  create = false,
): Promise<Member> {
  const what = `${name} to join ${room} on port ${daemon.port}`;
  const session = await within(
    ChatSession.open({
      reconnect: false,
      transport: tcpClient({ host: '127.0.0.1', port: daemon.port }),
      room,
      password,
      username: name,
      create,
    }),
    JOIN_MS,
    what,
  );
  const log = new EventLog(session);
  const joined = await within(session.join(name), JOIN_MS, what).catch(async (err: unknown) => {
    await session.close();
    throw err;
  });
  return { session, log, name, history: joined.map((m) => m.body) };
}

/** The names in `m`'s member list, sorted. */
export function memberNames(m: Member): string[] {
  return m.session
    .memberList()
    .map((x) => x.username)
    .sort();
}

/** Waits until every one of `members` lists `count` members. */
export async function waitForPresence(members: Member[], count: number, timeoutMs?: number): Promise<void> {
  for (const m of members) {
    await waitFor(
      () => m.session.memberList().length === count,
      `${m.name} sees ${count} members`,
      timeoutMs,
    );
  }
}
