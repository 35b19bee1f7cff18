/**
 * Resume figures: a reader whose link is cut for 5 s while a sender posts 1,000 messages/s,
 * timed from its link coming back to the last message it missed handled, on one daemon
 * (`serve`) and on `serve --workers 2` with the reader brought back on the worker the sender
 * is not on (so what it missed comes through JetStream). Real processes: the daemon(s) from
 * the compiled CLI, the sender a `cmd-chat connect` pipe fed 10 lines every 10 ms, the reader
 * an in-process ChatSession behind a fault proxy (it retries every ≤ 0.4 s; the proxy refuses
 * it for the 5 s). Every run checks that the reader got every line exactly once and in
 * order: a loss, a duplicate or a gap fails the bench rather than being a figure. Runnable
 * alone: `node dist/test/bench/resume.js`; `npm run bench -- resume` adds the rows.
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
import { type ServeTree, startServe } from './serve-tree.js';

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
  /** Messages sent from the cut to the link coming back. */
  missed: number;
  /** Messages the reader handled per second while catching up. */
  rate: number;
  /** CPU of the reader's process (this one) while catching up (1.0 = one core). */
  readerBusy: number;
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

  const sender: ChildProcess = spawn(
    process.execPath,
    [builtCli, 'connect', '127.0.0.1', String(tree.port), `sender${run}`, '--room', ROOM],
    { env: { ...process.env, CMD_CHAT_PASSWORD: PASSWORD }, stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let senderErr = '';
  sender.stderr!.setEncoding('utf8').on('data', (d: string) => {
    senderErr = (senderErr + d).slice(-4000);
  });
  const senderExit = new Promise<number | null>((resolve) => sender.once('exit', (code) => resolve(code)));
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
    while (received.length === 0) {
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
    const cutAt = fed;
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
    const lastMissed = fed;
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
    sender.stdin!.end();
    const allBy = performance.now() + 60_000;
    while (!at.has(fed) && performance.now() < allBy) await sleep(10);
    const code = await Promise.race([senderExit, sleep(60_000).then(() => 'no exit within 60 s' as const)]);
    if (code !== 0) {
      throw new Error(`the sender ended with ${code} (the reader had ${at.size} of ${fed}): ${senderErr}`);
    }
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
      `resume run ${run}: ${lastMissed - cutAt} missed, caught up ${Math.round(caughtAt - backAt)} ms after the link came back` +
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
      otherWorker,
    };
  } finally {
    clearInterval(feeder);
    for (const s of dummies) s.destroy();
    if (sender.exitCode === null) sender.kill('SIGKILL');
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
    try {
      for (let run = 0; run < RUNS; run++) runs.push(await resumeRun(tree, run, log));
    } finally {
      await tree.stop();
    }
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
    add(
      `  messages lost, duplicated or out of order (${counted.length} runs; any fails the bench)`,
      0,
      'msgs',
      '≤ 0',
    );
  }
}

runRowsAlone(import.meta.url, resumeRows);
