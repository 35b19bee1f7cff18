/**
 * Cluster-bus figures: sealed room events through a real nats-server (no store) from one
 * daemon's bus to another's, each in its own process: events/s at full speed, and the round
 * trip A → B → A at half that rate. This is the bus alone (seal, NATS, open), the ceiling
 * under what a cluster of daemons can relay. Runnable alone:
 * `node dist/test/bench/cluster-bus.js`; `npm run bench` adds the rows.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatsRoomBus } from '../../lib/cluster/bus.js';
import { deriveClusterKeys } from '../../lib/cluster/keys.js';
import { natsProblem, startNatsServer } from '../helpers/nats.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { type AddRow, median, percentile, round, rpc, runRowsAlone, sleep } from './common.js';

const here = dirname(fileURLToPath(import.meta.url));
const EVENTS = 50_000;
const RUNS = 3;
/** A Fernet token of a short chat line is about this long. */
const TEXT = 'g'.repeat(300);

export async function clusterBusRows(add: AddRow, log: (text: string) => void): Promise<void> {
  const problem = natsProblem();
  if (problem) {
    log(`cluster bus rows skipped: ${problem}`);
    return;
  }
  log('cluster bus: sealed events through nats-server between two processes');
  const server = await startNatsServer();
  const secret = randomBytes(32);
  const peer = fork(join(here, 'bus-peer.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve) => peer.once('message', () => resolve()));
  const bus = await NatsRoomBus.connect({ servers: [server.url] }, deriveClusterKeys(secret), silentLogger);
  try {
    const { nodeId } = await rpc<{ nodeId: string }>(peer, 'start', {
      url: server.url,
      secret: secret.toString('base64'),
    });
    // Each bus accepts the other's events once they have introduced themselves.
    for (let i = 0; i < 500; i++) {
      const { knows } = await rpc<{ knows: boolean }>(peer, 'knows', { nodeId: bus.nodeId });
      if (knows && bus.knows(nodeId)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const rates: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      await rpc(peer, 'reset');
      const t0 = performance.now();
      const done = rpc(peer, 'await', { count: EVENTS });
      for (let i = 0; i < EVENTS; i++) {
        bus.publish('load', { type: 'message', text: TEXT, n: i });
        if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
      }
      await done;
      rates.push(EVENTS / ((performance.now() - t0) / 1000));
    }
    const rate = median(rates);
    const rtts = await roundTrips(bus, peer, rate / 2);
    add('cluster bus: sealed 300-char events/s, daemon A → nats-server → daemon B', Math.round(rate), '/s');
    add(
      `  round trip A → B → A at half load (${Math.round(rate / 2)}/s), p50`,
      round(percentile(rtts, 50), 2),
      'ms',
    );
    add('  round trip at half load, p99', round(percentile(rtts, 99), 2), 'ms');
  } finally {
    await bus.close();
    await rpc(peer, 'stop').catch(() => undefined);
    await server.stop();
  }
}

/** Publishes at `rate` for two seconds; every 50th event is a probe the peer echoes. */
async function roundTrips(bus: NatsRoomBus, peer: ChildProcess, rate: number): Promise<number[]> {
  const sent = new Map<number, number>();
  const samples: number[] = [];
  bus.subscribeRoom('echo', (event) => {
    const t = sent.get(Number(event.probe));
    if (t !== undefined) samples.push(performance.now() - t);
  });
  await bus.flush();
  await rpc(peer, 'reset');
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < 2000) {
    for (let i = 0; i < perTick; i++, n++) {
      const event: Record<string, unknown> = { type: 'message', text: TEXT, n };
      if (n % 50 === 0) {
        sent.set(n, performance.now());
        event.probe = n;
      }
      bus.publish('load', event);
    }
    const next = start + (n / perTick) * tickMs;
    await sleep(Math.max(0, next - performance.now()));
  }
  await rpc(peer, 'await', { count: n });
  await sleep(100);
  return samples;
}

runRowsAlone(import.meta.url, clusterBusRows);
