/**
 * Benchmark of the cryptographic core (not a test): daemon-side SRP handshake CPU cost, the
 * client side, key derivation, and Fernet / channel throughput. CPU time comes from
 * process.cpuUsage (user + system) so a noisy shared machine inflates it less than wall time;
 * each figure is the median over several runs. Exported for the main bench; runs when executed
 * directly: `node dist/test/bench/handshake.js`.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { ChannelOpener, ChannelSealer } from '../../lib/crypto/channel.js';
import { Fernet } from '../../lib/crypto/fernet.js';
import { channelKeys, deriveMaster, srpPasswordV2 } from '../../lib/crypto/kdf.js';
import { computeVerifier, SrpClient, SrpServer, warmUp } from '../../lib/crypto/srp.js';
import { srpMath } from '../helpers/srp-math.js';

export interface Row {
  name: string;
  value: number;
  unit: string;
  target?: string;
}

const RUNS = 5;
const HANDSHAKES = 300;

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

interface Prepared {
  A: Buffer;
  b: Buffer;
  M: Buffer;
}

/** Client messages for n handshakes, made outside the timed section. */
function prepare(identity: string, password: Buffer, salt: Buffer, verifier: Buffer, n: number): Prepared[] {
  const out: Prepared[] = [];
  for (let i = 0; i < n; i++) {
    const client = new SrpClient(identity, password);
    const b = randomBytes(32);
    const B = srpMath.computeB(verifier, b);
    out.push({ A: client.A, b, M: client.processChallenge(salt, B) });
  }
  return out;
}

export async function benchHandshake(): Promise<Row[]> {
  const rows: Row[] = [];

  let t0 = performance.now();
  warmUp();
  rows.push({
    name: 'SRP: OpenSSL DH context creation (once per process)',
    value: round(performance.now() - t0, 1),
    unit: 'ms',
  });

  const identity = 'bench-room';
  const salt = randomBytes(16);
  const kdfWall: number[] = [];
  let master: Buffer = Buffer.alloc(0);
  for (let i = 0; i < 3; i++) {
    t0 = performance.now();
    master = await deriveMaster('correct horse battery staple', salt);
    kdfWall.push(performance.now() - t0);
  }
  rows.push({
    name: 'client key derivation: scrypt N=2^15 r=8 (wall)',
    value: round(median(kdfWall), 1),
    unit: 'ms',
  });
  const password = srpPasswordV2(master);
  const verifier = computeVerifier(identity, password, salt);

  // Daemon side: SrpServer construction (B, u, S, K, expected proofs) + verify(M).
  const serverMs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const prepared = prepare(identity, password, salt, verifier, HANDSHAKES);
    let ok = 0;
    const c0 = cpuMicros();
    for (const p of prepared) {
      const server = new SrpServer({ identity, salt, verifier, A: p.A, secret: p.b });
      if (server.verify(p.M)) ok++;
      server.destroy();
    }
    const c1 = cpuMicros();
    if (ok !== HANDSHAKES) throw new Error(`benchmark handshakes failed: ${HANDSHAKES - ok}`);
    serverMs.push((c1 - c0) / 1000 / HANDSHAKES);
  }
  const perHs = median(serverMs);
  rows.push({
    name: 'daemon CPU per SRP handshake (B + S + verify)',
    value: round(perHs),
    unit: 'ms',
    target: '≤ 2 ms',
  });
  rows.push({
    name: 'daemon SRP handshakes per CPU-second',
    value: Math.round(1000 / perHs),
    unit: 'hs/s',
    target: '≥ 500',
  });

  // Client side: A, then x, v, S, M from the challenge, then the H_AMK check.
  const clientMs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const n = 60;
    const bs = Array.from({ length: n }, () => randomBytes(32));
    const Bs = bs.map((b) => srpMath.computeB(verifier, b));
    let cpu = 0;
    for (let i = 0; i < n; i++) {
      let c0 = cpuMicros();
      const client = new SrpClient(identity, password);
      const M = client.processChallenge(salt, Bs[i]!);
      cpu += cpuMicros() - c0;
      const hamk = new SrpServer({ identity, salt, verifier, A: client.A, secret: bs[i]! }).verify(M);
      c0 = cpuMicros();
      if (!hamk || !client.verifySession(hamk)) throw new Error('benchmark client handshake failed');
      cpu += cpuMicros() - c0;
    }
    clientMs.push(cpu / 1000 / n);
  }
  rows.push({
    name: 'client CPU per SRP handshake (excl. scrypt)',
    value: round(median(clientMs)),
    unit: 'ms',
  });

  // Fernet: encrypt + decrypt of a 100-byte message body.
  const fernet = new Fernet(randomBytes(32));
  const body = 'x'.repeat(100);
  const fernetRates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const n = 5_000;
    const c0 = cpuMicros();
    for (let i = 0; i < n; i++) fernet.decrypt(fernet.encrypt(body));
    fernetRates.push(n / ((cpuMicros() - c0) / 1e6));
  }
  rows.push({
    name: 'Fernet encrypt+decrypt, 100-byte body',
    value: Math.round(median(fernetRates)),
    unit: 'ops/s',
  });

  // Channel: one seal (the daemon's per-member-per-tick cost) and one open of a 200-byte record.
  const { c2s } = channelKeys(randomBytes(32));
  const frame = JSON.stringify({ type: 'message', data: { id: 'x'.repeat(22), text: 'y'.repeat(140) } });
  const sealRates: number[] = [];
  const openRates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const n = 20_000;
    const sealer = new ChannelSealer(c2s);
    const opener = new ChannelOpener(c2s);
    const records: Buffer[] = new Array(n);
    let c0 = cpuMicros();
    for (let i = 0; i < n; i++) records[i] = sealer.sealRecord(frame);
    sealRates.push(n / ((cpuMicros() - c0) / 1e6));
    c0 = cpuMicros();
    for (let i = 0; i < n; i++) opener.openRecord(records[i]!);
    openRates.push(n / ((cpuMicros() - c0) / 1e6));
  }
  rows.push({
    name: `channel seal, ${frame.length}-byte record`,
    value: Math.round(median(sealRates)),
    unit: 'records/s',
  });
  rows.push({
    name: `channel open, ${frame.length}-byte record`,
    value: Math.round(median(openRates)),
    unit: 'records/s',
  });
  return rows;
}

function printRows(rows: Row[]): void {
  const w = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) {
    const target = r.target ? `   (target ${r.target})` : '';
    process.stdout.write(`${r.name.padEnd(w)}  ${String(r.value).padStart(10)} ${r.unit}${target}\n`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchHandshake().then(printRows, (e: unknown) => {
    process.stderr.write(`benchmark failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
