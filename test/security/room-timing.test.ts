/**
 * An unknown room must not be told from a real one by how long srp_init takes: a real daemon
 * process, probed over raw TCP with srp_init for a real room and for unknown names, the two
 * kinds interleaved in random order so that load on the machine hits both alike. Sources are
 * spread over 127.0.x.y so the per-address handshake limits never delay a probe.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { type DaemonProcess, startDaemonProcess } from '../helpers/processes.js';
import { srpMath } from '../helpers/srp-math.js';

const PAIRS = 160;

let daemon: DaemonProcess;
before(async () => {
  daemon = await startDaemonProcess(['--room', 'real=timing-pw', '--legacy']);
});
after(() => daemon.stop());

/** Connects from `local`, then times srp_init → first reply line (connect time excluded). */
function probe(port: number, local: string, room: string, A: string): Promise<{ ms: number; reply: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress: local });
    let t0 = 0;
    let buf = '';
    sock.setNoDelay(true);
    sock.once('error', reject);
    sock.once('connect', () => {
      t0 = performance.now();
      sock.write(`${JSON.stringify({ cmd: 'srp_init', v: 3, room, A })}\n`);
    });
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      const ms = performance.now() - t0;
      sock.destroy();
      resolve({ ms, reply: buf.slice(0, nl) });
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Shape of a challenge: field names and value lengths, never the values. */
function shape(reply: string): string {
  const f = JSON.parse(reply) as Record<string, unknown>;
  return Object.keys(f)
    .sort()
    .map((k) => `${k}:${typeof f[k] === 'string' ? 'string' : JSON.stringify(f[k])}`)
    .join(',');
}

test('srp_init takes as long for an unknown room as for a real one, and looks the same', async () => {
  const A = srpMath.computeA(randomBytes(32)).toString('base64');
  const real: number[] = [];
  const unknown: number[] = [];
  /** unknown − real within each pair: a load that slows both probes of a pair cancels out. */
  const differences: number[] = [];
  let unknownSlower = 0;
  const shapes = new Set<string>();
  // Warm-up: JIT, OpenSSL context, socket paths.
  for (let i = 0; i < 10; i++) await probe(daemon.port, '127.0.9.1', i % 2 ? 'real' : `warm${i}`, A);
  for (let i = 0; i < PAIRS; i++) {
    // Two probes per source address, far below the per-address handshake burst.
    const local = `127.0.${1 + (i >> 7)}.${1 + (i & 127)}`;
    const realFirst = Math.random() < 0.5;
    const name = `nobody-${randomBytes(4).toString('hex')}`;
    const a = await probe(daemon.port, local, realFirst ? 'real' : name, A);
    const b = await probe(daemon.port, local, realFirst ? name : 'real', A);
    const [r, u] = realFirst ? [a, b] : [b, a];
    real.push(r.ms);
    unknown.push(u.ms);
    differences.push(u.ms - r.ms);
    if (u.ms > r.ms) unknownSlower++;
    shapes.add(shape(r.reply));
    shapes.add(shape(u.reply));
  }

  const medReal = median(real);
  const medUnknown = median(unknown);
  const medDifference = median(differences);
  // Min-of-k: the fastest of each block of 10, the statistic that told them apart 40/40.
  const minsReal: number[] = [];
  const minsUnknown: number[] = [];
  for (let i = 0; i + 10 <= PAIRS; i += 10) {
    minsReal.push(Math.min(...real.slice(i, i + 10)));
    minsUnknown.push(Math.min(...unknown.slice(i, i + 10)));
  }
  const minReal = median(minsReal);
  const minUnknown = median(minsUnknown);
  const detail =
    `median real ${medReal.toFixed(3)} ms, unknown ${medUnknown.toFixed(3)} ms, ` +
    `of the paired differences ${medDifference.toFixed(3)} ms; ` +
    `min-of-10 real ${minReal.toFixed(3)} ms, unknown ${minUnknown.toFixed(3)} ms; ` +
    `unknown slower in ${unknownSlower}/${PAIRS} pairs`;
  // Sign test on adjacent pairs: with no difference, "unknown slower" is a fair coin, so over
  // 160 pairs it lands in [0.5 ± 0.15] with probability > 0.9999 (0.15 is 3.8 standard
  // deviations of 0.04), whatever the machine's load, since each pair shares the same moment.
  // One extra modular exponentiation (the old decoy) makes the unknown room slower in about 9
  // pairs of 10. The bounds on the median paired difference and on min-of-10 are 15% of a
  // reply, below the 25-35% the extra exponentiation costs; the paired difference is taken
  // within each pair, so load that slows a whole pair (a busy machine) does not move it.
  const slowerShare = unknownSlower / PAIRS;
  assert.ok(slowerShare > 0.35 && slowerShare < 0.65, detail);
  assert.ok(Math.abs(medDifference) < 0.15 * medReal, detail);
  assert.ok(Math.abs(minUnknown - minReal) < 0.15 * minReal, detail);
  // Same fields, same kinds of value (the legacy flag included) for both kinds of room.
  assert.equal(shapes.size, 1, `challenges differ: ${[...shapes].join(' | ')}`);
});
