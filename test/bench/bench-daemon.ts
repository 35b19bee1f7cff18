/**
 * The daemon side of the benchmark, run as its own process (forked by bench.ts, with
 * --expose-gc): either the real Daemon with static bench rooms on 127.0.0.1, or a minimal
 * bare relay with the same newline framing and no crypto at all (the floor). It reports its
 * own CPU time, event-loop delay (perf_hooks.monitorEventLoopDelay), memory and daemon
 * counters over IPC; it writes nothing anywhere else.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { warmUp } from '../../lib/crypto/srp.js';
import { type DaemonLimits, defaultDaemonLimits } from '../../lib/protocol/limits.js';
import { Daemon } from '../../lib/server/daemon.js';
import { keepYoungGenerationSmall } from '../../lib/server/heap.js';
import { RoomRegistry } from '../../lib/server/rooms.js';
import { tcpServer } from '../../lib/transport/tcp.js';
import { silentLogger } from '../helpers/silent-logger.js';
import type { BenchRoom, Request } from './common.js';
import { serve } from './common.js';
import { LineSplitter } from './wire.js';

const eld = monitorEventLoopDelay({ resolution: 1 });
eld.enable();
let daemon: Daemon | undefined;
let relay: net.Server | undefined;

/**
 * Bench limits: no rate limit, room for 1,000+ connections and handshakes from one address
 * (the bench's clients all come from 127.0.0.1). The stranger-flood row starts a daemon with
 * the default per-address limits instead (`limits` of the start request).
 */
function benchLimits(overrides: Partial<DaemonLimits>): DaemonLimits {
  return {
    ...defaultDaemonLimits,
    rateFramesPerSecond: 0,
    rateBytesPerSecond: 0,
    maxClients: 4096,
    maxClientsPerAddress: 4096,
    maxMembersPerRoom: 1024,
    maxPendingHandshakes: 512,
    handshakeRatePerSource: 0,
    joinRatePerSource: 0,
    roomRateBytesPerSecond: 0,
    ...overrides,
  };
}

async function startSecure(rooms: BenchRoom[], overrides: Partial<DaemonLimits>): Promise<number> {
  const limits = benchLimits(overrides);
  const registry = new RoomRegistry({ ...limits, openRooms: false });
  for (const r of rooms) {
    registry.addStatic(r.name, {
      identity: Buffer.from(r.name, 'utf8'),
      salt: Buffer.from(r.salt, 'base64'),
      verifier: Buffer.from(r.verifier, 'base64'),
      roomSalt: randomBytes(16),
    });
  }
  warmUp(); // as `serve` would pay it at start-up, not at the first handshake
  daemon = new Daemon({ limits, registry, logger: silentLogger });
  const listener = await daemon.listen(tcpServer({ host: '127.0.0.1', port: 0 }));
  return listener.port!;
}

interface BareConn {
  sock: net.Socket;
  id: string;
  name: string;
  outbox: string[];
  scheduled: boolean;
}

/**
 * The floor: newline-delimited JSON, `join` registers a member, `message` is stamped like the
 * daemon does (id, timestamp, sender) and serialised once; each member's frames of one tick
 * go out in one write, as the daemon's records do. No handshake, no channel, no limits.
 */
function startBare(): Promise<number> {
  const members = new Set<BareConn>();
  let nextId = 1;
  const flush = (m: BareConn): void => {
    m.scheduled = false;
    if (m.outbox.length === 0 || m.sock.destroyed) return;
    const out = m.outbox.join('\n');
    m.outbox = [];
    m.sock.write(`${out}\n`);
  };
  const push = (m: BareConn, json: string): void => {
    m.outbox.push(json);
    if (!m.scheduled) {
      m.scheduled = true;
      setImmediate(() => flush(m));
    }
  };
  relay = net.createServer({ noDelay: true }, (sock) => {
    const conn: BareConn = {
      sock,
      id: randomBytes(8).toString('hex'),
      name: '',
      outbox: [],
      scheduled: false,
    };
    const splitter = new LineSplitter();
    sock.on('data', (chunk: Buffer) =>
      splitter.push(chunk, (line) => {
        const frame = JSON.parse(line.toString('utf8')) as { type: string; text?: string; username?: string };
        if (frame.type === 'join') {
          conn.name = String(frame.username);
          members.add(conn);
          push(conn, JSON.stringify({ type: 'init' }));
        } else if (frame.type === 'message') {
          const json = JSON.stringify({
            type: 'message',
            data: {
              id: `r-${nextId++}`,
              text: frame.text,
              timestamp: Date.now() / 1000,
              user_id: conn.id,
              username: conn.name,
            },
          });
          for (const m of members) push(m, json);
        }
      }),
    );
    sock.on('error', () => {});
    sock.on('close', () => members.delete(conn));
  });
  const server = relay;
  return new Promise((resolve) => {
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve((server.address() as net.AddressInfo).port));
  });
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function memory(): Record<string, number> {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

const gc = (globalThis as { gc?: () => void }).gc;

serve({
  start: async (req: Request) => {
    // As `serve` does, unless the row compares against V8's default growth.
    if (req.heap !== 'v8-default') keepYoungGenerationSmall();
    const port =
      req.mode === 'bare'
        ? await startBare()
        : await startSecure(req.rooms as BenchRoom[], (req.limits ?? {}) as Partial<DaemonLimits>);
    return { port };
  },
  /** A sample of the counters; `resetEld` starts a new event-loop delay window. */
  mark: async (req: Request) => {
    const sample = {
      cpuMs: cpuMs(),
      at: performance.now(),
      eldP99: eld.percentile(99) / 1e6,
      eldMax: eld.max / 1e6,
      stats: daemon ? { ...daemon.stats() } : {},
    };
    if (req.resetEld) eld.reset();
    return sample;
  },
  memory: async () => {
    if (!gc) throw new Error('run with --expose-gc');
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    return memory();
  },
  stop: async () => {
    await daemon?.shutdown();
    relay?.close();
    setImmediate(() => process.exit(0));
    return {};
  },
});
process.send?.({ id: 0, ready: true });
