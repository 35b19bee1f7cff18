/**
 * In-process transport for tests: a pair of linked Duplex streams, no sockets. It behaves
 * like a TCP connection in the ways the protocol code can observe: delivery is asynchronous,
 * a reader that stops reading makes the writer's write() return false until 'drain' (real
 * back-pressure, bounded buffers), end() half-closes one direction, and destroy() on one side
 * looks like a connection reset on the other.
 */
import { Duplex } from 'node:stream';
import {
  type ClientTransport,
  type Connection,
  type Listener,
  type ServerTransport,
  TransportError,
} from '../../lib/transport/transport.js';

/** Bytes buffered per direction before the writer is held back (Node's own default). */
export const DEFAULT_MEMORY_HIGH_WATER_MARK = 16 * 1024;

export interface MemoryTransportOptions {
  highWaterMark?: number;
}

type WriteCallback = (error?: Error | null) => void;

function resetError(code: 'ECONNRESET' | 'EPIPE'): Error {
  const err = new Error(code === 'ECONNRESET' ? 'connection reset by peer' : 'connection closed by peer');
  return Object.assign(err, { code });
}

/** One end of the pair; what it writes becomes its peer's readable data. */
class MemoryEnd extends Duplex {
  peer: MemoryEnd | undefined;
  /** The callback of our last write, held while the peer's reader is full. */
  private heldWrite: WriteCallback | null = null;
  /** The peer was destroyed after ending its side cleanly: our further writes go nowhere. */
  private remoteClosed = false;

  constructor(highWaterMark: number) {
    super({ allowHalfOpen: true, highWaterMark });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    // Deferred so that, as on a socket, the other side never runs inside our write() call.
    process.nextTick(() => {
      const peer = this.peer;
      if (this.remoteClosed || peer === undefined || peer.destroyed) {
        callback(resetError('EPIPE'));
        return;
      }
      // Holding the callback when the peer's buffer is full is the back-pressure: Node then
      // buffers our later writes up to our own highWaterMark and write() returns false.
      if (peer.push(chunk)) callback();
      else this.heldWrite = callback;
    });
  }

  override _read(): void {
    this.peer?.releaseWrite(null);
  }

  override _final(callback: WriteCallback): void {
    process.nextTick(() => {
      const peer = this.peer;
      if (peer !== undefined && !peer.destroyed) peer.push(null);
      callback();
    });
  }

  override _destroy(error: Error | null, callback: WriteCallback): void {
    this.heldWrite = null;
    const peer = this.peer;
    if (peer !== undefined && !peer.destroyed) {
      if (this.writableFinished) {
        // We had already sent our end: the peer reads to its end normally, but whatever it
        // writes from now on fails, as after a FIN followed by a close.
        peer.remoteClosed = true;
        peer.releaseWrite(resetError('EPIPE'));
      } else {
        peer.destroy(resetError('ECONNRESET'));
      }
    }
    callback(error);
  }

  releaseWrite(error: Error | null): void {
    const callback = this.heldWrite;
    if (callback !== null) {
      this.heldWrite = null;
      callback(error);
    }
  }
}

/** Two linked ends: what one writes the other reads. Exposed for tests of stream consumers. */
export function memoryPair(highWaterMark: number = DEFAULT_MEMORY_HIGH_WATER_MARK): [Duplex, Duplex] {
  const a = new MemoryEnd(highWaterMark);
  const b = new MemoryEnd(highWaterMark);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

export function memoryTransport(opts: MemoryTransportOptions = {}): {
  server: ServerTransport;
  client: ClientTransport;
} {
  const highWaterMark = opts.highWaterMark ?? DEFAULT_MEMORY_HIGH_WATER_MARK;
  let accept: ((conn: Connection) => void) | null = null;

  const server: ServerTransport = {
    listen(onConnection: (conn: Connection) => void): Promise<Listener> {
      if (accept !== null) {
        return Promise.reject(
          new TransportError('listen_failed', 'the in-memory transport is already listening'),
        );
      }
      const mine = onConnection;
      accept = mine;
      return Promise.resolve({
        address: 'memory',
        close(): Promise<void> {
          if (accept === mine) accept = null;
          return Promise.resolve();
        },
      });
    },
  };

  const client: ClientTransport = {
    description: 'memory',
    connect(): Promise<Connection> {
      const onConnection = accept;
      if (onConnection === null) {
        return Promise.reject(
          new TransportError('connect_failed', 'cannot connect to memory: nothing is listening'),
        );
      }
      const [near, far] = memoryPair(highWaterMark);
      // Accepted asynchronously, like a socket's 'connection' event.
      process.nextTick(() => onConnection({ stream: far, peer: 'memory' }));
      return Promise.resolve({ stream: near, peer: 'memory' });
    },
  };

  return { server, client };
}
