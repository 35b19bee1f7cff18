/**
 * Reconnect figures: the time from a restarted daemon accepting again (same port, same room
 * configuration, so the same salts: no key derivation) to a client rejoined under its name,
 * and messages lost and duplicated, in the daemon's history and at a reader, across five
 * forced cuts of the links of a sender and a reader (fault proxy; each cut waits until both
 * have rejoined, so every cut hits a live link). Runnable alone:
 * `node dist/test/bench/reconnect.js`; `npm run bench` adds the rows.
 */
import type { ChatEvent } from '../../lib/client/events.js';
import { ChatSession } from '../../lib/client/session/session.js';
import { openEnvelope } from '../../lib/crypto/envelope.js';
import { defaultDaemonLimits } from '../../lib/protocol/limits.js';
import { Daemon } from '../../lib/server/daemon.js';
import { credentialsFromPassword, RoomRegistry } from '../../lib/server/rooms.js';
import { tcpClient, tcpServer } from '../../lib/transport/tcp.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { rawAuthenticated } from '../helpers/raw-client.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { type AddRow, median, round, runRowsAlone, sleep } from './common.js';

const PASSWORD = 'bench: reconnect';
const RUNS = 5;
const MESSAGES = 3000;
const CUTS = 5;

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

interface CutsResult {
  /** In the daemon's history (what a late joiner sees). */
  lost: number;
  duplicated: number;
  /** At the reader, which lived through the same cuts. */
  readerLost: number;
  readerDuplicated: number;
  reconnects: number;
}

/** Lost and duplicated messages after five cuts of both members' links. */
async function cutsRun(): Promise<CutsResult> {
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
  const received: string[] = [];
  reader.on('event', (e) => {
    if (e.type === 'reconnected') reconnects++;
    if (e.type === 'message' && e.username === 'sender') received.push(e.body);
  });
  sender.on('event', () => {});
  try {
    const every = Math.floor(MESSAGES / (CUTS + 1));
    for (let i = 1; i <= MESSAGES; i++) {
      sender.send(`m ${i}`);
      if (!sender.writable) await sender.waitWritable();
      if (i % every === 0 && i / every <= CUTS) {
        const back = Promise.all([next(sender, 'reconnected'), next(reader, 'reconnected')]);
        proxy.cut();
        await back;
      }
    }
    await sender.waitForEchoes();
    const deadline = Date.now() + 30_000;
    while (new Set(received).size < MESSAGES && Date.now() < deadline) await sleep(20);
    const raw = await rawAuthenticated(port, 'chat', PASSWORD);
    const init = await raw.join('auditor');
    const bodies = (init.messages as Array<{ text: string }>).map(
      (m) => openEnvelope(raw.fernet!, m.text).body,
    );
    raw.destroy();
    const distinct = new Set(bodies);
    const seen = new Set(received);
    return {
      lost: MESSAGES - distinct.size,
      duplicated: bodies.length - distinct.size,
      readerLost: MESSAGES - seen.size,
      readerDuplicated: received.length - seen.size,
      reconnects,
    };
  } finally {
    await sender.close();
    await reader.close();
    await proxy.stop();
    await daemon.shutdown();
  }
}

export async function reconnectRows(add: AddRow, log: (text: string) => void): Promise<void> {
  log(`reconnect: daemon restarted on the same port, then ${CUTS} cuts under a sender and a reader`);
  const rejoin: number[] = [];
  for (let i = 0; i < RUNS; i++) rejoin.push(await rejoinAfterRestart());
  add('reconnect: daemon accepting again → client rejoined', round(median(rejoin), 0), 'ms', '≤ 1000');
  const total: CutsResult = { lost: 0, duplicated: 0, readerLost: 0, readerDuplicated: 0, reconnects: 0 };
  for (let i = 0; i < 3; i++) {
    const r = await cutsRun();
    for (const k of Object.keys(total) as Array<keyof CutsResult>) total[k] += r[k];
  }
  add(`  messages lost, ${CUTS} cuts × 3 runs of ${MESSAGES} (history)`, total.lost, 'msgs', '≤ 0');
  add('  messages duplicated, same runs (history)', total.duplicated, 'msgs', '≤ 0');
  add('  messages lost at the reader, same runs', total.readerLost, 'msgs', '≤ 0');
  add('  messages shown twice at the reader, same runs', total.readerDuplicated, 'msgs', '≤ 0');
  add('  reader reconnects in those runs', total.reconnects, 'count');
}

runRowsAlone(import.meta.url, reconnectRows);
