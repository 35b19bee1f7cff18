/**
 * A model of N daemons on N cores for one 100-member room, from per-message costs measured
 * in the scale-out run, and its check against that run's `--workers 2` figures.
 *
 * Inputs, CPU-seconds per chat message, each measured at the closed-loop load of the rows:
 * - D1: one daemon (`serve`, the room log in memory) relaying to 100 members: the whole
 *   room's work on one core (ingress, log, fan-out to 100);
 * - Dc: the same room on one `serve --cluster` daemon against its own nats-server: the
 *   room's work with the log on JetStream (appends batched as the code does, its watch);
 * - S0: that nats-server's CPU per message (append, acknowledgement, one follower);
 * - w: a daemon that has the room open for one member: its watch (a batch delivered,
 *   opened and applied) and one fan-out turn, per message (two such daemons, averaged);
 * - s1: the nats-server's extra CPU per message for each such follower.
 * The 100 members spread evenly over N daemons cost Dc once (the per-delivery work does not
 * grow with N) plus w and s1 per extra daemon:
 *   C(N) = Dc + S0 + (N − 1)(w + s1)                       CPU-s per message, all processes
 *   efficiency(N) = D1 / C(N)                               deliveries per CPU-s against one daemon
 *   throughput(N) = N / C(N) messages/s on N cores (daemons and nats-server share them, the
 *   clients run elsewhere), so the ratio to one daemon saturating one core is N · D1 / C(N).
 * Left out: compare-and-set conflicts when several daemons append to one room (their count
 * per batch is a row of the --workers run) and the smaller batches of several appenders.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startNatsServer } from '../helpers/nats.js';
import { type AddRow, type BenchSecrets, median, round, rpc, sleep } from './common.js';
import { type ServeTree, startServe, throughputRun } from './serve-tree.js';
import { SecureMember, SrpRoomClient } from './wire.js';

const MEMBERS = 100;
const RUNS = 3;

export interface ModelInputs {
  /** CPU-s per message: one daemon, log in memory. */
  d1: number;
  /** CPU-s per message: one --cluster daemon, log on JetStream (daemon only). */
  dc: number;
  /** nats-server CPU-s per message with that one daemon. */
  s0: number;
  /** CPU-s per message of a daemon watching the room for one member. */
  w: number;
  /** nats-server CPU-s per message per extra following daemon. */
  s1: number;
}

/** What the --workers 2 run measured, for the check. */
export interface MeasuredTwo {
  /** CPU-s per message, every process of the tree (primary, workers, nats-server). */
  cpuPerMessage: number;
  efficiency: number;
}

/** CPU-s per message from a run's deliveries/s and a process's busy cores. */
const perMessage = (rate: number, busy: number): number => busy / (rate / MEMBERS);

/**
 * Measures Dc, S0, w and s1: a bench nats-server (JetStream, memory), daemon A with the 100
 * members, then daemons B1 and B2 with one passive member each.
 */
export async function measureModelInputs(
  clients: ChildProcess,
  roomsFile: string,
  secrets: BenchSecrets,
  d1: number,
  log: (text: string) => void,
): Promise<ModelInputs> {
  log('model inputs: one `serve --cluster` daemon with the room, then two more watching it');
  const nats = await startNatsServer({ jetstream: true });
  const env = { CMD_CHAT_CLUSTER_SECRET: randomBytes(32).toString('base64') };
  const trees: ServeTree[] = [];
  const passive: SecureMember[] = [];
  try {
    for (let i = 0; i < 3; i++) trees.push(await startServe(roomsFile, ['--cluster', nats.url], { env }));
    const [a, b1, b2] = trees as [ServeTree, ServeTree, ServeTree];
    await rpc(clients, 'fanoutSetup', {
      key: 'model',
      mode: 'secure',
      port: a.port,
      room: 'bench',
      secrets,
      members: MEMBERS,
    });
    const natsPid = nats.pid()!;
    const pids = [a.pid, b1.pid, b2.pid, natsPid];
    await throughputRun(clients, 'model', pids); // warm-up
    const dc: number[] = [];
    const s0: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const r = await throughputRun(clients, 'model', pids);
      dc.push(perMessage(r.rate, r.busy[0]!));
      s0.push(perMessage(r.rate, r.busy[3]!));
    }
    const srp = new SrpRoomClient('bench', secrets);
    passive.push(await SecureMember.join(b1.port, srp, 'watcher1'));
    passive.push(await SecureMember.join(b2.port, srp, 'watcher2'));
    await sleep(500);
    await throughputRun(clients, 'model', pids); // warm-up
    const w: number[] = [];
    const s2: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const r = await throughputRun(clients, 'model', pids);
      w.push((perMessage(r.rate, r.busy[1]!) + perMessage(r.rate, r.busy[2]!)) / 2);
      s2.push(perMessage(r.rate, r.busy[3]!));
      if (passive.some((m) => m.count === 0)) throw new Error('a watching daemon delivered nothing');
    }
    await rpc(clients, 'closeFanout', { key: 'model' });
    return {
      d1,
      dc: median(dc),
      s0: median(s0),
      w: median(w),
      s1: Math.max(0, (median(s2) - median(s0)) / 2),
    };
  } finally {
    for (const m of passive) m.close();
    await Promise.all(trees.map((t) => t.stop()));
    await nats.stop();
  }
}

/** C(N): CPU-s per message of N daemons and their nats-server. */
export function modelCost(m: ModelInputs, n: number): number {
  return m.dc + m.s0 + (n - 1) * (m.w + m.s1);
}

/** The model's inputs, its predictions for N = 1, 2, 4, 8, and its error against the measured N = 2. */
export function modelRows(add: AddRow, m: ModelInputs, two: MeasuredTwo): void {
  const us = (x: number): number => round(x * 1e6, 1);
  add('model input D1: 1 daemon, log in memory, CPU per message (100 deliveries)', us(m.d1), 'µs');
  add('  Dc: 1 --cluster daemon, log on JetStream, CPU per message', us(m.dc), 'µs');
  add('  S0: its nats-server, CPU per message appended (batched as the code does)', us(m.s0), 'µs');
  add('  append overhead Dc + S0 − D1 (log on JetStream instead of in memory)', us(m.dc + m.s0 - m.d1), 'µs');
  add('  w: a daemon watching the room (batch delivered, opened, one turn), per message', us(m.w), 'µs');
  add('  s1: nats-server CPU per message per extra watching daemon', us(m.s1), 'µs');
  add('  per-delivery fan-out, D1 / 100', round((m.d1 * 1e6) / MEMBERS, 2), 'µs');
  for (const n of [1, 2, 4, 8]) {
    const c = modelCost(m, n);
    add(`model N=${n} daemons on ${n} cores: CPU per message`, us(c), 'µs');
    add(`  efficiency (deliveries per CPU-s against 1 daemon)`, round(m.d1 / c, 3), '×', '≥ 0.8');
    add(
      `  throughput ratio against 1 daemon on 1 core`,
      round((n * m.d1) / c, 2),
      '×',
      n === 2 ? '≥ 1.5' : undefined,
    );
    const growing = (n - 1) * (m.w + m.s1);
    add(`  share of the watch per extra daemon, (N−1)(w + s1) / C(N)`, round(growing / c, 3), '');
  }
  const pred = modelCost(m, 2);
  add('model check: --workers 2 CPU per message, measured in this run', us(two.cpuPerMessage), 'µs');
  add('  predicted C(2)', us(pred), 'µs');
  add('  error of the prediction (predicted / measured − 1)', round(pred / two.cpuPerMessage - 1, 3), '');
  add('  efficiency at N=2, predicted', round(m.d1 / pred, 3), '×');
  add('  efficiency at N=2, measured (median of the runs above)', round(two.efficiency, 3), '×');
  // Where efficiency falls below 0.8: D1 / C(N) = 0.8.
  const perDaemon = m.w + m.s1;
  const nMax = perDaemon > 0 ? 1 + (m.d1 / 0.8 - m.dc - m.s0) / perDaemon : Number.POSITIVE_INFINITY;
  add(
    '  largest N with predicted efficiency ≥ 0.8',
    Math.max(0, Math.min(1000, Math.floor(nMax))),
    'daemons',
  );
}
