/**
 * `npm run bench`: the performance figures of QUALITY.md "Performance" in one table.
 *
 * Process tree (everything on 127.0.0.1, nothing written to disk):
 * - this orchestrator: derives the bench room secrets once, runs the in-process SRP figures
 *   (handshake.ts), times the CLI (`--help`, launch to joined), and runs a latency probe
 *   member during the handshake flood;
 * - bench-daemon.js: the real Daemon (and a second one as the bare relay), each in its own
 *   process reporting CPU, event-loop delay, memory and counters over IPC;
 * - bench-clients.js: light clients (wire-level handshakes, record-counting members).
 * Each figure is the median of several runs; comparisons are ratios within one run.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEnvelope, sealEnvelope } from '../../lib/crypto/envelope.js';
import { Fernet } from '../../lib/crypto/fernet.js';
import {
  createMemberKeys,
  openCard,
  sealCard,
  signMessage,
  verifyMessage,
} from '../../lib/crypto/identity.js';
import { deriveMaster, srpPasswordV2 } from '../../lib/crypto/kdf.js';
import { computeVerifier } from '../../lib/crypto/srp.js';
import { type DaemonLimits, defaultDaemonLimits } from '../../lib/protocol/limits.js';
import { builtCli, cliPath } from '../helpers/paths.js';
import { clusterBusRows } from './cluster-bus.js';
import { clusterDaemonRows } from './cluster-daemons.js';
import {
  type BenchRoom,
  type BenchSecrets,
  median,
  percentile,
  type Reply,
  round,
  rpc,
  sleep,
  type TableRow,
} from './common.js';
import { benchHandshake } from './handshake.js';
import { keepaliveRows } from './keepalive.js';
import { reconnectRows } from './reconnect.js';
import { replRows } from './repl.js';
import { SecureMember, SrpRoomClient } from './wire.js';

const here = dirname(fileURLToPath(import.meta.url));
const PASSWORD = 'bench: correct horse battery staple';
const RUNS = 5;
const MEMBERS = 100;
const IDLE_ROOMS = 10;
const IDLE_PER_ROOM = 100;
/** `--only stranger`: just the stranger-flood row (and the secrets it needs). */
const ONLY_STRANGER =
  process.argv.includes('--only') && process.argv[process.argv.indexOf('--only') + 1] === 'stranger';

interface Mark {
  cpuMs: number;
  at: number;
  eldP99: number;
  eldMax: number;
  stats: { handshakesOk?: number; handshakesFailed?: number; members?: number };
}

const rows: TableRow[] = [];
const children: ChildProcess[] = [];

function log(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

async function forkChild(file: string, execArgv: string[] = []): Promise<ChildProcess> {
  const child = fork(join(here, file), [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`${file} exited (${code}) before it was ready`)));
  });
  return child;
}

async function startDaemon(
  mode: 'secure' | 'bare',
  rooms: BenchRoom[],
  limits: Partial<DaemonLimits> = {},
): Promise<{ proc: ChildProcess; port: number }> {
  const proc = await forkChild('bench-daemon.js', ['--expose-gc']);
  const { port } = await rpc<{ port: number }>(proc, 'start', { mode, rooms, limits });
  return { proc, port };
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

/** Wall time of `node <args>` from spawn to exit (or to the first stdout line if asked). */
function timeNode(args: string[], untilFirstLine = false): Promise<number> {
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

function add(name: string, value: number, unit: string, target?: string): void {
  rows.push(target === undefined ? { name, value, unit } : { name, value, unit, target });
}

/** A member that sends a ping every `everyMs` and times the pong (the daemon answers it itself). */
function pingProbe(member: SecureMember, everyMs: number): { stop: () => number[] } {
  const samples: number[] = [];
  member.onFrame = (frame) => {
    if (!frame.startsWith('{"type":"pong"')) return;
    samples.push(performance.now() - (JSON.parse(frame) as { t: number }).t);
  };
  const timer = setInterval(() => {
    member.sendFrames([JSON.stringify({ type: 'ping', t: performance.now() })]);
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      member.onFrame = undefined;
      return samples;
    },
  };
}

/**
 * A bystander's ping p99 while a stranger floods srp_init from one address, against a daemon
 * with the default per-address limits (connections, handshake rate). Runnable alone:
 * `node dist/test/bench/bench.js --only stranger`.
 */
async function strangerRow(rooms: BenchRoom[], secrets: BenchSecrets, clients: ChildProcess): Promise<void> {
  log('stranger flooding srp_init from one address');
  const d = await startDaemon('secure', rooms, {
    maxClientsPerAddress: defaultDaemonLimits.maxClientsPerAddress,
    handshakeRatePerSource: defaultDaemonLimits.handshakeRatePerSource,
    maxPendingHandshakes: defaultDaemonLimits.maxPendingHandshakes,
  });
  const bystander = await SecureMember.join(d.port, new SrpRoomClient('probe', secrets, 4), 'bystander');
  const idle: number[] = [];
  const p99: number[] = [];
  const challenges: number[] = [];
  const refused: number[] = [];
  const cpu: number[] = [];
  const joins: number[] = [];
  {
    const p = pingProbe(bystander, 10);
    await sleep(1000);
    idle.push(percentile(p.stop(), 99));
  }
  for (let run = 0; run < 3; run++) {
    const m0 = await rpc<Mark & Reply>(d.proc, 'mark', { resetEld: true });
    const p = pingProbe(bystander, 10);
    const flood = rpc<{ challenges: number; refused: number } & Reply>(clients, 'strangerFlood', {
      port: d.port,
      room: 'flood',
      concurrency: 48,
      durationMs: 2000,
    });
    // Real joins from another address during the flood: connect, handshake, join.
    await sleep(300);
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const m = await SecureMember.join(
        d.port,
        new SrpRoomClient('probe', secrets, 1),
        `joiner${run}-${i}`,
        '127.0.0.2',
      );
      joins.push(performance.now() - t0);
      m.close();
      await sleep(200);
    }
    const r = await flood;
    const m1 = await rpc<Mark & Reply>(d.proc, 'mark');
    p99.push(percentile(p.stop(), 99));
    const seconds = (m1.at - m0.at) / 1000;
    challenges.push(r.challenges / seconds);
    refused.push(r.refused / seconds);
    cpu.push((m1.cpuMs - m0.cpuMs) / (m1.at - m0.at));
  }
  bystander.close();
  await stopChild(d.proc);
  add(
    'bystander ping p99 while a stranger floods srp_init from one address',
    round(median(p99), 2),
    'ms',
    '≤ 20',
  );
  add('  bystander ping p99, no flood (same daemon)', round(median(idle), 2), 'ms');
  add(
    '  a real join during the flood (connect → handshake → init), max of 9',
    round(Math.max(...joins), 1),
    'ms',
  );
  add('  challenges/s the stranger got (per-address rate)', round(median(challenges), 1), '/s');
  add('  connections/s refused busy (per-address cap)', Math.round(median(refused)), '/s');
  add('  daemon CPU busy during it (1.0 = one core)', round(median(cpu), 2), 'cores');
}

/** A member that sends a timestamped message every `everyMs` and times the echo (encrypt → daemon → decrypt). */
function echoProbe(member: SecureMember, everyMs: number): { stop: () => number[] } {
  const samples: number[] = [];
  member.onFrame = (frame) => {
    if (!frame.startsWith('{"type":"message"')) return;
    const { text } = (JSON.parse(frame) as { data: { text: string } }).data;
    const { t } = JSON.parse(openEnvelope(member.fernet, text).body) as { t: number };
    samples.push(performance.now() - t);
  };
  const timer = setInterval(() => {
    const body = JSON.stringify({ t: performance.now() });
    const text = sealEnvelope(member.fernet, { from: 'probe', kind: 'text', body });
    member.sendFrames([JSON.stringify({ type: 'message', text })]);
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      member.onFrame = undefined;
      return samples;
    },
  };
}

/** What a member signature costs a client: one sign per message sent, one verify per message received. */
function signatureCpuRows(): void {
  const room = new Fernet(randomBytes(32));
  const keys = createMemberKeys();
  const card = openCard(room, sealCard(room, keys, 'bench-1'), 'bench-1');
  const m = {
    userId: 'bench-1',
    id: 'AAAAAAAAAAAAAAAAAAAAAA',
    kind: 'text',
    body: 'benchmark message body, 64 characters long, as a chat line is..',
  };
  const perOp = (fn: () => void): number => {
    const samples: number[] = [];
    for (let run = 0; run < 5; run++) {
      const t0 = performance.now();
      for (let i = 0; i < 500; i++) fn();
      samples.push(((performance.now() - t0) * 1000) / 500);
    }
    return median(samples);
  };
  const sig = signMessage(keys, m);
  add(
    'client: Ed25519 sign per message sent',
    round(
      perOp(() => signMessage(keys, m)),
      1,
    ),
    'µs',
  );
  add(
    'client: Ed25519 verify per message received',
    round(
      perOp(() => verifyMessage(card, m, sig)),
      1,
    ),
    'µs',
  );
}

async function main(): Promise<void> {
  const started = performance.now();

  // 8. SRP and record-layer CPU figures, in this process.
  if (!ONLY_STRANGER) {
    log('SRP / channel CPU figures (handshake.ts)');
    for (const r of await benchHandshake()) rows.push(r);
    signatureCpuRows();
  }

  // 6. Cold start of the CLI.
  const nodeBare: number[] = [];
  const help: number[] = [];
  const serveHelp: number[] = [];
  if (!ONLY_STRANGER) {
    log('cold start');
    for (let i = 0; i < 10; i++) {
      nodeBare.push(await timeNode(['-e', '0']));
      help.push(await timeNode([cliPath, '--help']));
      serveHelp.push(await timeNode([cliPath, 'serve', '--help']));
    }
    add('cmd-chat --help cold start (wall)', round(median(help), 1), 'ms', '≤ 150');
    add('  cmd-chat serve --help (pre-rendered, as --help)', round(median(serveHelp), 1), 'ms', '≤ 150');
    add('  (node -e 0 on this machine, for reference)', round(median(nodeBare), 1), 'ms');
  }

  // Room secrets: one scrypt for the whole run, a verifier per room name.
  const salt = randomBytes(16);
  const master = await deriveMaster(PASSWORD, salt);
  const srpPassword = srpPasswordV2(master);
  const secrets: BenchSecrets = {
    master: master.toString('base64'),
    srpPassword: srpPassword.toString('base64'),
  };
  const roomNames = [
    'bench',
    'probe',
    'flood',
    'launch',
    ...Array.from({ length: IDLE_ROOMS }, (_, i) => `idle${i}`),
  ];
  const rooms: BenchRoom[] = roomNames.map((name) => ({
    name,
    salt: salt.toString('base64'),
    verifier: computeVerifier(name, srpPassword, salt).toString('base64'),
  }));
  const srp = (room: string): SrpRoomClient => new SrpRoomClient(room, secrets, 4);

  if (ONLY_STRANGER) {
    const clients = await forkChild('bench-clients.js');
    await strangerRow(rooms, secrets, clients);
    clients.disconnect();
    printTable((performance.now() - started) / 1000);
    return;
  }

  const secure = await startDaemon('secure', rooms);
  const bare = await startDaemon('bare', []);
  const clients = await forkChild('bench-clients.js');
  let markTarget: ChildProcess | undefined;
  let marks: Promise<Mark>[] = [];
  clients.on('message', (m: Reply) => {
    if (m.event === 'mark' && markTarget) marks.push(rpc<Mark & Reply>(markTarget, 'mark'));
  });

  // 7. Launch to joined session, minus the key derivation measured in the same run.
  log('launch to joined');
  const seed = await SecureMember.join(secure.port, srp('launch'), 'seed');
  seed.sendFrames([
    JSON.stringify({
      type: 'message',
      text: sealEnvelope(seed.fernet, { from: 'seed', kind: 'text', body: 'hi' }),
    }),
  ]);
  await sleep(100);
  seed.close();
  const launch: number[] = [];
  const kdf: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // The first output line is the room history replayed right after the join.
    launch.push(
      await timeNode(
        [
          builtCli,
          'connect',
          '127.0.0.1',
          String(secure.port),
          `launch${i}`,
          PASSWORD,
          '--room',
          'launch',
          '--history',
        ],
        true,
      ),
    );
    const t0 = performance.now();
    await deriveMaster(PASSWORD, randomBytes(16));
    kdf.push(performance.now() - t0);
  }
  add('launch → joined session (wall, `connect` pipe mode)', round(median(launch), 1), 'ms');
  add('  key derivation (scrypt) in the same run', round(median(kdf), 1), 'ms');
  add('  launch → joined minus key derivation', round(median(launch) - median(kdf), 1), 'ms');

  // 1 + 2. Handshake flood, with a probe member measuring delivery in another room.
  log('handshake flood');
  const probe = await SecureMember.join(secure.port, srp('probe'), 'probe');
  {
    await rpc(secure.proc, 'mark', { resetEld: true });
    const p = echoProbe(probe, 10);
    await sleep(1000);
    const idleMark = await rpc<Mark & Reply>(secure.proc, 'mark', { resetEld: true });
    const s = p.stop();
    add('daemon event-loop delay p99, idle (probe only)', round(idleMark.eldP99, 2), 'ms');
    add('  probe echo latency p50, idle', round(percentile(s, 50), 2), 'ms');
  }
  const floodArgs = { port: secure.port, room: 'flood', secrets, concurrency: 48 };
  await rpc(clients, 'flood', { ...floodArgs, durationMs: 1000 }); // warm-up
  const hsRate: number[] = [];
  const hsCpu: number[] = [];
  const hsEld: number[] = [];
  const hsEldMax: number[] = [];
  const probeP50: number[] = [];
  const probeP99: number[] = [];
  let floodFailed = 0;
  for (let run = 0; run < RUNS; run++) {
    const m0 = await rpc<Mark & Reply>(secure.proc, 'mark', { resetEld: true });
    const p = echoProbe(probe, 10);
    const r = await rpc<{ ok: number; failed: number; lastError: string } & Reply>(clients, 'flood', {
      ...floodArgs,
      durationMs: 2000,
    });
    const m1 = await rpc<Mark & Reply>(secure.proc, 'mark');
    const s = p.stop();
    const ok = (m1.stats.handshakesOk ?? 0) - (m0.stats.handshakesOk ?? 0);
    floodFailed += r.failed;
    if (r.failed > 0) log(`flood run ${run}: ${r.failed} failed (${r.lastError})`);
    hsRate.push((ok * 1000) / (m1.at - m0.at));
    hsCpu.push((m1.cpuMs - m0.cpuMs) / ok);
    hsEld.push(m1.eldP99);
    hsEldMax.push(m1.eldMax);
    probeP50.push(percentile(s, 50));
    probeP99.push(percentile(s, 99));
  }
  probe.close();
  add(
    'handshakes/s completed by the daemon (flood, 48 clients)',
    Math.round(median(hsRate)),
    'hs/s',
    '≥ 500',
  );
  add('daemon CPU per handshake (accept → H_AMK → close)', round(median(hsCpu), 3), 'ms', '≤ 2');
  add('  = handshakes per daemon CPU-second', Math.round(1000 / median(hsCpu)), 'hs/s');
  add('daemon event-loop delay p99 under the flood', round(median(hsEld), 2), 'ms', '≤ 20');
  add('  event-loop delay max under the flood', round(median(hsEldMax), 2), 'ms');
  add('  message echo latency p50 in a room during the flood', round(median(probeP50), 2), 'ms');
  add('  message echo latency p99 in a room during the flood', round(median(probeP99), 2), 'ms');
  if (floodFailed > 0) add('  failed handshakes during the flood (all runs)', floodFailed, 'count');

  await strangerRow(rooms, secrets, clients);

  // 3 + 4. One room, 100 members: secure daemon and bare relay, runs interleaved.
  log('100-member room fan-out');
  const setupS = await rpc<{ frameBytes: number } & Reply>(clients, 'fanoutSetup', {
    key: 'secure',
    mode: 'secure',
    port: secure.port,
    room: 'bench',
    secrets,
    members: MEMBERS,
  });
  await rpc(clients, 'fanoutSetup', { key: 'bare', mode: 'bare', port: bare.port, members: MEMBERS });
  const load = { window: 4000, senders: 4, batch: 20, warmMs: 500, durationMs: 2000 };
  const secureRate: number[] = [];
  const bareRate: number[] = [];
  const ratio: number[] = [];
  const daemonBusy: number[] = [];
  const perCpu: number[] = [];
  const bareBusy: number[] = [];
  const clientsBusy: number[] = [];
  const measure = async (
    key: string,
    proc: ChildProcess,
  ): Promise<{ rate: number; busy: number; perCpuSecond: number; clientsBusy: number }> => {
    markTarget = proc;
    marks = [];
    const r = await rpc<{ delivered: number; ms: number; lost: number; clientsBusy: number } & Reply>(
      clients,
      'throughput',
      {
        key,
        ...load,
      },
    );
    const [m0, m1] = await Promise.all(marks);
    markTarget = undefined;
    if (r.lost > 0) log(`${key}: ${r.lost} messages not seen by every member after the run`);
    const cpu = m1!.cpuMs - m0!.cpuMs;
    return {
      rate: (r.delivered * 1000) / r.ms,
      busy: cpu / (m1!.at - m0!.at),
      perCpuSecond: r.delivered / (cpu / 1000),
      clientsBusy: r.clientsBusy,
    };
  };
  await measure('secure', secure.proc); // warm-up
  await measure('bare', bare.proc);
  const signedRate: number[] = [];
  const signedRatio: number[] = [];
  let signedBytes = 0;
  for (let run = 0; run < RUNS; run++) {
    const s = await measure('secure', secure.proc);
    const b = await measure('bare', bare.proc);
    // The same fan-out with signed envelopes (as our clients send them), interleaved.
    signedBytes = (
      await rpc<{ frameBytes: number } & Reply>(clients, 'useSignedFrames', { key: 'secure', signed: true })
    ).frameBytes;
    const sig = await measure('secure', secure.proc);
    await rpc(clients, 'useSignedFrames', { key: 'secure', signed: false });
    signedRate.push(sig.rate);
    signedRatio.push(sig.rate / s.rate);
    secureRate.push(s.rate);
    bareRate.push(b.rate);
    ratio.push(s.rate / b.rate);
    daemonBusy.push(s.busy);
    perCpu.push(s.perCpuSecond);
    bareBusy.push(b.busy);
    clientsBusy.push(s.clientsBusy);
  }
  const maxRate = median(secureRate);
  add(
    `100-member room: delivered messages/s (${setupS.frameBytes}-byte frames)`,
    Math.round(maxRate),
    'msg/s',
    '≥ 400000',
  );
  add('  daemon CPU busy during it (1.0 = one core)', round(median(daemonBusy), 2), 'cores');
  add('  delivered per daemon CPU-second', Math.round(median(perCpu)), 'msg/s');
  add('  client process busy during it (100 receivers + senders)', round(median(clientsBusy), 2), 'cores');
  add('bare relay (no crypto) same fan-out: delivered/s', Math.round(median(bareRate)), 'msg/s');
  add('  relay CPU busy during it', round(median(bareBusy), 2), 'cores');
  add('ratio secure / bare (per run, same run)', round(median(ratio), 3), '×');
  add(
    `signed messages, same fan-out: delivered/s (${signedBytes}-byte frames)`,
    Math.round(median(signedRate)),
    'msg/s',
  );
  add('  ratio signed / unsigned (per run, same run)', round(median(signedRatio), 3), '×', '≥ 0.9');

  const rate = maxRate / MEMBERS / 2;
  const latP50: number[] = [];
  const latP99: number[] = [];
  for (let run = 0; run < 3; run++) {
    const r = await rpc<{ p50: number; p99: number; received: number; sent: number } & Reply>(
      clients,
      'latency',
      {
        key: 'secure',
        rate,
        durationMs: 2000,
      },
    );
    latP50.push(r.p50);
    latP99.push(r.p99);
  }
  add(`  latency p50 at half load (${Math.round(rate)} msg/s × ${MEMBERS})`, round(median(latP50), 2), 'ms');
  add('  latency p99 at half load', round(median(latP99), 2), 'ms');
  await rpc(clients, 'closeFanout', { key: 'secure' });
  await rpc(clients, 'closeFanout', { key: 'bare' });
  await stopChild(bare.proc);
  await stopChild(secure.proc);

  // 5. Memory per idle joined connection, fresh daemon each run.
  log('1,000 idle connections');
  const rssPer: number[] = [];
  const heapPer: number[] = [];
  for (let run = 0; run < 3; run++) {
    const d = await startDaemon('secure', rooms);
    const warm = await SecureMember.join(d.port, srp('idle0'), 'warm');
    warm.close();
    await sleep(100);
    const before = await rpc<{ rss: number; heapUsed: number } & Reply>(d.proc, 'memory');
    const { joined } = await rpc<{ joined: number } & Reply>(clients, 'idle', {
      port: d.port,
      rooms: rooms.filter((r) => r.name.startsWith('idle')).map((r) => r.name),
      perRoom: IDLE_PER_ROOM,
      secrets,
    });
    await sleep(500);
    const after = await rpc<{ rss: number; heapUsed: number } & Reply>(d.proc, 'memory');
    rssPer.push((after.rss - before.rss) / joined / 1024);
    heapPer.push((after.heapUsed - before.heapUsed) / joined / 1024);
    await rpc(clients, 'closeIdle');
    await stopChild(d.proc);
  }
  add('daemon RSS per idle joined connection (1,000)', round(median(rssPer), 1), 'KiB', '≤ 64');
  add('  JS heap per idle joined connection', round(median(heapPer), 1), 'KiB');

  clients.disconnect();

  // The cluster bus alone (cluster-bus.ts; also runnable by itself).
  await clusterBusRows(add, log);
  // The interactive client in a real pty (repl.ts; also runnable by itself).
  await replRows(add, log);
  // Keepalive (keepalive.ts; also runnable by itself).
  await keepaliveRows(add, log);
  // Scale-out: one daemon against two (cluster-daemons.ts; also runnable by itself).
  await clusterDaemonRows(add, log);
  // Reconnect after a restart and across cuts (reconnect.ts; also runnable by itself).
  await reconnectRows(add, log);
  printTable((performance.now() - started) / 1000);
}

function passes(value: number, target: string): boolean {
  const m = /^([≤≥])\s*([\d.]+)/.exec(target.replace(/[,\s](?=\d)/g, ''));
  if (!m) return true;
  const bound = Number(m[2]);
  return m[1] === '≤' ? value <= bound : value >= bound;
}

function printTable(seconds: number): void {
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

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  process.exitCode = 1;
});
