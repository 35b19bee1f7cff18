/**
 * Test helper: a fault-injecting TCP proxy between clients and a daemon. It can cut every
 * link (both ways), blackhole them (bytes vanish, sockets stay open), delay or pause one
 * direction, and batch one direction (hold the bytes of a window and deliver them in one
 * write, as a busy reader sees them).
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export type Direction = 'up' | 'down';

interface Link {
  client: Socket;
  upstream: Socket;
}

/** Per-direction behaviour. */
interface Lane {
  paused: boolean;
  delayMs: number;
  batchMs: number;
}

export class FaultProxy {
  readonly links = new Set<Link>();
  private blackholed = false;
  private readonly lanes: Record<Direction, Lane> = {
    up: { paused: false, delayMs: 0, batchMs: 0 },
    down: { paused: false, delayMs: 0, batchMs: 0 },
  };

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on an ephemeral port of 127.0.0.1 and forwards to `targetPort` there. */
  static async start(targetPort: number): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = createServer({ pauseOnConnect: false }, (client) => proxy?.accept(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    proxy = new FaultProxy(server, address.port);
    return proxy;
  }

  /** Closes every open link at once, both ways (a dead route that the peers notice). */
  cut(): void {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    this.links.clear();
  }

  /** While on, bytes in both directions are dropped and nothing is closed. */
  blackhole(on: boolean): void {
    this.blackholed = on;
  }

  /** Holds one direction's bytes until resumed (they are delivered then, in order). */
  pause(direction: Direction, on: boolean): void {
    this.lanes[direction].paused = on;
  }

  /** Delays every chunk of one direction by `ms`. */
  delay(direction: Direction, ms: number): void {
    this.lanes[direction].delayMs = ms;
  }

  /** Collects one direction's bytes for `ms` after the first and writes them as one chunk. */
  batch(direction: Direction, ms: number): void {
    this.lanes[direction].batchMs = ms;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, targetPort: number): void {
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    const link: Link = { client, upstream };
    this.links.add(link);
    const drop = (): void => {
      this.links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', drop);
      s.on('close', drop);
    }
    this.forward(client, upstream, 'up');
    this.forward(upstream, client, 'down');
  }

  private forward(from: Socket, to: Socket, direction: Direction): void {
    const lane = this.lanes[direction];
    let held: Buffer[] = [];
    let batchTimer: NodeJS.Timeout | undefined;
    let pauseTimer: NodeJS.Timeout | undefined;
    const write = (chunk: Buffer): void => {
      if (!to.destroyed) to.write(chunk);
    };
    const release = (): void => {
      if (lane.paused) {
        pauseTimer ??= setTimeout(() => {
          pauseTimer = undefined;
          release();
        }, 10);
        return;
      }
      const chunk = Buffer.concat(held);
      held = [];
      if (chunk.length === 0) return;
      if (lane.delayMs > 0) setTimeout(() => write(chunk), lane.delayMs);
      else write(chunk);
    };
    from.on('data', (chunk: Buffer) => {
      if (this.blackholed) return;
      held.push(chunk);
      if (lane.batchMs > 0) {
        batchTimer ??= setTimeout(() => {
          batchTimer = undefined;
          release();
        }, lane.batchMs);
        return;
      }
      if (batchTimer === undefined) release();
    });
    from.on('close', () => {
      clearTimeout(batchTimer);
      clearTimeout(pauseTimer);
    });
  }
}
