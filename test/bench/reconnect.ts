/**
 * Reconnect figures: the time from a restarted daemon accepting again (same port, same room
 * configuration, so the same salts: no key derivation) to a client rejoined under its name,
 * and messages lost and duplicated in the daemon's history across five forced cuts of the
 * links of a sender and a reader (fault proxy). Runnable alone:
 * `node dist/test/bench/reconnect.js`; `npm run bench` adds the rows.
 */
import { fileURLToPath } from 'node:url';
import type { ChatEvent } from '../../lib/client/events.js';
import { ChatSession } from '../../lib/client/session.js';
import { openEnvelope } from '../../lib/crypto/envelope.js';
import { defaultDaemonLimits } from '../../lib/protocol/limits.js';
import { Daemon } from '../../lib/server/daemon.js';
import { credentialsFromPassword, RoomRegistry } from '../../lib/server/rooms.js';
import { tcpClient, tcpServer } from '../../lib/transport/tcp.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { rawAuthenticated } from '../helpers/raw-client.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { median, round, sleep } from './common.js';

type AddRow = (name: string, value: number, unit: string, target?: string) => void;

const PASSWORD = 'bench: reconnect';
const RUNS = 5;
const MESSAGES = 3000;

async function daemonOn(port: number, history = 50): Promise<{ daemon: Daemon; port: number }> {
  const limits = {
    ...defaultDaemonLimits,
    rateFramesPerSecond: 0,
    rateBytesPerSecond: 0,
    roomRateBytesPerSecond: 0,
    joinRatePerSource: 0,
    handshakeRatePerSource: 0,
    historySize: history,
    historyBytes: 8 * 1024 * 1024,
    maxQueueBytes: 64 * 1024 * 1024,
  };
  const registry = new RoomRegistry({ ...limits, openRooms: false });
  registry.addStatic('chat', await credentialsFromPassword('chat', PASSWORD));
  const daemon = new Daemon({ limits, registry, logger: silentLogger });
  const listener = await daemon.listen(tcpServer({ host: '127.0.0.1', port }));
  return { daemon, port: listener.port! };
}

function next(session: ChatSession, type: ChatEvent['type']): Promise<ChatEvent> {
  return new Promise((resolve) => {
    const on = (e: ChatEvent): void => {
      if (e.type !== type) return;
      session.off('event', on);
      resolve(e);
    };
    session.on('event', on);
  });
}

/** Milliseconds from the restarted daemon listening to the client's `reconnected`. */
async function rejoinAfterRestart(): Promise<number> {
  let { daemon, port } = await daemonOn(0);
  const session = await ChatSession.open({
    transport: tcpClient({ host: '127.0.0.1', port }),
    room: 'chat',
    password: PASSWORD,
    username: 'rejoiner',
  });
  await session.join('rejoiner');
  session.on('event', () => {});
  try {
    const lost = next(session, 'disconnected');
    await daemon.shutdown();
    await lost;
    const back = next(session, 'reconnected');
    ({ daemon } = await daemonOn(port));
    const accepting = performance.now();
    await back;
    return performance.now() - accepting;
  } finally {
    await session.close();
    await daemon.shutdown();
  }
}

/** Lost and duplicated messages in the history after five cuts of both members' links. */
async function cutsRun(): Promise<{ lost: number; duplicated: number; reconnects: number }> {
  const { daemon, port } = await daemonOn(0, MESSAGES * 2);
  const proxy = await FaultProxy.start(port);
  const open = async (name: string): Promise<ChatSession> => {
    const s = await ChatSession.open({
      transport: tcpClient({ host: '127.0.0.1', port: proxy.port }),
      room: 'chat',
      password: PASSWORD,
      username: name,
      reconnect: { initialDelayMs: 100, maxDelayMs: 400, maxAttempts: 0 },
      maxQueuedLines: MESSAGES,
    });
    await s.join(name);
    return s;
  };
  const sender = await open('sender');
  const reader = await open('reader');
  let reconnects = 0;
  let received = 0;
  reader.on('event', (e) => {
    if (e.type === 'reconnected') reconnects++;
    if (e.type === 'message' && e.username === 'sender') received++;
  });
  sender.on('event', () => {});
  try {
    for (let i = 1; i <= MESSAGES; i++) {
      sender.send(`m ${i}`);
      if (!sender.writable) await sender.waitWritable();
      if (i % Math.floor(MESSAGES / 6) === 0 && i < MESSAGES) proxy.cut();
    }
    await sender.waitForEchoes();
    const deadline = Date.now() + 30_000;
    while (received < MESSAGES && Date.now() < deadline) await sleep(20);
    const raw = await rawAuthenticated(port, 'chat', PASSWORD);
    const init = await raw.join('auditor');
    const bodies = (init.messages as Array<{ text: string }>).map(
      (m) => openEnvelope(raw.fernet!, m.text).body,
    );
    raw.destroy();
    const distinct = new Set(bodies);
    return { lost: MESSAGES - distinct.size, duplicated: bodies.length - distinct.size, reconnects };
  } finally {
    await sender.close();
    await reader.close();
    await proxy.stop();
    await daemon.shutdown();
  }
}

export async function reconnectRows(add: AddRow, log: (text: string) => void): Promise<void> {
  log('reconnect: daemon restarted on the same port, then five cuts under a sender and a reader');
  const rejoin: number[] = [];
  for (let i = 0; i < RUNS; i++) rejoin.push(await rejoinAfterRestart());
  add('reconnect: daemon accepting again → client rejoined', round(median(rejoin), 0), 'ms', '≤ 1000');
  let lost = 0;
  let duplicated = 0;
  let reconnects = 0;
  for (let i = 0; i < 3; i++) {
    const r = await cutsRun();
    lost += r.lost;
    duplicated += r.duplicated;
    reconnects += r.reconnects;
  }
  add(`  messages lost, 5 cuts × 3 runs of ${MESSAGES} (history)`, lost, 'msgs', '≤ 0');
  add('  messages duplicated, same runs (history)', duplicated, 'msgs', '≤ 0');
  add('  reader reconnects in those runs', reconnects, 'count');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows: string[] = [];
  await reconnectRows(
    (name, value, unit, target) =>
      rows.push(`${name}  ${value} ${unit}${target ? `  (target ${target})` : ''}`),
    (text) => process.stderr.write(`${text}\n`),
  );
  process.stdout.write(`${rows.join('\n')}\n`);
  process.exit(0);
}
