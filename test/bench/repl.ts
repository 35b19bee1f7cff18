/**
 * REPL figures, with the compiled CLI in a real pseudo-terminal (node-pty) against a real
 * daemon process and a pipe-mode process flooding the room:
 * - keystroke-to-echo latency while 1,000 messages a second arrive: each keystroke is a
 *   character never typed before, timed from the write to the pty until the terminal output
 *   carries it (its echo, or a redraw of the line that includes it);
 * - the REPL's resident memory (VmRSS, Linux) after 10,000 and after 100,000 messages,
 *   every one rendered: what it keeps is bounded (scrollback.ts), so the two are close.
 * The latency is measured twice: as the machine is, then busy (beside one CPU-bound process
 * per core, each in a session of its own, started and stopped here), with the load average,
 * and each process's CPU and wait for a CPU (/proc/PID/schedstat), in the log.
 * Runnable alone: `node dist/test/bench/repl.js [--only latency|memory]`; `npm run bench`
 * adds the rows.
 */
import {
  type ChildProcess,
  type ChildProcessWithoutNullStreams,
  spawn as spawnProcess,
} from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type IPty, spawn } from '@lydell/node-pty';
import { builtCli } from '../helpers/paths.js';
import { type DaemonProcess, NO_PACING_FLAGS, spawnCli, startDaemonProcess } from '../helpers/processes.js';
import { median, percentile, round, sleep } from './common.js';

type AddRow = (name: string, value: number, unit: string, target?: string) => void;

const PASSWORD = 'bench-repl';
const FLOOD_RATE = 1000;
const KEYSTROKES = 300;
const KEY_INTERVAL_MS = 20;
const RSS_MESSAGES = 100_000;

/** The daemon without pacing (the flood is paced by the flooder) and with room to queue. */
function daemonArgs(): string[] {
  return [
    '--password',
    PASSWORD,
    ...NO_PACING_FLAGS,
    '--max-queue',
    String(256 * 1024 * 1024),
    '--room-burst-bytes',
    String(64 * 1024 * 1024),
    '--slow-grace',
    '120',
    '--history',
    '0',
  ];
}

interface Repl {
  pty: IPty;
  /** Bytes of terminal output seen so far. */
  bytes(): number;
  /** Resolves once the output contains `text` (searched in what arrives from now on). */
  waitFor(text: string, timeoutMs: number): Promise<void>;
  onData(listener: (data: string) => void): void;
}

function startRepl(port: number, name: string): Repl {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, {
    TERM: 'xterm-256color',
    NO_COLOR: '1',
    CMD_CHAT_PASSWORD: PASSWORD,
    PATH: '/nonexistent',
  });
  const pty = spawn(process.execPath, [builtCli, 'connect', '127.0.0.1', String(port), name], {
    name: 'xterm-256color',
    cols: 120,
    rows: 35,
    env,
  });
  let bytes = 0;
  let tail = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const listeners: Array<(d: string) => void> = [];
  pty.onData((d) => {
    bytes += d.length;
    const window = tail + d;
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (window.includes(waiters[i]!.text)) {
        waiters[i]!.resolve();
        waiters.splice(i, 1);
      }
    }
    tail = window.slice(-200);
    for (const l of listeners) l(d);
  });
  return {
    pty,
    bytes: () => bytes,
    waitFor: (text, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`REPL: no "${text}" within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          text,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      }),
    onData: (l) => listeners.push(l),
  };
}

/** A pipe-mode member whose stdin we feed; returns it and a paced writer. */
/** `name`: each run its own, as a member that just left keeps its name for a while. */
function startFlooder(port: number, name: string): ChildProcessWithoutNullStreams {
  return spawnCli(['connect', '127.0.0.1', String(port), name], { CMD_CHAT_PASSWORD: PASSWORD })
    .proc as ChildProcessWithoutNullStreams;
}

/** Writes `count` lines at `rate` per second (in 10 ms slices); resolves when all are written. */
async function paced(
  flooder: ChildProcessWithoutNullStreams,
  from: number,
  count: number,
  rate: number,
): Promise<void> {
  const t0 = performance.now();
  let written = 0;
  while (written < count) {
    const due = Math.min(count, Math.floor(((performance.now() - t0) / 1000) * rate));
    let batch = '';
    for (; written < due; written++) batch += `flood line ${from + written} of the bench\n`;
    if (batch && !flooder.stdin.write(batch)) await new Promise((r) => flooder.stdin.once('drain', r));
    await sleep(10);
  }
}

/** CPU time (user + system) a process has used, in ms, from /proc (Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime, fields 14 and 15 of stat(5), in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * The main thread's scheduler figures (Linux, /proc/PID/schedstat): ns on a CPU, ns waiting
 * runnable in a run queue, and the number of times it was given a CPU.
 */
function schedstat(pid: number): [number, number, number] {
  const [run, wait, slices] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
  return [run ?? 0, wait ?? 0, slices ?? 0];
}

/**
 * Where each process of the run spent the keystroke phase: CPU used (cores, whole process)
 * and how long its main thread waited runnable for a CPU (a share of the phase, and per
 * time it was given one). A keystroke is echoed only once the client's main thread runs.
 */
function schedWatch(procs: Record<string, number>): () => string {
  const t0 = performance.now();
  const start = Object.entries(procs).map(([name, pid]) => ({
    name,
    pid,
    cpu: cpuMs(pid),
    sched: schedstat(pid),
  }));
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    return start
      .map(({ name, pid, cpu, sched }) => {
        const [run, wait, slices] = schedstat(pid);
        const cores = (cpuMs(pid) - cpu) / 1000 / seconds;
        const waitShare = (wait - sched[1]) / 1e9 / seconds;
        const perSlice = (wait - sched[1]) / 1e6 / Math.max(1, slices - sched[2]);
        const runShare = (run - sched[0]) / 1e9 / seconds;
        return `${name} ${cores.toFixed(2)} cores (main thread ${runShare.toFixed(2)}), waited for a CPU ${(waitShare * 100).toFixed(0)} % of the time, ${perSlice.toFixed(2)} ms a wake`;
      })
      .join('; ');
  };
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return round(kb / 1024, 1);
}

/**
 * One CPU-bound process per core, so the client competes for the CPU; stopped by the caller.
 * Each in a session of its own, as a job started from another terminal would be: Linux puts
 * every session in a scheduling group of its own (autogroup), so busy processes in the bench's
 * session would take the CPU from the bench's group (the flooder, the daemon and this process,
 * which times the echoes) rather than from the client, which node-pty starts in its own
 * session. BENCH_BURN=session keeps them in the bench's session (the figures before
 * 2026-12-07 13:00).
 */
const BURN =
  'const p = Number(process.argv[1]); for (let i = 1; ; i++) if (i % 1e7 === 0 && process.ppid !== p) break;';

function burnCores(): ChildProcess[] {
  const detached = process.env.BENCH_BURN !== 'session';
  return Array.from({ length: availableParallelism() }, () =>
    // It stops by itself once the bench is gone (a detached process outlives a crash).
    spawnProcess(process.execPath, ['-e', BURN, String(process.pid)], { stdio: 'ignore', detached }),
  );
}

const loadAverage = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function keystrokeLatency(
  daemon: DaemonProcess,
  add: AddRow,
  log: (t: string) => void,
  busy: boolean,
): Promise<void> {
  const burners = busy ? burnCores() : [];
  try {
    log(
      `REPL: ${busy ? `busy (one CPU-bound process per core${process.env.BENCH_BURN === 'session' ? ", in the bench's session" : ''})` : 'as the machine is'}, load average ${loadAverage()}`,
    );
    await timedKeystrokes(daemon, add, log, busy ? ' (busy)' : '');
    log(`REPL: load average after ${loadAverage()}`);
  } finally {
    for (const burner of burners) burner.kill();
  }
}

async function timedKeystrokes(
  daemon: DaemonProcess,
  add: AddRow,
  log: (t: string) => void,
  label: string,
): Promise<void> {
  const run = label ? 'busy' : 'quiet';
  const repl = startRepl(daemon.port, `typist_${run}`);
  await repl.waitFor(`typist_${run}> `, 30_000);
  const flooder = startFlooder(daemon.port, `flood_${run}`);
  let seen = 0;
  repl.onData((d) => {
    seen += d.split('flood line').length - 1;
  });
  // The flood starts once the flooder has joined (no backlog from its start-up), then runs
  // a second before the first keystroke.
  const joined = repl.waitFor('flood line -1 of', 30_000);
  flooder.stdin.write('flood line -1 of the bench\n');
  await joined;
  const floodSeconds = (KEYSTROKES * KEY_INTERVAL_MS) / 1000 + 3;
  const flooding = paced(flooder, 0, FLOOD_RATE * floodSeconds, FLOOD_RATE);
  await sleep(1000);
  const pending = new Map<string, number>();
  const latencies: number[] = [];
  repl.onData((d) => {
    if (pending.size === 0) return;
    const now = performance.now();
    for (const [ch, t0] of pending) {
      if (d.includes(ch)) {
        latencies.push(now - t0);
        pending.delete(ch);
      }
    }
  });
  const seenAtStart = seen;
  const cpuAtStart = cpuMs(repl.pty.pid);
  const sched = schedWatch({
    client: repl.pty.pid,
    daemon: daemon.proc.pid ?? 0,
    flooder: flooder.pid ?? 0,
    bench: process.pid,
  });
  const t0 = performance.now();
  for (let i = 0; i < KEYSTROKES; i++) {
    if (i % 40 === 39) repl.pty.write('\x15'); // Ctrl-U: keep the line short
    const ch = String.fromCodePoint(0x4e00 + i); // CJK, never in the flood's text
    pending.set(ch, performance.now());
    repl.pty.write(ch);
    await sleep(KEY_INTERVAL_MS);
  }
  await sleep(500);
  const shownRate = (seen - seenAtStart) / ((performance.now() - t0) / 1000);
  const cpuPerMessage = (cpuMs(repl.pty.pid) - cpuAtStart) / Math.max(1, seen - seenAtStart);
  log(`REPL: ${sched()}`);
  await flooding;
  flooder.stdin.end();
  repl.pty.kill();
  flooder.kill();
  if (pending.size > 0) log(`REPL: ${pending.size} keystrokes never echoed`);
  log(`REPL: ${latencies.length} keystrokes timed while ${Math.round(shownRate)} messages/s were shown`);
  add(
    `REPL keystroke → echo under a ${FLOOD_RATE} msg/s flood (real pty)${label}, p50`,
    round(median(latencies), 1),
    'ms',
  );
  add('  … p99', round(percentile(latencies, 99), 1), 'ms', '≤ 50');
  add('  … messages shown per second meanwhile', Math.round(shownRate), '/s');
  // What the flood costs the client: the more, the less CPU is left to echo a key on a busy machine.
  add('  … client CPU per message shown (keys included)', round(cpuPerMessage, 3), 'ms');
}

async function scrollbackMemory(daemon: DaemonProcess, add: AddRow, log: (t: string) => void): Promise<void> {
  const repl = startRepl(daemon.port, 'reader');
  await repl.waitFor('reader> ', 30_000);
  const flooder = startFlooder(daemon.port, 'flood');
  const joined = repl.waitFor('flood line -1 of', 30_000);
  flooder.stdin.write('flood line -1 of the bench\n');
  await joined;
  const rss: Record<number, number> = {};
  const t0 = performance.now();
  for (const upTo of [10_000, RSS_MESSAGES]) {
    const from = Object.keys(rss).length === 0 ? 0 : 10_000;
    const shown = repl.waitFor(`flood line ${upTo - 1} of`, 300_000);
    await paced(flooder, from, upTo - from, 10_000);
    await shown;
    await sleep(500);
    rss[upTo] = rssMiB(repl.pty.pid);
    log(
      `REPL: ${upTo} messages shown after ${Math.round((performance.now() - t0) / 1000)} s, RSS ${rss[upTo]} MiB`,
    );
  }
  flooder.stdin.end();
  repl.pty.kill();
  flooder.kill();
  add('REPL resident memory after 10,000 messages', rss[10_000]!, 'MiB');
  add(
    `REPL resident memory after ${RSS_MESSAGES.toLocaleString('en')} messages (bounded)`,
    rss[RSS_MESSAGES]!,
    'MiB',
    '≤ 150',
  );
}

/** Which rows: both, or (alone, `--only latency|memory`) one of them. */
export async function replRows(
  add: AddRow,
  log: (text: string) => void,
  only?: 'latency' | 'memory',
): Promise<void> {
  if (process.platform !== 'linux') {
    log('REPL rows skipped: VmRSS is read from /proc (Linux only)');
    return;
  }
  const daemon = await startDaemonProcess(daemonArgs());
  try {
    if (only !== 'memory') {
      log(`REPL: keystrokes in a pty while ${FLOOD_RATE} messages/s arrive`);
      await keystrokeLatency(daemon, add, log, false);
      await keystrokeLatency(daemon, add, log, true);
    }
    if (only !== 'latency') {
      log(`REPL: resident memory while ${RSS_MESSAGES} messages arrive`);
      await scrollbackMemory(daemon, add, log);
    }
  } finally {
    await daemon.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows: Array<[string, number, string, string]> = [];
  const at = process.argv.indexOf('--only');
  const only = at > 0 ? process.argv[at + 1] : undefined;
  replRows(
    (name, value, unit, target) => rows.push([name, value, unit, target ?? '']),
    (text) => process.stderr.write(`bench: ${text}\n`),
    only === 'latency' || only === 'memory' ? only : undefined,
  ).then(
    () => {
      for (const [name, value, unit, target] of rows)
        process.stdout.write(`${name}  ${value} ${unit}${target ? `  (target ${target})` : ''}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
