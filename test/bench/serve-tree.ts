/**
 * Real `cmd-chat serve` process trees for the scale-out and resume rows: one daemon,
 * `--workers N` (primary, workers, private nats-server) or `--cluster` daemons on a bench
 * nats-server. The rooms reach them through a pipe (`--rooms-file /dev/fd/N`): nothing is
 * written to disk. CPU per process comes from /proc (Linux). With `probe`, the daemons load
 * log-probe.js and `probe()` collects its counters (append latency, batches, conflicts).
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { builtCli } from '../helpers/paths.js';
import { freePort, NO_PACING_FLAGS } from '../helpers/processes.js';
import { type Reply, rpc, sleep } from './common.js';
import type { ProbeReport } from './log-probe.js';

const here = dirname(fileURLToPath(import.meta.url));

/** What bench-daemon.ts's benchLimits lift, as `serve` flags: the clients all come from 127.0.0.1. */
export const LIMIT_FLAGS: readonly string[] = [
  ...['--max-clients', '4096', '--max-per-address', '4096', '--max-members', '1024', '--max-pending', '512'],
  ...NO_PACING_FLAGS,
  ...['--handshake-rate', '0', '--join-rate', '0'],
];

export interface ServeTree {
  port: number;
  /** The process `serve` runs in (the primary with --workers). */
  pid: number;
  /** The primary (or the only daemon), the workers, and nats-server. */
  pids: () => number[];
  workerPids: number[];
  /** The daemons' pids: the workers, else the one process. */
  daemonPids: number[];
  /** What it logged (the last 100 kB, probe lines apart). */
  log(): string;
  /** Each daemon's probe counters since the last call (needs `probe` at start). */
  probe(): Promise<ProbeReport[]>;
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** More environment (a cluster secret). */
  env?: NodeJS.ProcessEnv;
  /** Preload log-probe.js into the daemons. */
  probe?: boolean;
}

/** `cmd-chat serve` with the bench rooms through a pipe; resolves once it listens. */
export async function startServe(
  roomsFile: string,
  extra: string[],
  options: ServeOptions = {},
): Promise<ServeTree> {
  const port = await freePort();
  const probeUrl = pathToFileURL(join(here, 'log-probe.js')).href;
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, BENCH_ROOMS: roomsFile };
  if (options.probe) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --import=${probeUrl}`.trim();
  const child = spawn(
    'bash',
    [
      '-c',
      'exec "$@" --rooms-file <(printf "%s" "$BENCH_ROOMS")',
      'bash',
      process.execPath,
      builtCli,
      'serve',
      '127.0.0.1',
      String(port),
      ...LIMIT_FLAGS,
      ...extra,
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  let partial = '';
  const reports: ProbeReport[] = [];
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('bench-probe ')) reports.push(JSON.parse(line.slice(12)) as ProbeReport);
      else err = `${err + line}\n`.slice(-100_000);
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const until = Date.now() + 60_000;
  while (!/listening on /.test(err)) {
    if (Date.now() > until || child.exitCode !== null) throw new Error(`serve did not start:\n${err}`);
    await sleep(50);
  }
  const workerPids = [...err.matchAll(/worker \d+ \(pid (\d+)\) listening/g)].map((m) => Number(m[1]));
  const natsPid = /nats-server \(pid (\d+)\) ready/.exec(err)?.[1];
  const daemonPids = workerPids.length > 0 ? workerPids : [child.pid!];
  return {
    port,
    pid: child.pid!,
    workerPids,
    daemonPids,
    log: () => err,
    pids: () => [child.pid!, ...workerPids, ...(natsPid ? [Number(natsPid)] : [])],
    probe: async () => {
      if (!options.probe) throw new Error('started without the probe');
      reports.length = 0;
      for (const pid of daemonPids) process.kill(pid, 'SIGUSR2');
      const deadline = Date.now() + 10_000;
      while (reports.length < daemonPids.length) {
        if (Date.now() > deadline) throw new Error('the probe did not answer');
        await sleep(10);
      }
      return reports.splice(0);
    },
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** CPU time (ms) the processes used so far, from /proc (utime + stime, 100 ticks/s). */
export function cpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks * 10;
}

/** The bench's client process (bench-clients.js), ready for requests. */
export async function forkClients(): Promise<ChildProcess> {
  const child = fork(join(here, 'bench-clients.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`bench-clients exited (${code})`)));
  });
  return child;
}

/** The closed-loop load of the 100-member scale-out rows (bench-clients `throughput`). */
export const SCALE_LOAD = { window: 4000, senders: 4, batch: 20, warmMs: 500, durationMs: 2000 } as const;

export interface ThroughputRun {
  /** Deliveries per second. */
  rate: number;
  /** CPU busy of each of the `pids` asked for, between the clients' marks (1.0 = one core). */
  busy: number[];
  /** The client process's own CPU busy. */
  clients: number;
  /** Messages not seen by every member after the run. */
  lost: number;
}

/** One closed-loop run of bench-clients' setup `key`, with the CPU of each of `pids` meanwhile. */
export async function throughputRun(
  clients: ChildProcess,
  key: string,
  pids: number[],
): Promise<ThroughputRun> {
  // CPU between the clients' start and end marks (after the warm-up, before the drain).
  const marks: Array<{ cpu: number[]; at: number }> = [];
  const onMark = (m: Reply): void => {
    if (m.event === 'mark') marks.push({ cpu: pids.map((pid) => cpuMs([pid])), at: performance.now() });
  };
  clients.on('message', onMark);
  try {
    const r = await rpc<{ delivered: number; ms: number; lost: number; clientsBusy: number } & Reply>(
      clients,
      'throughput',
      { key, ...SCALE_LOAD },
    );
    const [m0, m1] = marks as [{ cpu: number[]; at: number }, { cpu: number[]; at: number }];
    return {
      rate: (r.delivered * 1000) / r.ms,
      busy: pids.map((_, i) => (m1.cpu[i]! - m0.cpu[i]!) / (m1.at - m0.at)),
      clients: r.clientsBusy,
      lost: r.lost,
    };
  } finally {
    clients.off('message', onMark);
  }
}

/**
 * The machine's 1-minute load average, for a row beside the figures: they depend on how much
 * of the 2 shared cores the bench got.
 */
export function loadNow(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}
