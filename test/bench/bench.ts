/**
 * `npm run bench`: the performance figures of QUALITY.md "Performance" in one table. Each row
 * below is runnable alone: `npm run bench -- <part of its name>...` (`-- --list` names them).
 *
 * Process tree (everything on 127.0.0.1, nothing written to disk):
 * - this orchestrator: derives the bench room secrets once, runs the in-process SRP figures
 *   (handshake.ts), times the CLI (`--help`, launch to joined), and runs a latency probe
 *   member during the handshake flood;
 * - bench-daemon.js: the real Daemon (or the bare relay), started for one row in its own
 *   process (harness.ts `withDaemon`) reporting CPU, event-loop delay, memory and counters
 *   over IPC;
 * - bench-clients.js: light clients (wire-level handshakes, record-counting members).
 * Each figure is the median of several runs; comparisons are ratios within one run.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openEnvelope, sealEnvelope } from '../../lib/crypto/envelope.js';
import { Fernet } from '../../lib/crypto/fernet.js';
import {
  createMemberKeys,
  openCard,
  sealCard,
  signMessage,
  verifyMessage,
} from '../../lib/crypto/identity.js';
import { deriveIdentitySeed } from '../../lib/crypto/identity-key.js';
import { deriveMaster } from '../../lib/crypto/kdf.js';
import { safetyPhrase } from '../../lib/crypto/safety-phrase.js';
import { defaultDaemonLimits } from '../../lib/protocol/limits.js';
import { builtCli, cliPath } from '../helpers/paths.js';
import { backlogMemoryRows } from './backlog.js';
import { clusterBusRows } from './cluster-bus.js';
import { clusterDaemonRows } from './cluster-daemons.js';
import { median, percentile, type Reply, round, rpc, sleep } from './common.js';
import { benchHandshake } from './handshake.js';
import {
  type BenchContext,
  type BenchDaemon,
  type BenchRow,
  FANOUT_LOAD,
  IDLE_ROOMS,
  PASSWORD,
  RUNS,
  runBench,
  timeNode,
} from './harness.js';
import { jetStreamRows } from './jetstream.js';
import { keepaliveRows } from './keepalive.js';
import { logCpuRows } from './log-cpu.js';
import { natsFloorRows } from './nats-floor.js';
import { originalRows } from './original.js';
import { reconnectRows } from './reconnect.js';
import { replRows } from './repl.js';
import { resumeRows } from './resume.js';
import { sameLoadRows } from './same-load.js';
import { SecureMember, SrpRoomClient } from './wire.js';

const MEMBERS = 100;
const IDLE_PER_ROOM = 100;

/**
 * A member that sends `frame()` every `everyMs` and keeps the latency `latency(frame)` reads
 * from each frame it gets back (undefined: not an answer to the probe).
 */
function probe(
  member: SecureMember,
  everyMs: number,
  frame: () => string,
  latency: (received: string) => number | undefined,
): { stop: () => number[] } {
  const samples: number[] = [];
  member.onFrame = (received) => {
    const ms = latency(received);
    if (ms !== undefined) samples.push(ms);
  };
  const timer = setInterval(() => member.sendFrames([frame()]), everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      member.onFrame = undefined;
      return samples;
    },
  };
}

/** A member that sends a ping every `everyMs` and times the pong (the daemon answers it itself). */
function pingProbe(member: SecureMember, everyMs: number): { stop: () => number[] } {
  return probe(
    member,
    everyMs,
    () => JSON.stringify({ type: 'ping', t: performance.now() }),
    (received) =>
      received.startsWith('{"type":"pong"')
        ? performance.now() - (JSON.parse(received) as { t: number }).t
        : undefined,
  );
}

/** A member that sends a timestamped message every `everyMs` and times the echo (encrypt → daemon → decrypt). */
function echoProbe(member: SecureMember, everyMs: number): { stop: () => number[] } {
  return probe(
    member,
    everyMs,
    () => {
      const body = JSON.stringify({ t: performance.now() });
      const text = sealEnvelope(member.fernet, { from: 'probe', kind: 'text', body });
      return JSON.stringify({ type: 'message', text });
    },
    (received) => {
      if (!received.startsWith('{"type":"message"')) return undefined;
      const { text } = (JSON.parse(received) as { data: { text: string } }).data;
      const { t } = JSON.parse(openEnvelope(member.fernet, text).body) as { t: number };
      return performance.now() - t;
    },
  );
}

/** What a member signature costs a client: one sign per message sent, one verify per message received. */
async function signatureCpuRows(ctx: BenchContext): Promise<void> {
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
  ctx.add(
    'client: Ed25519 sign per message sent',
    round(
      perOp(() => signMessage(keys, m)),
      1,
    ),
    'µs',
  );
  ctx.add(
    'client: Ed25519 verify per message received',
    round(
      perOp(() => verifyMessage(card, m, sig)),
      1,
    ),
    'µs',
  );
}

/**
 * What an identity and a safety phrase cost: one scrypt each (also the cost of one guess at
 * an identity passphrase, and of one try at grinding a safety phrase; docs/security.md).
 */
async function trustKdfRows(ctx: BenchContext): Promise<void> {
  const timed = async (fn: () => Promise<unknown>): Promise<number> => {
    const samples: number[] = [];
    for (let run = 0; run < 3; run++) {
      const t0 = performance.now();
      await fn();
      samples.push(performance.now() - t0);
    }
    return median(samples);
  };
  const phrase = 'orbit velvet frost maple zebra tunnel pilot horse';
  ctx.add(
    'client: identity key from a passphrase (scrypt N=2^18, r=8)',
    round(await timed(() => deriveIdentitySeed(phrase, 'bench')), 0),
    'ms',
  );
  const members = Array.from({ length: 20 }, (_, i) => ({ name: `m${i}`, signPublic: randomBytes(32) }));
  ctx.add(
    'client: room safety phrase, 20 members (scrypt N=2^15, r=8)',
    round(await timed(() => safetyPhrase('ABCD-EFGH-IJKL-MNOP-QRST', members)), 0),
    'ms',
  );
}

/**
 * A bystander's ping p99 while a stranger floods srp_init from one address, against a daemon
 * with the default per-address limits (connections, handshake rate).
 */
async function strangerRow(ctx: BenchContext): Promise<void> {
  ctx.log('stranger flooding srp_init from one address');
  await ctx.secrets();
  const clients = await ctx.clients();
  const limits = {
    maxClientsPerAddress: defaultDaemonLimits.maxClientsPerAddress,
    handshakeRatePerSource: defaultDaemonLimits.handshakeRatePerSource,
    maxPendingHandshakes: defaultDaemonLimits.maxPendingHandshakes,
  };
  await ctx.withDaemon('secure', (d) => strangerRuns(ctx, d, clients), limits);
}

async function strangerRuns(ctx: BenchContext, d: BenchDaemon, clients: ChildProcess): Promise<void> {
  const { secrets } = await ctx.secrets();
  const bystander = await SecureMember.join(d.port, ctx.srp('probe'), 'bystander');
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
    const m0 = await d.mark(true);
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
    const m1 = await d.mark();
    p99.push(percentile(p.stop(), 99));
    const seconds = (m1.at - m0.at) / 1000;
    challenges.push(r.challenges / seconds);
    refused.push(r.refused / seconds);
    cpu.push((m1.cpuMs - m0.cpuMs) / (m1.at - m0.at));
  }
  bystander.close();
  ctx.add(
    'bystander ping p99 while a stranger floods srp_init from one address',
    round(median(p99), 2),
    'ms',
    '≤ 20',
  );
  ctx.add('  bystander ping p99, no flood (same daemon)', round(median(idle), 2), 'ms');
  ctx.add(
    '  a real join during the flood (connect → handshake → init), max of 9',
    round(Math.max(...joins), 1),
    'ms',
  );
  ctx.add('  challenges/s the stranger got (per-address rate)', round(median(challenges), 1), '/s');
  ctx.add('  connections/s refused busy (per-address cap)', Math.round(median(refused)), '/s');
  ctx.add('  daemon CPU busy during it (1.0 = one core)', round(median(cpu), 2), 'cores');
}

/** SRP and record-layer CPU figures, in this process (handshake.ts). */
async function srpRows(ctx: BenchContext): Promise<void> {
  ctx.log('SRP / channel CPU figures (handshake.ts)');
  for (const r of await benchHandshake()) ctx.add(r.name, r.value, r.unit, r.target);
}

/** Cold start of the CLI. */
async function coldStartRows(ctx: BenchContext): Promise<void> {
  ctx.log('cold start');
  const nodeBare: number[] = [];
  const help: number[] = [];
  const serveHelp: number[] = [];
  for (let i = 0; i < 10; i++) {
    nodeBare.push(await timeNode(['-e', '0']));
    help.push(await timeNode([cliPath, '--help']));
    serveHelp.push(await timeNode([cliPath, 'serve', '--help']));
  }
  ctx.add('cmd-chat --help cold start (wall)', round(median(help), 1), 'ms', '≤ 150');
  ctx.add('  cmd-chat serve --help (pre-rendered, as --help)', round(median(serveHelp), 1), 'ms', '≤ 150');
  ctx.add('  (node -e 0 on this machine, for reference)', round(median(nodeBare), 1), 'ms');
}

/** Launch to joined session, minus the key derivation measured in the same run. */
async function launchRows(ctx: BenchContext): Promise<void> {
  ctx.log('launch to joined');
  await ctx.secrets();
  await ctx.withDaemon('secure', async (d) => {
    const seed = await SecureMember.join(d.port, ctx.srp('launch'), 'seed');
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
      // The first output line is the room history (--history) replayed right after the join.
      launch.push(
        await timeNode(
          [
            builtCli,
            'connect',
            '127.0.0.1',
            String(d.port),
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
    ctx.add('launch → joined session (wall, `connect` pipe mode)', round(median(launch), 1), 'ms');
    ctx.add('  key derivation (scrypt) in the same run', round(median(kdf), 1), 'ms');
    ctx.add('  launch → joined minus key derivation', round(median(launch) - median(kdf), 1), 'ms');
  });
}

/** Handshake flood, with a probe member measuring delivery in another room. */
async function handshakeFloodRows(ctx: BenchContext): Promise<void> {
  ctx.log('handshake flood');
  const { secrets } = await ctx.secrets();
  const clients = await ctx.clients();
  await ctx.withDaemon('secure', async (d) => {
    const probe = await SecureMember.join(d.port, ctx.srp('probe'), 'probe');
    {
      await d.mark(true);
      const p = echoProbe(probe, 10);
      await sleep(1000);
      const idleMark = await d.mark(true);
      const s = p.stop();
      ctx.add('daemon event-loop delay p99, idle (probe only)', round(idleMark.eldP99, 2), 'ms');
      ctx.add('  probe echo latency p50, idle', round(percentile(s, 50), 2), 'ms');
    }
    const floodArgs = { port: d.port, room: 'flood', secrets, concurrency: 48 };
    await rpc(clients, 'flood', { ...floodArgs, durationMs: 1000 }); // warm-up
    const hsRate: number[] = [];
    const hsCpu: number[] = [];
    const hsEld: number[] = [];
    const hsEldMax: number[] = [];
    const probeP50: number[] = [];
    const probeP99: number[] = [];
    let floodFailed = 0;
    for (let run = 0; run < RUNS; run++) {
      const m0 = await d.mark(true);
      const p = echoProbe(probe, 10);
      const r = await rpc<{ ok: number; failed: number; lastError: string } & Reply>(clients, 'flood', {
        ...floodArgs,
        durationMs: 2000,
      });
      const m1 = await d.mark();
      const s = p.stop();
      const ok = (m1.stats.handshakesOk ?? 0) - (m0.stats.handshakesOk ?? 0);
      floodFailed += r.failed;
      if (r.failed > 0) ctx.log(`flood run ${run}: ${r.failed} failed (${r.lastError})`);
      hsRate.push((ok * 1000) / (m1.at - m0.at));
      hsCpu.push((m1.cpuMs - m0.cpuMs) / ok);
      hsEld.push(m1.eldP99);
      hsEldMax.push(m1.eldMax);
      probeP50.push(percentile(s, 50));
      probeP99.push(percentile(s, 99));
    }
    probe.close();
    ctx.add(
      'handshakes/s completed by the daemon (flood, 48 clients)',
      Math.round(median(hsRate)),
      'hs/s',
      '≥ 500',
    );
    ctx.add('daemon CPU per handshake (accept → H_AMK → close)', round(median(hsCpu), 3), 'ms', '≤ 2');
    ctx.add('  = handshakes per daemon CPU-second', Math.round(1000 / median(hsCpu)), 'hs/s');
    ctx.add('daemon event-loop delay p99 under the flood', round(median(hsEld), 2), 'ms', '≤ 20');
    ctx.add('  event-loop delay max under the flood', round(median(hsEldMax), 2), 'ms');
    ctx.add('  message echo latency p50 in a room during the flood', round(median(probeP50), 2), 'ms');
    ctx.add('  message echo latency p99 in a room during the flood', round(median(probeP99), 2), 'ms');
    if (floodFailed > 0) ctx.add('  failed handshakes during the flood (all runs)', floodFailed, 'count');
  });
}

/** Joins `MEMBERS` light members to the bench room of `d` as fan-out setup `key`; returns the frame size. */
async function fanoutSetup(
  ctx: BenchContext,
  key: string,
  d: BenchDaemon,
  mode: 'secure' | 'bare',
): Promise<number> {
  const clients = await ctx.clients();
  const { secrets } = await ctx.secrets();
  const args = mode === 'secure' ? { room: 'bench', secrets } : {};
  const r = await rpc<{ frameBytes: number } & Reply>(clients, 'fanoutSetup', {
    key,
    mode,
    port: d.port,
    members: MEMBERS,
    ...args,
  });
  return r.frameBytes;
}

/** One room, 100 members: the secure daemon and the bare relay, runs interleaved; latency at half load. */
async function fanoutRows(ctx: BenchContext): Promise<void> {
  ctx.log('100-member room fan-out');
  const clients = await ctx.clients();
  await ctx.withDaemon('secure', (secure) =>
    ctx.withDaemon('bare', async (bare) => {
      const frameBytes = await fanoutSetup(ctx, 'secure', secure, 'secure');
      await fanoutSetup(ctx, 'bare', bare, 'bare');
      const secureRate: number[] = [];
      const bareRate: number[] = [];
      const ratio: number[] = [];
      const daemonBusy: number[] = [];
      const perCpu: number[] = [];
      const bareBusy: number[] = [];
      const clientsBusy: number[] = [];
      await ctx.fanout('secure', secure, FANOUT_LOAD); // warm-up
      await ctx.fanout('bare', bare, FANOUT_LOAD);
      for (let run = 0; run < RUNS; run++) {
        const s = await ctx.fanout('secure', secure, FANOUT_LOAD);
        const b = await ctx.fanout('bare', bare, FANOUT_LOAD);
        secureRate.push(s.rate);
        bareRate.push(b.rate);
        ratio.push(s.rate / b.rate);
        daemonBusy.push(s.busy);
        perCpu.push(s.perCpuSecond);
        bareBusy.push(b.busy);
        clientsBusy.push(s.clientsBusy);
      }
      const maxRate = median(secureRate);
      ctx.add(
        `100-member room: delivered messages/s (${frameBytes}-byte frames)`,
        Math.round(maxRate),
        'msg/s',
        '≥ 400000',
      );
      ctx.add('  daemon CPU busy during it (1.0 = one core)', round(median(daemonBusy), 2), 'cores');
      ctx.add('  delivered per daemon CPU-second', Math.round(median(perCpu)), 'msg/s');
      ctx.add(
        '  client process busy during it (100 receivers + senders)',
        round(median(clientsBusy), 2),
        'cores',
      );
      ctx.add('bare relay (no crypto) same fan-out: delivered/s', Math.round(median(bareRate)), 'msg/s');
      ctx.add('  relay CPU busy during it', round(median(bareBusy), 2), 'cores');
      ctx.add('ratio secure / bare (per run, same run)', round(median(ratio), 3), '×');

      const rate = maxRate / MEMBERS / 2;
      const latP50: number[] = [];
      const latP99: number[] = [];
      for (let run = 0; run < 3; run++) {
        const r = await rpc<{ p50: number; p99: number; received: number; sent: number } & Reply>(
          clients,
          'latency',
          { key: 'secure', rate, durationMs: 2000 },
        );
        latP50.push(r.p50);
        latP99.push(r.p99);
      }
      ctx.add(
        `  latency p50 at half load (${Math.round(rate)} msg/s × ${MEMBERS})`,
        round(median(latP50), 2),
        'ms',
      );
      ctx.add('  latency p99 at half load', round(median(latP99), 2), 'ms');
      await rpc(clients, 'closeFanout', { key: 'secure' });
      await rpc(clients, 'closeFanout', { key: 'bare' });
    }),
  );
}

/**
 * The same 100-member fan-out with signed envelopes (as our clients send them) and unsigned
 * ones, runs interleaved on one daemon: signatures are checked by clients, never the daemon.
 */
async function fanoutSignedRows(ctx: BenchContext): Promise<void> {
  ctx.log('100-member room fan-out, signed vs unsigned');
  const clients = await ctx.clients();
  await ctx.withDaemon('secure', async (d) => {
    await fanoutSetup(ctx, 'signed', d, 'secure');
    const use = async (variant: 'signed' | 'unsigned' | 'padded'): Promise<number> =>
      (await rpc<{ frameBytes: number } & Reply>(clients, 'useFrames', { key: 'signed', variant }))
        .frameBytes;
    const bytes = {
      signed: await use('signed'),
      unsigned: await use('unsigned'),
      padded: await use('padded'),
    };
    const rate = async (variant: 'signed' | 'unsigned' | 'padded'): Promise<number> => {
      await use(variant);
      return (await ctx.fanout('signed', d, FANOUT_LOAD)).rate;
    };
    await rate('signed'); // warm-up
    await rate('unsigned');
    const rates = { signed: [] as number[], unsigned: [] as number[], padded: [] as number[] };
    const ratio: number[] = [];
    const paddedRatio: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const u = await rate('unsigned');
      const s = await rate('signed');
      const p = await rate('padded');
      rates.unsigned.push(u);
      rates.signed.push(s);
      rates.padded.push(p);
      ratio.push(s / u);
      paddedRatio.push(s / p);
    }
    ctx.add(
      `signed messages, same fan-out: delivered/s (${bytes.signed}-byte frames)`,
      Math.round(median(rates.signed)),
      'msg/s',
    );
    ctx.add(
      `  unsigned in the same runs (${bytes.unsigned}-byte frames)`,
      Math.round(median(rates.unsigned)),
      'msg/s',
    );
    ctx.add(
      '  ratio signed / unsigned, closed loop (bound by the one client process)',
      round(median(ratio), 3),
      '×',
    );
    ctx.add(
      `  unsigned padded to the signed size (${bytes.padded}-byte frames)`,
      Math.round(median(rates.padded)),
      'msg/s',
    );
    ctx.add(
      "  ratio signed / padded unsigned (the daemon's cost per byte)",
      round(median(paddedRatio), 3),
      '×',
    );
    // The daemon's side: one open-loop load for every variant (half the signed maximum), so
    // batching is alike and the daemon's CPU per delivery differs only by what a frame costs.
    const load = { ...FANOUT_LOAD, rate: Math.round(median(rates.signed) / MEMBERS / 2) };
    const perCpu = { signed: [] as number[], unsigned: [] as number[], padded: [] as number[] };
    const cpuRatio: number[] = [];
    const cpuPaddedRatio: number[] = [];
    const steady = async (variant: 'signed' | 'unsigned' | 'padded'): Promise<number> => {
      await use(variant);
      const r = await ctx.fanout('signed', d, load);
      perCpu[variant].push(r.perCpuSecond);
      return r.perCpuSecond;
    };
    for (let run = 0; run < RUNS; run++) {
      const u = await steady('unsigned');
      const s = await steady('signed');
      const p = await steady('padded');
      cpuRatio.push(s / u);
      cpuPaddedRatio.push(s / p);
    }
    const us = (xs: number[]): number => round(1e6 / median(xs), 3);
    ctx.add(
      `  daemon CPU per delivery, signed, at one load (${load.rate} msg/s × ${MEMBERS})`,
      us(perCpu.signed),
      'µs',
    );
    ctx.add('  daemon CPU per delivery, unsigned, same load', us(perCpu.unsigned), 'µs');
    ctx.add('  daemon CPU per delivery, unsigned padded to the signed size', us(perCpu.padded), 'µs');
    ctx.add(
      'ratio signed / unsigned on the daemon (deliveries per CPU-second, same load)',
      round(median(cpuRatio), 3),
      '×',
      '≥ 0.9',
    );
    ctx.add('  ratio signed / padded unsigned on the daemon', round(median(cpuPaddedRatio), 3), '×');
    await rpc(clients, 'closeFanout', { key: 'signed' });
  });
}

/** Memory per idle joined connection, fresh daemon each run. */
async function idleMemoryRows(ctx: BenchContext): Promise<void> {
  ctx.log('1,000 idle connections');
  const { secrets, rooms } = await ctx.secrets();
  const clients = await ctx.clients();
  const rssPer: number[] = [];
  const heapPer: number[] = [];
  for (let run = 0; run < 3; run++) {
    await ctx.withDaemon('secure', async (d) => {
      const warm = await SecureMember.join(d.port, ctx.srp('idle0'), 'warm');
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
    });
  }
  ctx.add(
    `daemon RSS per idle joined connection (${(IDLE_ROOMS * IDLE_PER_ROOM).toLocaleString('en')})`,
    round(median(rssPer), 1),
    'KiB',
    '≤ 64',
  );
  ctx.add('  JS heap per idle joined connection', round(median(heapPer), 1), 'KiB');
}

/** Every row, in table order; `npm run bench -- <word>` runs those whose name contains it. */
export const benchRows: BenchRow[] = [
  { name: 'srp', run: srpRows },
  { name: 'signature-cpu', run: signatureCpuRows },
  { name: 'trust-kdf', run: trustKdfRows },
  { name: 'cold-start', run: coldStartRows },
  { name: 'launch', run: launchRows },
  { name: 'handshake-flood', run: handshakeFloodRows },
  { name: 'stranger', run: strangerRow },
  { name: 'fanout', run: fanoutRows },
  { name: 'fanout-signed', run: fanoutSignedRows },
  { name: 'idle-memory', run: idleMemoryRows },
  { name: 'backlog-memory', run: backlogMemoryRows },
  // v2 and v3 daemons at one load (same-load.ts; skips without the old build).
  { name: 'same-load', run: sameLoadRows },
  // Against the original Python daemon (original.ts; skips without a checkout of it).
  { name: 'original', run: originalRows },
  { name: 'cluster-bus', run: (ctx) => clusterBusRows(ctx.add.bind(ctx), ctx.log.bind(ctx)) },
  // Room logs on JetStream: batched appends, latency, layout (jetstream.ts; also runnable by itself).
  { name: 'jetstream', run: (ctx) => jetStreamRows(ctx.add.bind(ctx), ctx.log.bind(ctx)) },
  // What JetStream itself costs per event, before any daemon code (nats-floor.ts; also alone).
  { name: 'nats-floor', run: (ctx) => natsFloorRows(ctx.add.bind(ctx), ctx.log.bind(ctx)) },
  // The room logs' own CPU per event, in process (log-cpu.ts; also runnable by itself).
  { name: 'log-cpu', run: (ctx) => logCpuRows(ctx.add.bind(ctx), ctx.log.bind(ctx)) },
  // The interactive client in a real pty (repl.ts; also runnable by itself).
  { name: 'repl-latency', run: (ctx) => replRows(ctx.add.bind(ctx), ctx.log.bind(ctx), 'latency') },
  { name: 'repl-memory', run: (ctx) => replRows(ctx.add.bind(ctx), ctx.log.bind(ctx), 'memory') },
  // Keepalive (keepalive.ts; also runnable by itself).
  { name: 'keepalive', run: (ctx) => keepaliveRows(ctx.add.bind(ctx), ctx.log.bind(ctx)) },
  // Scale-out: one daemon against two (cluster-daemons.ts; also runnable by itself).
  { name: 'scale-out', run: (ctx) => clusterDaemonRows(ctx.add.bind(ctx), ctx.log.bind(ctx)) },
  // Reconnect after a restart and across cuts (reconnect.ts; also runnable by itself).
  { name: 'reconnect', run: (ctx) => reconnectRows(ctx.add.bind(ctx), ctx.log.bind(ctx)) },
  // Resume after a 5 s outage at 1,000 msg/s, one daemon and --workers 2 (resume.ts; also alone).
  { name: 'resume', run: (ctx) => resumeRows(ctx.add.bind(ctx), ctx.log.bind(ctx)) },
];

runBench(benchRows, process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
