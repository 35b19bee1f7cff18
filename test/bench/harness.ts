/**
 * The frame every benchmark row runs in: named rows selected by filter words
 * (`npm run bench -- fanout stranger`), the shared room secrets (one scrypt per run, derived
 * only if a selected row needs them), the forked client process (started on first use), a
 * daemon process started for one row and always stopped after it (`withDaemon`), the
 * closed-loop fan-out measurement against that daemon's own CPU clock, and the result table.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DaemonLimits } from '../../lib/protocol/limits.js';
import {
  type BenchRoom,
  type BenchSecrets,
  benchRoomSecrets,
  type Reply,
  round,
  rpc,
  sleep,
  type TableRow,
} from './common.js';
import { SrpRoomClient } from './wire.js';

const here = dirname(fileURLToPath(import.meta.url));
export const PASSWORD = 'bench: correct horse battery staple';
export const RUNS = 5;
export const IDLE_ROOMS = 10;

/** Static rooms of every bench daemon: one password, a verifier per name. */
const ROOM_NAMES = [
  'bench',
  'probe',
  'flood',
  'launch',
  ...Array.from({ length: IDLE_ROOMS }, (_, i) => `idle${i}`),
];

/** A sample of a daemon child's clocks and counters (bench-daemon.ts `mark`). */
export interface Mark {
  cpuMs: number;
  at: number;
  eldP99: number;
  eldMax: number;
  stats: { handshakesOk?: number; handshakesFailed?: number; members?: number };
}

/** A daemon child started for one row. */
export interface BenchDaemon {
  proc: ChildProcess;
  port: number;
  /** The daemon's clocks now; `resetEld` starts a new event-loop delay window. */
  mark(resetEld?: boolean): Promise<Mark>;
}

/**
 * Fan-out load (bench-clients.ts `throughput`): closed loop (at most `window` messages not yet
 * seen by every member), or open loop at `rate` messages/s when given (the same load whatever
 * the frames, so the daemon's CPU per delivery compares like for like).
 */
export interface FanoutLoad {
  window: number;
  rate?: number;
  senders: number;
  batch: number;
  warmMs: number;
  durationMs: number;
}

/** The closed-loop load of the 100-member fan-out rows. */
export const FANOUT_LOAD: FanoutLoad = { window: 4000, senders: 4, batch: 20, warmMs: 500, durationMs: 2000 };

export interface FanoutResult {
  /** Deliveries per second (one message to 100 members counts 100). */
  rate: number;
  /** The daemon's CPU over the window, 1.0 = one core. */
  busy: number;
  perCpuSecond: number;
  clientsBusy: number;
}

/** What a row gets: shared secrets, processes and the table. */
export interface BenchContext {
  add(name: string, value: number, unit: string, target?: string): void;
  log(text: string): void;
  /** The room secrets and the static rooms (one scrypt for the whole run, on first use). */
  secrets(): Promise<{ secrets: BenchSecrets; rooms: BenchRoom[] }>;
  /** An SRP client for one of the static rooms (secrets() first). */
  srp(room: string): SrpRoomClient;
  /** The light-client process (forked on first use, shared by the rows). */
  clients(): Promise<ChildProcess>;
  /**
   * Starts a daemon child (secure: the real Daemon with the bench rooms; bare: the relay), runs
   * `body`, stops it. Its young generation is kept small as `serve` keeps it, unless `heap` is
   * 'v8-default' (lib/server/heap.ts).
   */
  withDaemon<T>(
    mode: 'secure' | 'bare',
    body: (d: BenchDaemon) => Promise<T>,
    limits?: Partial<DaemonLimits>,
    heap?: 'serve' | 'v8-default',
  ): Promise<T>;
  /** One closed-loop throughput window of fan-out setup `key` (bench-clients.ts) against daemon `d`. */
  fanout(key: string, d: BenchDaemon, load: FanoutLoad): Promise<FanoutResult>;
}

/** A named group of table rows, runnable alone: `npm run bench -- <part of its name>`. */
export interface BenchRow {
  name: string;
  run(ctx: BenchContext): Promise<void>;
}

function log(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

/** Wall time of `node <args>` from spawn to exit (or to the first stdout line if asked). */
export function timeNode(args: string[], untilFirstLine = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    let done = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.on('data', (d: Buffer) => {
      if (untilFirstLine && !done && d.includes(10)) {
        done = true;
        resolve(performance.now() - t0);
        child.stdin.end();
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }
    });
    child.on('exit', (code) => {
      if (done) return;
      done = true;
      if (code === 0 && !untilFirstLine) resolve(performance.now() - t0);
      else reject(new Error(`node ${args.slice(1).join(' ')} exited ${code}: ${stderr.trim()}`));
    });
    if (!untilFirstLine) child.stdin.end();
  });
}

class Harness implements BenchContext {
  readonly rows: TableRow[] = [];
  private readonly children: ChildProcess[] = [];
  private clientProc: Promise<ChildProcess> | undefined;
  private shared: Promise<{ secrets: BenchSecrets; rooms: BenchRoom[] }> | undefined;
  private sharedSecrets: BenchSecrets | undefined;
  /** The daemon whose clocks the client process's window marks sample. */
  private markTarget: BenchDaemon | undefined;
  private marks: Promise<Mark>[] = [];

  add(name: string, value: number, unit: string, target?: string): void {
    this.rows.push(target === undefined ? { name, value, unit } : { name, value, unit, target });
  }

  log(text: string): void {
    log(text);
  }

  secrets(): Promise<{ secrets: BenchSecrets; rooms: BenchRoom[] }> {
    this.shared ??= benchRoomSecrets(PASSWORD, ROOM_NAMES).then((shared) => {
      this.sharedSecrets = shared.secrets;
      return shared;
    });
    return this.shared;
  }

  srp(room: string): SrpRoomClient {
    if (!this.sharedSecrets) throw new Error('secrets() before srp()');
    return new SrpRoomClient(room, this.sharedSecrets, 4);
  }

  clients(): Promise<ChildProcess> {
    this.clientProc ??= this.forkChild('bench-clients.js').then((proc) => {
      proc.on('message', (m: Reply) => {
        if (m.event === 'mark' && this.markTarget) this.marks.push(this.markTarget.mark());
      });
      return proc;
    });
    return this.clientProc;
  }

  async withDaemon<T>(
    mode: 'secure' | 'bare',
    body: (d: BenchDaemon) => Promise<T>,
    limits: Partial<DaemonLimits> = {},
    heap: 'serve' | 'v8-default' = 'serve',
  ): Promise<T> {
    const rooms = mode === 'secure' ? (await this.secrets()).rooms : [];
    const proc = await this.forkChild('bench-daemon.js', ['--expose-gc']);
    try {
      const { port } = await rpc<{ port: number }>(proc, 'start', { mode, rooms, limits, heap });
      const mark = (resetEld = false): Promise<Mark> => rpc<Mark & Reply>(proc, 'mark', { resetEld });
      return await body({ proc, port, mark });
    } finally {
      await stopChild(proc);
    }
  }

  async fanout(key: string, d: BenchDaemon, load: FanoutLoad): Promise<FanoutResult> {
    const clients = await this.clients();
    this.markTarget = d;
    this.marks = [];
    try {
      const r = await rpc<{ delivered: number; ms: number; lost: number; clientsBusy: number } & Reply>(
        clients,
        'throughput',
        { key, ...load },
      );
      const [m0, m1] = await Promise.all(this.marks);
      if (r.lost > 0) log(`${key}: ${r.lost} messages not seen by every member after the run`);
      const cpu = m1!.cpuMs - m0!.cpuMs;
      return {
        rate: (r.delivered * 1000) / r.ms,
        busy: cpu / (m1!.at - m0!.at),
        perCpuSecond: r.delivered / (cpu / 1000),
        clientsBusy: r.clientsBusy,
      };
    } finally {
      this.markTarget = undefined;
    }
  }

  async close(): Promise<void> {
    if (this.clientProc) (await this.clientProc).disconnect();
  }

  killAll(): void {
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGKILL');
  }

  private async forkChild(file: string, execArgv: string[] = []): Promise<ChildProcess> {
    const child = fork(join(here, file), [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`${file} exited (${code}) before it was ready`)));
    });
    return child;
  }
}

async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  try {
    await rpc(proc, 'stop', {}, 5000);
  } catch {
    // already gone
  }
  await Promise.race([exited, sleep(3000)]);
  if (proc.exitCode === null) proc.kill('SIGKILL');
}

/**
 * Runs the rows selected by `argv` and prints the table. Each word selects the row of that
 * exact name, else every row whose name contains it; no word: every row; `--list` prints the
 * names (`--only NAME` still works: the flag is ignored, the name is a word).
 */
export async function runBench(rows: BenchRow[], argv: string[]): Promise<void> {
  if (argv.includes('--list')) {
    process.stdout.write(`${rows.map((r) => r.name).join('\n')}\n`);
    return;
  }
  const words = argv.filter((a) => !a.startsWith('-'));
  const picks = (w: string): BenchRow[] => {
    const exact = rows.filter((r) => r.name === w);
    return exact.length > 0 ? exact : rows.filter((r) => r.name.includes(w));
  };
  const selected = words.length === 0 ? rows : rows.filter((r) => words.some((w) => picks(w).includes(r)));
  if (selected.length === 0) {
    process.stderr.write(
      `bench: no row matches ${words.join(' ')} (rows: ${rows.map((r) => r.name).join(', ')})\n`,
    );
    process.exitCode = 2;
    return;
  }
  const started = performance.now();
  const harness = new Harness();
  try {
    for (const row of selected) {
      log(`row ${row.name}`);
      await row.run(harness);
    }
    await harness.close();
  } catch (err) {
    harness.killAll();
    throw err;
  }
  printTable(harness.rows, (performance.now() - started) / 1000);
}

function passes(value: number, target: string): boolean {
  const m = /^([≤≥])\s*([\d.]+)/.exec(target.replace(/[,\s](?=\d)/g, ''));
  if (!m) return true;
  const bound = Number(m[2]);
  return m[1] === '≤' ? value <= bound : value >= bound;
}

function printTable(rows: TableRow[], seconds: number): void {
  const header = ['figure', 'median', 'unit', 'target', 'result'];
  const body = rows.map((r) => [
    r.name,
    String(r.value),
    r.unit,
    r.target ?? '',
    r.target ? (passes(r.value, r.target) ? 'pass' : 'MISS') : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const cpu = cpus();
  const out = [
    '',
    `cmd-chat benchmark — ${cpu[0]?.model ?? 'unknown cpu'}, ${cpu.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${round(seconds, 0)} s`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
  ];
  process.stdout.write(out.join('\n'));
  const missed = rows.filter((r) => r.target && !passes(r.value, r.target)).length;
  if (missed > 0) process.stdout.write(`${missed} target(s) missed\n`);
}
