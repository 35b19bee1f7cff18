/**
 * Latency and event-loop delay at one fixed load, on the daemon as it was before protocol v3
 * and on this one, in the same run (issue 23: "within 10 % of before"). Half load is half of
 * the *old* daemon's measured maximum, so both run at exactly the same message rate.
 *
 * The old build is not part of this repository: CMD_CHAT_BENCH_BEFORE names the root of a
 * built checkout of the commit before v3 landed (docs/benchmarks.md says how to make one). Its
 * own bench-daemon.js and bench-clients.js are driven over the same IPC requests as ours (its
 * clients speak its protocol); without it, the row skips with a line saying why.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { median, type Reply, round, rpc } from './common.js';
import { type BenchContext, FANOUT_LOAD, type Mark } from './harness.js';

export const BEFORE_ENV = 'CMD_CHAT_BENCH_BEFORE';
const MEMBERS = 100;
/** Rounds per side: its p99s move by tens of percent between runs on a shared machine. */
const RUNS = 5;

/** Forks one of the old build's bench processes and waits for its ready message. */
async function forkOld(root: string, file: string, execArgv: string[] = []): Promise<ChildProcess> {
  const child = fork(join(root, 'dist', 'test', 'bench', file), [], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`${file} of the old build exited (${code})`)));
  });
  return child;
}

/** One side of the comparison: a daemon and the client process that speaks its protocol. */
interface Side {
  name: string;
  clients: ChildProcess;
  mark(resetEld?: boolean): Promise<Mark>;
}

interface Sample {
  p50: number;
  p99: number;
  eldP99: number;
  /** The daemon's CPU per delivery over the run, µs (every message goes to all members). */
  cpuUs: number;
}

/** Open-loop latency at `rate` (bench-clients.ts `latency`) and the daemon's event-loop delay over it. */
async function sample(side: Side, rate: number): Promise<Sample> {
  const m0 = await side.mark(true);
  const r = await rpc<{ p50: number; p99: number; sent: number } & Reply>(side.clients, 'latency', {
    key: side.name,
    rate,
    durationMs: 2000,
  });
  const m = await side.mark();
  return {
    p50: r.p50,
    p99: r.p99,
    eldP99: m.eldP99,
    cpuUs: ((m.cpuMs - m0.cpuMs) * 1000) / (r.sent * MEMBERS),
  };
}

export async function sameLoadRows(ctx: BenchContext): Promise<void> {
  const root = process.env[BEFORE_ENV];
  if (!root || !existsSync(join(root, 'dist', 'test', 'bench', 'bench-daemon.js'))) {
    ctx.log(
      `same-load: skipped, no old build (set ${BEFORE_ENV} to a built checkout of the commit before v3; docs/benchmarks.md)`,
    );
    return;
  }
  ctx.log('same load: the daemon before v3 and this one');
  const { secrets, rooms } = await ctx.secrets();
  const oldDaemon = await forkOld(root, 'bench-daemon.js', ['--expose-gc']);
  const oldClients = await forkOld(root, 'bench-clients.js');
  try {
    const { port } = await rpc<{ port: number } & Reply>(oldDaemon, 'start', {
      mode: 'secure',
      rooms,
      limits: {},
    });
    const setup = { mode: 'secure', members: MEMBERS, room: 'bench', secrets };
    await rpc(oldClients, 'fanoutSetup', { key: 'before', port, ...setup });
    const before: Side = {
      name: 'before',
      clients: oldClients,
      mark: (resetEld = false) => rpc<Mark & Reply>(oldDaemon, 'mark', { resetEld }),
    };
    // Half load: half the old daemon's closed-loop maximum.
    const maxima: number[] = [];
    for (let run = 0; run < 3; run++) {
      const r = await rpc<{ delivered: number; ms: number } & Reply>(oldClients, 'throughput', {
        key: 'before',
        ...FANOUT_LOAD,
      });
      maxima.push((r.delivered * 1000) / r.ms);
    }
    const rate = median(maxima) / MEMBERS / 2;
    const clients = await ctx.clients();
    // Now, with the young generation as serve keeps it, and with V8's default (lib/server/heap.ts).
    const withNow = (body: (after: Side, afterV8: Side) => Promise<void>): Promise<void> =>
      ctx.withDaemon('secure', (d) =>
        ctx.withDaemon(
          'secure',
          async (v) => {
            await rpc(clients, 'fanoutSetup', { key: 'after', port: d.port, ...setup });
            await rpc(clients, 'fanoutSetup', { key: 'afterV8', port: v.port, ...setup });
            await body({ name: 'after', clients, mark: d.mark }, { name: 'afterV8', clients, mark: v.mark });
            await rpc(clients, 'closeFanout', { key: 'after' });
            await rpc(clients, 'closeFanout', { key: 'afterV8' });
          },
          {},
          'v8-default',
        ),
      );
    await withNow(async (after, afterV8) => {
      for (const side of [before, after, afterV8]) await sample(side, rate); // warm-up
      const got = { before: [] as Sample[], after: [] as Sample[], afterV8: [] as Sample[] };
      for (let run = 0; run < RUNS; run++) {
        got.before.push(await sample(before, rate));
        got.after.push(await sample(after, rate));
        got.afterV8.push(await sample(afterV8, rate));
      }
      const med = (side: keyof typeof got, k: keyof Sample): number => median(got[side].map((s) => s[k]));
      const perRun = (k: keyof Sample): number => median(got.after.map((s, i) => s[k] / got.before[i]![k]));
      ctx.add(
        `same load, before v3 and now: ${Math.round(rate)} msg/s × ${MEMBERS} (half the old maximum)`,
        Math.round(median(maxima)),
        'msg/s',
      );
      ctx.add('  latency p50 before v3', round(med('before', 'p50'), 2), 'ms');
      ctx.add('  latency p50 now', round(med('after', 'p50'), 2), 'ms');
      ctx.add('  latency p99 before v3', round(med('before', 'p99'), 2), 'ms');
      ctx.add('  latency p99 now', round(med('after', 'p99'), 2), 'ms');
      ctx.add('  daemon event-loop delay p99 before v3', round(med('before', 'eldP99'), 2), 'ms');
      ctx.add('  daemon event-loop delay p99 now', round(med('after', 'eldP99'), 2), 'ms');
      ctx.add('  daemon CPU per delivery before v3', round(med('before', 'cpuUs'), 3), 'µs');
      ctx.add('  daemon CPU per delivery now', round(med('after', 'cpuUs'), 3), 'µs');
      ctx.add("  latency p99 now, V8's default young generation", round(med('afterV8', 'p99'), 2), 'ms');
      ctx.add(
        "  daemon event-loop delay p99 now, V8's default young generation",
        round(med('afterV8', 'eldP99'), 2),
        'ms',
      );
      ctx.add(
        'ratio latency p99 now / before v3 (per run, same load)',
        round(perRun('p99'), 3),
        '×',
        '≤ 1.1',
      );
      ctx.add(
        'ratio event-loop delay p99 now / before v3 (per run, same load)',
        round(perRun('eldP99'), 3),
        '×',
        '≤ 1.1',
      );
    });
  } finally {
    for (const child of [oldClients, oldDaemon]) {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }
}
