/**
 * The client side of the benchmark, run as its own process (forked by bench.ts) so the
 * daemon has a core to itself: handshake floods, the 100-member room (closed-loop maximum
 * throughput and open-loop latency at a given rate), and 1,000 idle joined connections.
 * Everything is bounded by count and time, talks to 127.0.0.1 only, and reports over IPC.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { openEnvelope, sealEnvelope } from '../../lib/crypto/envelope.js';
import { Fernet } from '../../lib/crypto/fernet.js';
import { createMemberKeys, signMessage } from '../../lib/crypto/identity.js';
import { srpMath } from '../helpers/srp-math.js';
import type { BenchSecrets, Request } from './common.js';
import { percentile, serve, sleep } from './common.js';
import { authenticate, BareMember, type BenchMember, SecureMember, SrpRoomClient } from './wire.js';

const srpClients = new Map<string, SrpRoomClient>();
/** A valid SRP A (g^a for a fixed a) the stranger replays. */
const STRANGER_A = srpMath.computeA(Buffer.alloc(32, 7)).toString('base64');

function srpFor(room: string, secrets: BenchSecrets): SrpRoomClient {
  let c = srpClients.get(room);
  if (!c) {
    c = new SrpRoomClient(room, secrets);
    srpClients.set(room, c);
  }
  return c;
}

/** Runs `tasks` with at most `limit` in flight. */
async function pool<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return out;
}

interface FanoutSetup {
  mode: 'secure' | 'bare';
  members: BenchMember[];
  fernet: Fernet;
  /** Ready-made message frames (real Fernet envelopes; the daemon cannot tell them apart). */
  frames: string[];
  /**
   * For the signed/unsigned comparison: `signed` as our clients send messages (envelope id and
   * Ed25519 signature), `unsigned` the same without the signature, `padded` unsigned with a
   * body padded to the signed frame's length (the daemon's cost per byte, signatures aside).
   */
  variants: Record<FrameVariant, string[]>;
  sent: number;
}

type FrameVariant = 'plain' | 'signed' | 'unsigned' | 'padded';

const setups = new Map<string, FanoutSetup>();
const idle: BenchMember[] = [];
const BODY = 'benchmark message body, 64 characters long, as a chat line is..';

function mark(phase: string): void {
  process.send?.({ id: -1, event: 'mark', phase });
}

function minCount(members: BenchMember[]): number {
  let m = Number.POSITIVE_INFINITY;
  for (const x of members) if (x.count < m) m = x.count;
  return m;
}

function sumCount(members: BenchMember[]): number {
  let s = 0;
  for (const x of members) s += x.count;
  return s;
}

async function drain(setup: FanoutSetup, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (minCount(setup.members) < setup.sent && performance.now() < until) await sleep(20);
}

serve({
  fanoutSetup: async (req: Request) => {
    const key = String(req.key);
    const mode = req.mode === 'bare' ? 'bare' : 'secure';
    const port = Number(req.port);
    const count = Number(req.members);
    const members = await pool<BenchMember>(count, 16, (i) =>
      mode === 'bare'
        ? BareMember.join(port, `m${i}`)
        : SecureMember.join(port, srpFor(String(req.room), req.secrets as BenchSecrets), `m${i}`),
    );
    const fernet = mode === 'bare' ? new Fernet(randomBytes(32)) : (members[0] as SecureMember).fernet;
    const variants: Record<FrameVariant, string[]> = { plain: [], signed: [], unsigned: [], padded: [] };
    const frame = (envelope: Parameters<typeof sealEnvelope>[1]): string =>
      JSON.stringify({ type: 'message', text: sealEnvelope(fernet, envelope) });
    const keys = createMemberKeys();
    for (let i = 0; i < 64; i++) {
      variants.plain.push(frame({ from: 'm0', kind: 'text', body: BODY }));
      const id = `${'A'.repeat(20)}${String.fromCharCode(65 + (i % 26))}A`;
      const sig = signMessage(keys, { userId: 'm0', id, kind: 'text', body: BODY });
      const signed = frame({ from: 'm0', id, kind: 'text', body: BODY, sig });
      variants.signed.push(signed);
      variants.unsigned.push(frame({ from: 'm0', id, kind: 'text', body: BODY }));
      // Fernet pads to 16-byte blocks: grow the body until the frame is at least as long.
      let body = BODY;
      let padded = frame({ from: 'm0', id, kind: 'text', body });
      while (padded.length < signed.length) {
        body += '.';
        padded = frame({ from: 'm0', id, kind: 'text', body });
      }
      variants.padded.push(padded);
    }
    setups.set(key, { mode, members, fernet, frames: variants.plain, variants, sent: 0 });
    await sleep(300); // let the user_joined fan-out of the last joins settle
    return { members: members.length, frameBytes: variants.plain[0]!.length };
  },

  /** Switches a setup's message frames (same members, same room): see `FanoutSetup.variants`. */
  useFrames: async (req: Request) => {
    const setup = setups.get(String(req.key))!;
    setup.frames = setup.variants[req.variant as FrameVariant];
    return { frameBytes: setup.frames[0]!.length };
  },

  /**
   * Closed loop: keep at most `window` messages not yet seen by every member in flight; or,
   * with `rate`, open loop: `rate` messages/s in records of `batch`, paced by a 1 ms timer.
   */
  throughput: async (req: Request) => {
    const setup = setups.get(String(req.key))!;
    const { members, frames } = setup;
    const windowSize = Number(req.window);
    const senders = Number(req.senders);
    const batch = Number(req.batch);
    const rate = req.rate === undefined ? 0 : Number(req.rate);
    let sender = 0;
    let f = 0;
    let running = true;
    const sendRecord = (): void => {
      const out: string[] = new Array(batch);
      for (let i = 0; i < batch; i++) out[i] = frames[f++ % frames.length]!;
      members[sender]!.sendFrames(out);
      sender = (sender + 1) % senders;
      setup.sent += batch;
    };
    const pump = (): void => {
      if (!running) return;
      let room = windowSize - (setup.sent - minCount(members));
      while (room >= batch) {
        sendRecord();
        room -= batch;
      }
    };
    let timer: NodeJS.Timeout | undefined;
    if (rate > 0) {
      const start = performance.now();
      const sent0 = setup.sent;
      timer = setInterval(() => {
        const due = sent0 + Math.floor(((performance.now() - start) * rate) / 1000);
        while (setup.sent + batch <= due) sendRecord();
      }, 1);
    } else {
      for (const m of members) m.onData = pump;
      pump();
    }
    await sleep(Number(req.warmMs));
    mark('start');
    const c0 = sumCount(members);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await sleep(Number(req.durationMs));
    const c1 = sumCount(members);
    const t1 = performance.now();
    const cpu1 = process.cpuUsage(cpu0);
    mark('end');
    running = false;
    clearInterval(timer);
    for (const m of members) m.onData = undefined;
    await drain(setup, 10_000);
    return {
      delivered: c1 - c0,
      ms: t1 - t0,
      clientsBusy: (cpu1.user + cpu1.system) / 1000 / (t1 - t0),
      lost: setup.sent - minCount(members),
    };
  },

  /** The client-side ports of a setup's members, in order (secure members only). */
  localPorts: async (req: Request) => {
    const setup = setups.get(String(req.key))!;
    return { ports: setup.members.map((m) => (m instanceof SecureMember ? (m.localPort ?? 0) : 0)) };
  },

  /**
   * Open loop at `rate` messages/s from member 0 (or `sender`); the last member (or `probe`)
   * decrypts and times each.
   */
  latency: async (req: Request) => {
    const setup = setups.get(String(req.key))!;
    const { members, fernet } = setup;
    const rate = Number(req.rate);
    const sender = members[req.sender === undefined ? 0 : Number(req.sender)]!;
    const probe = members[req.probe === undefined ? members.length - 1 : Number(req.probe)]!;
    const samples: number[] = [];
    probe.onFrame = (frame) => {
      if (!frame.startsWith('{"type":"message"')) return;
      const data = (JSON.parse(frame) as { data: { text: string } }).data;
      const env = openEnvelope(fernet, data.text);
      const t = (JSON.parse(env.body) as { t: number }).t;
      samples.push(performance.now() - t);
    };
    const pad = BODY.slice(0, 40);
    const start = performance.now();
    let n = 0;
    const timer = setInterval(() => {
      const due = Math.floor(((performance.now() - start) * rate) / 1000);
      const out: string[] = [];
      while (n < due) {
        const body = JSON.stringify({ t: performance.now(), pad });
        out.push(
          JSON.stringify({ type: 'message', text: sealEnvelope(fernet, { from: 'm0', kind: 'text', body }) }),
        );
        n++;
      }
      // A stalled timer must not make one record over the daemon's record bound.
      for (let i = 0; i < out.length; i += 64) sender.sendFrames(out.slice(i, i + 64));
    }, 1);
    await sleep(Number(req.durationMs));
    clearInterval(timer);
    setup.sent += n;
    await drain(setup, 10_000);
    probe.onFrame = undefined;
    return {
      sent: n,
      received: samples.length,
      p50: percentile(samples, 50),
      p99: percentile(samples, 99),
      achievedRate: (n * 1000) / Number(req.durationMs),
    };
  },

  /** `concurrency` loops of connect + full v2 handshake + close, for `durationMs`. */
  flood: async (req: Request) => {
    const srp = srpFor(String(req.room), req.secrets as BenchSecrets);
    const port = Number(req.port);
    const deadline = performance.now() + Number(req.durationMs);
    let ok = 0;
    let failed = 0;
    let lastError = '';
    const loop = async (): Promise<void> => {
      while (performance.now() < deadline) {
        try {
          const a = await authenticate(port, srp);
          a.sock.destroy();
          ok++;
        } catch (err) {
          failed++;
          lastError = err instanceof Error ? err.message : String(err);
          await sleep(5);
        }
      }
    };
    await Promise.all(Array.from({ length: Number(req.concurrency) }, loop));
    return { ok, failed, lastError };
  },

  /**
   * A stranger from one address replaying srp_init with a fixed A on `concurrency`
   * connections: each connection sends it, waits for the first reply line (a challenge or a
   * refusal) or the close, and is replaced at once. Never sends a proof.
   */
  strangerFlood: async (req: Request) => {
    const port = Number(req.port);
    const deadline = performance.now() + Number(req.durationMs);
    const line = `${JSON.stringify({ cmd: 'srp_init', v: 3, room: String(req.room), A: STRANGER_A })}\n`;
    let challenges = 0;
    let refused = 0;
    const once = (): Promise<void> =>
      new Promise((resolve) => {
        const sock = net.connect({ host: '127.0.0.1', port });
        let got = '';
        const done = (): void => {
          sock.destroy();
          resolve();
        };
        sock.once('connect', () => sock.write(line));
        sock.on('data', (d: Buffer) => {
          got += d.toString('latin1');
          if (!got.includes('\n')) return;
          if (got.includes('"B"')) challenges++;
          else refused++;
          done();
        });
        sock.once('error', done);
        sock.once('close', done);
      });
    const loop = async (): Promise<void> => {
      while (performance.now() < deadline) await once();
    };
    await Promise.all(Array.from({ length: Number(req.concurrency) }, loop));
    return { challenges, refused };
  },

  /** Opens `perRoom` joined members in each room and keeps them. */
  idle: async (req: Request) => {
    const rooms = req.rooms as string[];
    const perRoom = Number(req.perRoom);
    const secrets = req.secrets as BenchSecrets;
    const opened = await pool(rooms.length * perRoom, 32, (i) =>
      SecureMember.join(Number(req.port), srpFor(rooms[i % rooms.length]!, secrets), `idle${i}`),
    );
    idle.push(...opened);
    return { joined: opened.length };
  },

  closeIdle: async () => {
    for (const m of idle.splice(0)) m.close();
    return {};
  },

  closeFanout: async (req: Request) => {
    const setup = setups.get(String(req.key));
    for (const m of setup?.members ?? []) m.close();
    setups.delete(String(req.key));
    return {};
  },
});
process.send?.({ id: 0, ready: true });
