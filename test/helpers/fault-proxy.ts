/**
 * Test helper: a fault-injecting TCP proxy between clients and a daemon. It can cut every
 * link (both ways), blackhole them (bytes vanish, sockets stay open), delay or pause one
 * direction, and batch one direction (hold the bytes of a window and deliver them in one
 * write, as a busy reader sees them). It can also drop only the client's side of every link
 * (the daemon's side stays open and silent, as after a route change it has not noticed),
 * refuse new links for a while, and forward later links to another port.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export type Direction = 'up' | 'down';

interface Link {
  client: Socket;
  upstream: Socket;
  /** The client's side was dropped; the daemon's side is held open and gets nothing more. */
  abandoned?: boolean;
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
  private refusing = false;
  private targetPort = 0;
  /** Daemon sides of abandoned links, closed at stop(). */
  private readonly held = new Set<Socket>();
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
    proxy.targetPort = targetPort;
    return proxy;
  }

  /**
   * Closes the client's side of every link but keeps the daemon's side open and silent: the
   * client notices at once, the daemon does not (until a keepalive or a takeover says so).
   */
  abandon(): void {
    for (const link of this.links) {
      link.abandoned = true;
      this.held.add(link.upstream);
      link.client.destroy();
    }
    this.links.clear();
  }

  /** While on, new links are closed as soon as they are accepted (the daemon looks down). */
  refuse(on: boolean): void {
    this.refusing = on;
  }

  /** Later links go to `port` (a daemon restarted elsewhere, or another one). */
  retarget(port: number): void {
    this.targetPort = port;
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
    for (const socket of this.held) socket.destroy();
    this.held.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, _initialPort: number): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(this.targetPort, '127.0.0.1');
    const link: Link = { client, upstream };
    this.links.add(link);
    const drop = (): void => {
      this.links.delete(link);
      client.destroy();
      if (!link.abandoned) upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', drop);
      s.on('close', drop);
    }
    this.forward(link, client, upstream, 'up');
    this.forward(link, upstream, client, 'down');
  }

  private forward(link: Link, from: Socket, to: Socket, direction: Direction): void {
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
      if (this.blackholed || link.abandoned) return;
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
