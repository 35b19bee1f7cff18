/**
 * Scale-out figures, real `serve` processes from the compiled CLI against each other in one
 * run: one 100-member room on one daemon, and spread over two (`serve --workers 2`: two
 * daemon processes on one port, joined through their private nats-server); the cross-daemon
 * message latency at half load; handshakes/s with `--workers 2` against one process. The
 * room's verifier reaches the daemons through a pipe (`--rooms-file /dev/fd/N`), nothing is
 * written to disk. CPU figures come from /proc (Linux). Runnable alone:
 * `node dist/test/bench/cluster-daemons.js`; `npm run bench` adds the rows.
 */
import { natsProblem } from '../helpers/nats.js';
import { connectionsByPid } from '../helpers/sockets.js';
import { type ModelRun, type ModelTrees, modelInputs, modelRows, startModelTrees } from './cluster-model.js';
import { type AddRow, benchRoomSecrets, median, type Reply, round, rpc, runRowsAlone } from './common.js';
import {
  forkClients,
  loadNow,
  SCALE_LOAD,
  type ServeTree,
  startServe,
  type ThroughputRun,
  throughputRun,
} from './serve-tree.js';

const PASSWORD = 'bench: correct horse battery staple';
const MEMBERS = 100;
const RUNS = 3;

export async function clusterDaemonRows(add: AddRow, log: (text: string) => void): Promise<void> {
  const problem = process.platform !== 'linux' ? 'needs Linux (/proc)' : natsProblem();
  if (problem) {
    log(`scale-out rows skipped: ${problem}`);
    return;
  }
  const { secrets, rooms } = await benchRoomSecrets(PASSWORD, ['bench', 'flood']);
  const roomsFile = rooms
    .map(({ name, salt, verifier }) => JSON.stringify({ room: name, salt, verifier }))
    .join('\n');

  log('scale-out: one daemon against `serve --workers 2` (two daemons + nats-server)');
  const single = await startServe(roomsFile, []);
  const workers = await startServe(roomsFile, ['--workers', '2'], { probe: true });
  const clients = await forkClients();
  let model: ModelTrees | undefined;
  try {
    // One room, 100 members: on one daemon, and spread over both workers.
    await rpc(clients, 'fanoutSetup', {
      key: 'one',
      mode: 'secure',
      port: single.port,
      room: 'bench',
      secrets,
      members: MEMBERS,
    });
    await rpc(clients, 'fanoutSetup', {
      key: 'two',
      mode: 'secure',
      port: workers.port,
      room: 'bench',
      secrets,
      members: MEMBERS,
    });
    const { ports } = await rpc<{ ports: number[] } & Reply>(clients, 'localPorts', { key: 'two' });
    const byWorker = connectionsByPid(workers.port, workers.workerPids);
    const workerOf = ports.map((p) => workers.workerPids.findIndex((pid) => byWorker.get(pid)!.includes(p)));
    const onFirst = workerOf.filter((w) => w === 0).length;
    log(`members per worker: ${onFirst} and ${MEMBERS - onFirst}`);

    const senders = workerOf.slice(0, SCALE_LOAD.senders);
    log(
      `senders per worker: ${senders.filter((w) => w === 0).length} and ${senders.filter((w) => w === 1).length}`,
    );

    const measure = async (key: string, tree: ServeTree): Promise<ThroughputRun> => {
      const r = await throughputRun(clients, key, tree.pids());
      if (r.lost > 0) {
        log(`${key}: ${r.lost} messages not seen by every member after the run`);
        const why = tree
          .log()
          .split('\n')
          .filter((l) => /silent|closed a connection|lost the NATS/.test(l));
        for (const line of why.slice(-5)) log(`  ${line}`);
      }
      return r;
    };
    const total = (r: ThroughputRun): number => r.busy.reduce((a, b) => a + b, 0);
    model = await startModelTrees(clients, roomsFile, secrets, log);
    const modelRuns: ModelRun[] = [];
    const loadBefore = loadNow();
    await measure('one', single); // warm-up
    await measure('two', workers);
    await workers.probe(); // counters from here on
    const oneRate: number[] = [];
    const twoRate: number[] = [];
    const ratio: number[] = [];
    const oneBusy: number[] = [];
    const twoBusy: number[] = [];
    /** Per process of the two-daemon tree: primary, worker 1, worker 2, nats-server. */
    const twoSplit: number[][] = [];
    const clientsBusy: number[] = [];
    const efficiency: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const a = await measure('one', single);
      const b = await measure('two', workers);
      // The model's inputs in the same loop, so under the same load as the runs it predicts.
      modelRuns.push(await model.measure());
      oneRate.push(a.rate);
      twoRate.push(b.rate);
      ratio.push(b.rate / a.rate);
      oneBusy.push(total(a));
      twoBusy.push(total(b));
      twoSplit.push(b.busy);
      clientsBusy.push(b.clients);
      // Deliveries per CPU-second of the serving side (daemons and nats-server), 2 against 1.
      efficiency.push(b.rate / total(b) / (a.rate / total(a)));
    }
    const counters = await workers.probe();
    const loadAfter = loadNow();
    await model.stop();
    model = undefined;
    add('100-member room on 1 daemon (serve): delivered/s', Math.round(median(oneRate)), 'msg/s');
    add('  machine load average (1 min) before / after these runs', loadBefore, `/ ${loadAfter}`);
    add('  daemon CPU busy during it (1.0 = one core)', round(median(oneBusy), 2), 'cores');
    add(
      `same room over 2 daemons (--workers 2, ${onFirst}+${MEMBERS - onFirst} members, + nats-server): delivered/s`,
      Math.round(median(twoRate)),
      'msg/s',
    );
    add('  primary + workers + nats-server CPU busy during it', round(median(twoBusy), 2), 'cores');
    for (const [i, name] of ['primary', 'worker 1', 'worker 2', 'nats-server'].entries()) {
      add(`    of which ${name}`, round(median(twoSplit.map((split) => split[i] ?? 0)), 3), 'cores');
    }
    add('  client process busy during it (100 receivers + senders)', round(median(clientsBusy), 2), 'cores');
    add('  ratio 2 daemons / 1 daemon (per run, same run)', round(median(ratio), 3), '×', '≥ 1.5');
    add('deliveries per CPU-second, 1 daemon', Math.round(median(oneRate) / median(oneBusy)), 'msg/cpu-s');
    add(
      '  2 daemons (workers + primary + nats-server summed)',
      Math.round(median(twoRate) / median(twoBusy)),
      'msg/cpu-s',
    );
    add('  efficiency 2 daemons / 1 daemon (per run, same run)', round(median(efficiency), 3), '×', '≥ 0.8');
    const sum = (k: 'batches' | 'batchEvents' | 'conflicts' | 'opened' | 'openedEvents'): number =>
      counters.reduce((a, c) => a + c[k], 0);
    add(
      '  --workers 2: events per stored batch (both workers append)',
      round(sum('batchEvents') / sum('batches'), 1),
      '',
    );
    add('  compare-and-set conflicts per stored batch', round(sum('conflicts') / sum('batches'), 3), '');
    add(
      '  batch open (decrypt + parse) per event watched, in the workers (thread CPU)',
      round((counters.reduce((a, c) => a + c.openMs, 0) * 1000) / sum('openedEvents'), 2),
      'µs',
    );
    add(
      '  batch apply (numbering, ids, events to the room) per event, per worker',
      round((counters.reduce((a, c) => a + c.applyMs, 0) * 1000) / (sum('batchEvents') * 2), 2),
      'µs',
    );

    // Cross-daemon latency at half the two-daemon load: a sender on one worker, a probe on
    // the other; the same with both on one worker, for reference.
    const rate = median(twoRate) / MEMBERS / 2;
    const sender = workerOf.indexOf(1);
    const across = workerOf.lastIndexOf(0);
    const beside = workerOf.lastIndexOf(1);
    if (sender !== -1 && across !== -1 && beside !== -1 && beside !== sender) {
      const p50: number[] = [];
      const p99: number[] = [];
      const sameP50: number[] = [];
      const appendP50: number[] = [];
      const appendP99: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        await workers.probe();
        const r = await rpc<{ p50: number; p99: number } & Reply>(clients, 'latency', {
          key: 'two',
          rate,
          durationMs: 2000,
          sender,
          probe: across,
        });
        p50.push(r.p50);
        p99.push(r.p99);
        // The sender's worker alone appends: its acknowledgements, timed inside it.
        const appender = (await workers.probe()).reduce((a, b) => (b.appends > a.appends ? b : a));
        appendP50.push(appender.p50);
        appendP99.push(appender.p99);
        const s = await rpc<{ p50: number } & Reply>(clients, 'latency', {
          key: 'two',
          rate,
          durationMs: 2000,
          sender,
          probe: beside,
        });
        sameP50.push(s.p50);
      }
      add(
        `cross-daemon message latency at half load (${Math.round(rate)} msg/s × ${MEMBERS}), p50`,
        round(median(p50), 2),
        'ms',
      );
      add('  cross-daemon latency at half load, p99', round(median(p99), 2), 'ms');
      add('  sender and receiver on one worker, same load, p50', round(median(sameP50), 2), 'ms');
      add(
        "  JetStream append latency in the sender's worker (append → acknowledged), same load, p50",
        round(median(appendP50), 2),
        'ms',
      );
      add('  JetStream append latency in the worker, same load, p99', round(median(appendP99), 2), 'ms');
    } else {
      log('latency row skipped: the members did not spread over both workers');
    }
    await rpc(clients, 'closeFanout', { key: 'one' });
    await rpc(clients, 'closeFanout', { key: 'two' });

    // The model of N daemons on N cores, its inputs measured in the loop above.
    const perMessage = (rate: number, busy: number): number => busy / (rate / MEMBERS);
    const d1 = median(oneRate.map((r, i) => perMessage(r, oneBusy[i]!)));
    modelRows(add, modelInputs(d1, modelRuns), {
      cpuPerMessage: median(twoRate.map((r, i) => perMessage(r, twoBusy[i]!))),
      efficiency: median(efficiency),
    });

    // Handshakes/s: one process against --workers 2, interleaved.
    const flood = { room: 'flood', secrets, concurrency: 48 };
    await rpc(clients, 'flood', { ...flood, port: single.port, durationMs: 1000 });
    await rpc(clients, 'flood', { ...flood, port: workers.port, durationMs: 1000 });
    const hsOne: number[] = [];
    const hsTwo: number[] = [];
    const hsRatio: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const a = await rpc<{ ok: number } & Reply>(clients, 'flood', {
        ...flood,
        port: single.port,
        durationMs: 2000,
      });
      const b = await rpc<{ ok: number } & Reply>(clients, 'flood', {
        ...flood,
        port: workers.port,
        durationMs: 2000,
      });
      hsOne.push(a.ok / 2);
      hsTwo.push(b.ok / 2);
      hsRatio.push(b.ok / a.ok);
    }
    add('handshakes/s, one process (serve, flood of 48 clients)', Math.round(median(hsOne)), 'hs/s');
    add('handshakes/s, serve --workers 2', Math.round(median(hsTwo)), 'hs/s');
    add('  ratio --workers 2 / one process (per run, same run)', round(median(hsRatio), 3), '×');
  } finally {
    await model?.stop();
    clients.disconnect();
    await Promise.all([single.stop(), workers.stop()]);
  }
}

runRowsAlone(import.meta.url, clusterDaemonRows);
