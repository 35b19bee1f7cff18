/**
 * Scale-out figures, real `serve` processes from the compiled CLI against each other in one
 * run: one 100-member room on one daemon, and spread over two (`serve --workers 2`: two
 * daemon processes on one port, joined through their private nats-server); the cross-daemon
 * message latency at half load; handshakes/s with `--workers 2` against one process. The
 * room's verifier reaches the daemons through a pipe (`--rooms-file /dev/fd/N`), nothing is
 * written to disk. CPU figures come from /proc (Linux). Runnable alone:
 * `node dist/test/bench/cluster-daemons.js`; `npm run bench` adds the rows.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { natsProblem } from '../helpers/nats.js';
import { builtCli } from '../helpers/paths.js';
import { freePort, NO_PACING_FLAGS } from '../helpers/processes.js';
import { connectionsByPid } from '../helpers/sockets.js';
import {
  type AddRow,
  benchRoomSecrets,
  median,
  type Reply,
  round,
  rpc,
  runRowsAlone,
  sleep,
} from './common.js';

const here = dirname(fileURLToPath(import.meta.url));
const PASSWORD = 'bench: correct horse battery staple';
const MEMBERS = 100;
const RUNS = 3;
/** What bench-daemon.ts's benchLimits lift, as `serve` flags: the clients all come from 127.0.0.1. */
const LIMIT_FLAGS = [
  ...['--max-clients', '4096', '--max-per-address', '4096', '--max-members', '1024', '--max-pending', '512'],
  ...NO_PACING_FLAGS,
  ...['--handshake-rate', '0', '--join-rate', '0'],
];

interface ServeTree {
  port: number;
  /** The primary (or the only daemon), the workers, and nats-server. */
  pids: () => number[];
  workerPids: number[];
  /** What it logged (the last 100 kB). */
  log(): string;
  stop(): Promise<void>;
}

/** `cmd-chat serve` with the bench rooms through a pipe; resolves once it listens. */
async function startServe(roomsFile: string, extra: string[]): Promise<ServeTree> {
  const port = await freePort();
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
    { env: { ...process.env, BENCH_ROOMS: roomsFile }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-100_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const until = Date.now() + 60_000;
  while (!/listening on /.test(err)) {
    if (Date.now() > until || child.exitCode !== null) throw new Error(`serve did not start:\n${err}`);
    await sleep(50);
  }
  const workerPids = [...err.matchAll(/worker \d+ \(pid (\d+)\) listening/g)].map((m) => Number(m[1]));
  const natsPid = /nats-server \(pid (\d+)\) ready/.exec(err)?.[1];
  return {
    port,
    workerPids,
    log: () => err,
    pids: () => [child.pid!, ...workerPids, ...(natsPid ? [Number(natsPid)] : [])],
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** CPU time (ms) the processes used so far, from /proc (utime + stime, 100 ticks/s). */
function cpuMs(pids: number[]): number {
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

async function forkClients(): Promise<ChildProcess> {
  const child = fork(join(here, 'bench-clients.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`bench-clients exited (${code})`)));
  });
  return child;
}

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
  const workers = await startServe(roomsFile, ['--workers', '2']);
  const clients = await forkClients();
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

    const load = { window: 4000, senders: 4, batch: 20, warmMs: 500, durationMs: 2000 };
    const measure = async (
      key: string,
      tree: ServeTree,
    ): Promise<{ rate: number; busy: number; clients: number }> => {
      // CPU between the clients' start and end marks (after the warm-up, before the drain).
      const marks: Array<{ cpu: number; at: number }> = [];
      const onMark = (m: Reply): void => {
        if (m.event === 'mark') marks.push({ cpu: cpuMs(tree.pids()), at: performance.now() });
      };
      clients.on('message', onMark);
      const r = await rpc<{ delivered: number; ms: number; lost: number; clientsBusy: number } & Reply>(
        clients,
        'throughput',
        { key, ...load },
      );
      clients.off('message', onMark);
      const [m0, m1] = marks as [{ cpu: number; at: number }, { cpu: number; at: number }];
      const busy = (m1.cpu - m0.cpu) / (m1.at - m0.at);
      if (r.lost > 0) {
        log(`${key}: ${r.lost} messages not seen by every member after the run`);
        const why = tree
          .log()
          .split('\n')
          .filter((l) => /silent|closed a connection|lost the NATS/.test(l));
        for (const line of why.slice(-5)) log(`  ${line}`);
      }
      return { rate: (r.delivered * 1000) / r.ms, busy, clients: r.clientsBusy };
    };
    await measure('one', single); // warm-up
    await measure('two', workers);
    const oneRate: number[] = [];
    const twoRate: number[] = [];
    const ratio: number[] = [];
    const oneBusy: number[] = [];
    const twoBusy: number[] = [];
    const clientsBusy: number[] = [];
    const efficiency: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const a = await measure('one', single);
      const b = await measure('two', workers);
      oneRate.push(a.rate);
      twoRate.push(b.rate);
      ratio.push(b.rate / a.rate);
      oneBusy.push(a.busy);
      twoBusy.push(b.busy);
      clientsBusy.push(b.clients);
      // Deliveries per CPU-second of the serving side (daemons and nats-server), 2 against 1.
      efficiency.push(b.rate / b.busy / (a.rate / a.busy));
    }
    add('100-member room on 1 daemon (serve): delivered/s', Math.round(median(oneRate)), 'msg/s');
    add('  daemon CPU busy during it (1.0 = one core)', round(median(oneBusy), 2), 'cores');
    add(
      `same room over 2 daemons (--workers 2, ${onFirst}+${MEMBERS - onFirst} members, + nats-server): delivered/s`,
      Math.round(median(twoRate)),
      'msg/s',
    );
    add('  primary + workers + nats-server CPU busy during it', round(median(twoBusy), 2), 'cores');
    add('  client process busy during it (100 receivers + senders)', round(median(clientsBusy), 2), 'cores');
    add('  ratio 2 daemons / 1 daemon (per run, same run)', round(median(ratio), 3), '×', '≥ 1.5');
    add('deliveries per CPU-second, 1 daemon', Math.round(median(oneRate) / median(oneBusy)), 'msg/cpu-s');
    add(
      '  2 daemons (workers + primary + nats-server summed)',
      Math.round(median(twoRate) / median(twoBusy)),
      'msg/cpu-s',
    );
    add('  efficiency 2 daemons / 1 daemon (per run, same run)', round(median(efficiency), 3), '×', '≥ 0.8');

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
      for (let run = 0; run < RUNS; run++) {
        const r = await rpc<{ p50: number; p99: number } & Reply>(clients, 'latency', {
          key: 'two',
          rate,
          durationMs: 2000,
          sender,
          probe: across,
        });
        p50.push(r.p50);
        p99.push(r.p99);
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
    } else {
      log('latency row skipped: the members did not spread over both workers');
    }
    await rpc(clients, 'closeFanout', { key: 'one' });
    await rpc(clients, 'closeFanout', { key: 'two' });

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
    clients.disconnect();
    await Promise.all([single.stop(), workers.stop()]);
  }
}

runRowsAlone(import.meta.url, clusterDaemonRows);
