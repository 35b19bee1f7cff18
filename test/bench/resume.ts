/**
 * Resume figures: a reader whose link is cut for 5 s while a sender posts 1,000 messages/s,
 * timed from its link coming back to the last message it missed handled, on one daemon
 * (`serve`) and on `serve --workers 2` with the reader brought back on the worker the sender
 * is not on (so what it missed comes through JetStream). "Missed" is what the room had logged
 * when the link came back: the sender's own echoes say so, whatever its lag behind its input.
 * Real processes: the daemon(s) from the compiled CLI, the sender a `cmd-chat connect --json
 * --follow` pipe fed 10 lines every 10 ms, the reader an in-process ChatSession behind a fault
 * proxy (it retries every ≤ 0.4 s; the proxy refuses it for the 5 s). Every run checks that
 * the reader got every line exactly once and in order: a loss, a duplicate or a gap fails the
 * bench rather than being a figure. Runnable alone: `node dist/test/bench/resume.js`;
 * `npm run bench -- resume` adds the rows.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type Socket, connect as tcpConnect } from 'node:net';
import type { ChatEvent } from '../../lib/client/events.js';
import { ChatSession } from '../../lib/client/session/session.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { natsProblem } from '../helpers/nats.js';
import { builtCli } from '../helpers/paths.js';
import { connectionsByPid } from '../helpers/sockets.js';
import { type AddRow, benchRoomSecrets, median, round, runRowsAlone, sleep } from './common.js';
import { loadNow, type ServeTree, startServe } from './serve-tree.js';

const PASSWORD = 'bench: resume after an outage';
const ROOM = 'resume';
const RATE = 1000;
const OUTAGE_MS = 5000;
const RUNS = 3;
/**
 * The resume window the daemons run with: 20 s at RATE. The default (6,000: 60 s at 100/s)
 * holds the outage but not a slow catch-up on top of it: while the reader works through the
 * backlog, new messages keep coming, and one that catches up at less than twice RATE falls
 * out of a 6 s window (it is told the exact count in a `gap`, which fails the run).
 */
const WINDOW = 20 * RATE;

interface ResumeRun {
  /** ms from the proxy accepting the reader's new link to the last missed message handled. */
  caughtUp: number;
  /** ms from the `reconnected` event (rejoined, first page handed over) to the same. */
  afterRejoin: number;
  /** Messages the room logged from the cut to the link coming back. */
  missed: number;
  /** Messages the reader handled per second while catching up. */
  rate: number;
  /** CPU of the reader's process (this one) while catching up (1.0 = one core). */
  readerBusy: number;
  /** Messages/s the daemon logged from the sender over the run (RATE unless it lagged). */
  sendRate: number;
  /** The reader came back on another daemon than the sender's (--workers only). */
  otherWorker: boolean | undefined;
}

/** The worker (index in `tree.workerPids`) serving the connection from local port `port`. */
function workerOf(tree: ServeTree, port: number): number {
  const byPid = connectionsByPid(tree.port, tree.workerPids);
  return tree.workerPids.findIndex((pid) => byPid.get(pid)?.includes(port));
}

/** Ports of the connections each worker serves. */
function workerConnections(tree: ServeTree): number[][] {
  const byPid = connectionsByPid(tree.port, tree.workerPids);
  return tree.workerPids.map((pid) => byPid.get(pid) ?? []);
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * With two workers taking connections in turn: idle connections until one lands on the
 * sender's worker, so the next one (the reader's) goes to the other. They are closed later.
 */
async function steerToOtherWorker(tree: ServeTree, senderWorker: number): Promise<Socket[]> {
  const dummies: Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = await openSocket(tree.port);
    dummies.push(s);
    let w = -1;
    for (let tries = 0; tries < 50 && w === -1; tries++) {
      w = workerOf(tree, s.localPort!);
      if (w === -1) await sleep(10);
    }
    if (w === senderWorker) break;
  }
  return dummies;
}

async function resumeRun(tree: ServeTree, run: number, log: (text: string) => void): Promise<ResumeRun> {
  const proxy = await FaultProxy.start(tree.port);
  const reader = await ChatSession.open({
    transport: tcpClient({ host: '127.0.0.1', port: proxy.port }),
    room: ROOM,
    password: PASSWORD,
    username: `reader${run}`,
    reconnect: { initialDelayMs: 100, maxDelayMs: 400, maxAttempts: 0 },
  });
  await reader.join(`reader${run}`);
  const received: number[] = [];
  const at = new Map<number, number>();
  let reconnectedAt = 0;
  let gaps = 0;
  const prefix = `r${run} `;
  reader.on('event', (e: ChatEvent) => {
    if (e.type === 'reconnected') reconnectedAt = performance.now();
    if (e.type === 'gap') gaps += e.lost + e.wiped;
    if (e.type !== 'message' || !e.body.startsWith(prefix)) return;
    const i = Number(e.body.slice(prefix.length));
    received.push(i);
    if (!at.has(i)) at.set(i, performance.now());
  });

  // The sender prints its own messages as the daemon echoes them (logged): what the room
  // holds at any moment, whatever the sender's own lag behind its input.
  const sender: ChildProcess = spawn(
    process.execPath,
    [
      builtCli,
      'connect',
      '127.0.0.1',
      String(tree.port),
      `sender${run}`,
      '--room',
      ROOM,
      '--json',
      '--follow',
    ],
    { env: { ...process.env, CMD_CHAT_PASSWORD: PASSWORD }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let senderErr = '';
  sender.stderr!.setEncoding('utf8').on('data', (d: string) => {
    senderErr = (senderErr + d).slice(-4000);
  });
  /** Highest line the daemon echoed to the sender, and when the first one came. */
  let echoed = 0;
  let firstEchoAt = 0;
  let partial = '';
  sender.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const e = JSON.parse(line) as { type?: string; mine?: boolean; text?: string };
      if (e.type !== 'message' || !e.mine || !e.text?.startsWith(prefix)) continue;
      echoed = Math.max(echoed, Number(e.text.slice(prefix.length)));
      firstEchoAt ||= performance.now();
    }
  });
  // Fed in 10 ms slices at RATE; `fed` lines written so far.
  let fed = 0;
  let feeding = true;
  const start = performance.now();
  const feeder = setInterval(() => {
    if (!feeding) return;
    const due = Math.floor(((performance.now() - start) * RATE) / 1000);
    let chunk = '';
    while (fed < due) chunk += `${prefix}${++fed}\n`;
    if (chunk) sender.stdin!.write(chunk);
  }, 10);
  const dummies: Socket[] = [];
  try {
    // The sender is joined and flowing once the reader hears it; then a second of steady state.
    const joinBy = performance.now() + 30_000;
    while (received.length === 0 || echoed === 0) {
      if (performance.now() > joinBy) throw new Error(`the sender never reached the reader: ${senderErr}`);
      await sleep(20);
    }
    await sleep(1000);
    let senderWorker = -1;
    if (tree.workerPids.length > 1) {
      // Only the sender is connected straight to the daemons: its worker is the one with a link.
      const upstream = [...proxy.links].map((l) => l.upstream.localPort);
      senderWorker = workerConnections(tree).findIndex((ports) => ports.some((p) => !upstream.includes(p)));
    }
    proxy.refuse(true);
    proxy.cut();
    const cutAt = echoed;
    await sleep(OUTAGE_MS);
    if (senderWorker !== -1) dummies.push(...(await steerToOtherWorker(tree, senderWorker)));
    proxy.refuse(false);
    const linkBy = performance.now() + 10_000;
    while (proxy.links.size === 0) {
      if (performance.now() > linkBy) throw new Error('the reader did not come back');
      await new Promise((resolve) => setImmediate(resolve));
    }
    const backAt = performance.now();
    const cpu0 = process.cpuUsage();
    const handled0 = received.length;
    // Everything the room had logged when the link came back is what the reader must catch up on.
    const lastMissed = echoed;
    const link = [...proxy.links][0]!;
    const caughtBy = performance.now() + 60_000;
    while (!at.has(lastMissed)) {
      if (performance.now() > caughtBy) throw new Error(`the reader did not catch up to ${lastMissed}`);
      await sleep(1);
    }
    const caughtAt = at.get(lastMissed)!;
    const cpu = process.cpuUsage(cpu0);
    const catchUpMs = performance.now() - backAt;
    const readerBusy = (cpu.user + cpu.system) / 1000 / catchUpMs;
    const rate = ((received.length - handled0) * 1000) / catchUpMs;
    const otherWorker =
      senderWorker === -1 ? undefined : workerOf(tree, link.upstream.localPort!) !== senderWorker;
    // One more second live, then the sender ends (its pipe waits until every line is delivered).
    await sleep(1000);
    feeding = false;
    clearInterval(feeder);
    const sendRate = ((echoed - 1) * 1000) / (performance.now() - firstEchoAt);
    const allBy = performance.now() + 60_000;
    while ((echoed < fed || !at.has(fed)) && performance.now() < allBy) await sleep(10);
    if (echoed < fed)
      throw new Error(`the sender's line ${echoed + 1} of ${fed} was never logged: ${senderErr}`);
    await sleep(200); // anything duplicated after the last line
    const lost = fed - at.size;
    const duplicated = received.length - at.size;
    const disordered = received.some((v, i) => i > 0 && v < received[i - 1]!);
    if (lost > 0 || duplicated > 0 || disordered || gaps > 0) {
      throw new Error(
        `resume run ${run}: ${lost} of ${fed} lost, ${duplicated} duplicated, ` +
          `${disordered ? 'out of order, ' : ''}gap events counting ${gaps}`,
      );
    }
    log(
      `resume run ${run}: ${lastMissed - cutAt} missed (sent at ${Math.round(sendRate)}/s), caught up ${Math.round(caughtAt - backAt)} ms after the link came back` +
        (otherWorker === undefined
          ? ''
          : otherWorker
            ? ' (reader on the other worker)'
            : ' (reader on the same worker)'),
    );
    return {
      caughtUp: caughtAt - backAt,
      afterRejoin: caughtAt - reconnectedAt,
      missed: lastMissed - cutAt,
      rate,
      readerBusy,
      sendRate,
      otherWorker,
    };
  } finally {
    clearInterval(feeder);
    for (const s of dummies) s.destroy();
    if (sender.exitCode === null) sender.kill('SIGTERM');
    await reader.close();
    await proxy.stop();
  }
}

export async function resumeRows(add: AddRow, log: (text: string) => void): Promise<void> {
  const { rooms } = await benchRoomSecrets(PASSWORD, [ROOM]);
  const roomsFile = rooms
    .map(({ name, salt, verifier }) => JSON.stringify({ room: name, salt, verifier }))
    .join('\n');
  const trees: Array<{ label: string; args: string[] }> = [{ label: '1 daemon (serve)', args: [] }];
  const problem = process.platform !== 'linux' ? 'needs Linux (/proc)' : natsProblem();
  if (problem) log(`resume rows for --workers 2 skipped: ${problem}`);
  else trees.push({ label: 'serve --workers 2, reader on the other worker', args: ['--workers', '2'] });
  for (const { label, args } of trees) {
    log(`resume: ${OUTAGE_MS / 1000} s outage at ${RATE} msg/s, ${label}`);
    const tree = await startServe(roomsFile, [...args, '--resume-window', String(WINDOW)]);
    const runs: ResumeRun[] = [];
    const loadBefore = loadNow();
    try {
      for (let run = 0; run < RUNS; run++) runs.push(await resumeRun(tree, run, log));
    } finally {
      await tree.stop();
    }
    const loadAfter = loadNow();
    const counted = runs.filter((r) => r.otherWorker !== false);
    if (counted.length < runs.length)
      log(`${runs.length - counted.length} run(s) left out: reader on the sender's worker`);
    if (counted.length === 0) throw new Error('the reader never came back on the other worker');
    add(
      `resume after a ${OUTAGE_MS / 1000} s outage at ${RATE} msg/s, ${label}: link back → caught up`,
      round(median(counted.map((r) => r.caughtUp)), 0),
      'ms',
    );
    add('  rejoined (`reconnected`) → caught up', round(median(counted.map((r) => r.afterRejoin)), 0), 'ms');
    add(
      '  sender rate the daemon logged (fed at 1,000/s)',
      Math.round(median(counted.map((r) => r.sendRate))),
      '/s',
    );
    add('  messages missed per outage', Math.round(median(counted.map((r) => r.missed))), 'msgs');
    add(
      '  messages handled/s by the reader while catching up',
      Math.round(median(counted.map((r) => r.rate))),
      '/s',
    );
    add(
      '  reader process CPU busy meanwhile (1.0 = one core)',
      round(median(counted.map((r) => r.readerBusy)), 2),
      'cores',
    );
    add('  machine load average (1 min) before / after these runs', loadBefore, `/ ${loadAfter}`);
    add(
      `  messages lost, duplicated or out of order (${counted.length} runs; any fails the bench)`,
      0,
      'msgs',
      '≤ 0',
    );
  }
}

runRowsAlone(import.meta.url, resumeRows);
