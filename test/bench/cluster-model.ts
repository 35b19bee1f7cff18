/**
 * A model of N daemons on N cores for one 100-member room, from per-message costs measured
 * in the scale-out loop (each run of it measures these too, so under the same load as the
 * `--workers 2` run the model is checked against).
 *
 * Inputs, CPU-seconds per chat message, each at the closed-loop load of the rows:
 * - D1: one daemon (`serve`, the room log in memory) relaying to 100 members: the whole
 *   room's work on one core (ingress, log, fan-out to 100);
 * - Dc: the same room on one `serve --cluster` daemon alone on a nats-server of its own: the
 *   room's work with the log on JetStream (appends batched as the code does, its watch);
 * - S0: that nats-server's CPU per message (append, acknowledgement, one follower);
 * - w: a daemon that has the room open for one member, on a second such cluster where daemon
 *   A has the 100 members: its watch (a batch delivered, opened and applied) and one fan-out
 *   turn, per message (two such daemons, averaged);
 * - s1: the nats-server's extra CPU per message for each such follower (the second
 *   cluster's nats-server against the first's, halved).
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
import { type NatsServer, startNatsServer } from '../helpers/nats.js';
import { type AddRow, type BenchSecrets, median, round, rpc, sleep } from './common.js';
import { type ServeTree, startServe, throughputRun } from './serve-tree.js';
import { SecureMember, SrpRoomClient } from './wire.js';

const MEMBERS = 100;

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

/** One run of each model setup: the inputs as that run measured them. */
export interface ModelRun {
  dc: number;
  s0: number;
  w: number;
  /** nats-server CPU-s per message with the room's daemon and two watching daemons. */
  s2: number;
}

export interface ModelTrees {
  /** One closed-loop run on each setup (call it between the scale-out runs: same load). */
  measure(): Promise<ModelRun>;
  stop(): Promise<void>;
}

/**
 * Two clusters of `serve --cluster` daemons, each on a bench nats-server of its own
 * (JetStream, memory): daemon A0 alone with the 100 members; daemon A with the 100 members
 * and daemons B1 and B2 with one watching member each.
 */
export async function startModelTrees(
  clients: ChildProcess,
  roomsFile: string,
  secrets: BenchSecrets,
  log: (text: string) => void,
): Promise<ModelTrees> {
  log('model: one `serve --cluster` daemon with the room; another with two more daemons watching it');
  const servers: NatsServer[] = [];
  const trees: ServeTree[] = [];
  const watchers: SecureMember[] = [];
  const stop = async (): Promise<void> => {
    for (const m of watchers) m.close();
    await Promise.all(trees.map((t) => t.stop()));
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    const cluster = async (daemons: number): Promise<ServeTree[]> => {
      const nats = await startNatsServer({ jetstream: true });
      servers.push(nats);
      const env = { CMD_CHAT_CLUSTER_SECRET: randomBytes(32).toString('base64') };
      const made: ServeTree[] = [];
      for (let i = 0; i < daemons; i++)
        made.push(await startServe(roomsFile, ['--cluster', nats.url], { env }));
      trees.push(...made);
      return made;
    };
    const [a0] = (await cluster(1)) as [ServeTree];
    const [a, b1, b2] = (await cluster(3)) as [ServeTree, ServeTree, ServeTree];
    const [nats0, nats2] = servers.map((s) => s.pid()!) as [number, number];
    for (const [key, tree] of [
      ['model0', a0],
      ['model2', a],
    ] as const) {
      await rpc(clients, 'fanoutSetup', {
        key,
        mode: 'secure',
        port: tree.port,
        room: 'bench',
        secrets,
        members: MEMBERS,
      });
    }
    const srp = new SrpRoomClient('bench', secrets);
    watchers.push(await SecureMember.join(b1.port, srp, 'watcher1'));
    watchers.push(await SecureMember.join(b2.port, srp, 'watcher2'));
    await sleep(500);
    const measure = async (): Promise<ModelRun> => {
      const r0 = await throughputRun(clients, 'model0', [a0.pid, nats0]);
      const before = watchers.map((m) => m.count);
      const r2 = await throughputRun(clients, 'model2', [b1.pid, b2.pid, nats2]);
      if (watchers.some((m, i) => m.count === before[i]))
        throw new Error('a watching daemon delivered nothing');
      return {
        dc: perMessage(r0.rate, r0.busy[0]!),
        s0: perMessage(r0.rate, r0.busy[1]!),
        w: (perMessage(r2.rate, r2.busy[0]!) + perMessage(r2.rate, r2.busy[1]!)) / 2,
        s2: perMessage(r2.rate, r2.busy[2]!),
      };
    };
    await measure(); // warm-up
    return {
      measure,
      stop: async () => {
        await rpc(clients, 'closeFanout', { key: 'model0' });
        await rpc(clients, 'closeFanout', { key: 'model2' });
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The inputs from the runs: medians; `d1` from the one-daemon runs of the same loop. */
export function modelInputs(d1: number, runs: ModelRun[]): ModelInputs {
  const s0 = median(runs.map((r) => r.s0));
  return {
    d1,
    dc: median(runs.map((r) => r.dc)),
    s0,
    w: median(runs.map((r) => r.w)),
    s1: Math.max(0, (median(runs.map((r) => r.s2)) - s0) / 2),
  };
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
