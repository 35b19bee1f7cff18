/**
 * The client's reading side of a connection: lines pulled one at a time during the
 * handshake (with a timeout), then pushed to a handler once the session is running. The end
 * of the stream fails a pending read and is reported once.
 */
import { LineDecoder } from '../protocol/codec.js';
import type { Connection } from '../transport/transport.js';
import { SessionError } from './session-error.js';

/** Lines from a connection, read one at a time during the handshake. */
export class LineQueue {
  private readonly lines: string[] = [];
  private waiter: { resolve: (line: string) => void; reject: (err: Error) => void } | undefined;
  private ended: Error | undefined;
  readonly decoder: LineDecoder;
  private onLine: ((line: string) => void) | undefined;

  constructor(
    readonly conn: Connection,
    maxLineBytes: number,
  ) {
    this.decoder = new LineDecoder(maxLineBytes);
    conn.stream.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = this.decoder.push(chunk);
      } catch (err) {
        this.fail(err as Error);
        conn.stream.destroy();
        return;
      }
      for (const line of lines) this.deliver(line);
    });
    const lost = (): void =>
      this.fail(new SessionError('connection_lost', 'the daemon closed the connection'));
    conn.stream.on('end', lost);
    conn.stream.on('close', lost);
    conn.stream.on('error', lost);
  }

  private deliver(line: string): void {
    if (this.onLine) {
      this.onLine(line);
    } else if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(line);
    } else {
      this.lines.push(line);
    }
  }

  private fail(err: Error): void {
    if (this.ended) return;
    this.ended = err;
    if (this.waiter) {
      const { reject } = this.waiter;
      this.waiter = undefined;
      reject(err);
    }
    this.onEnd?.(err);
  }

  onEnd: ((err: Error) => void) | undefined;

  next(timeoutMs: number): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new SessionError('connection_lost', 'the daemon did not answer in time'));
      }, timeoutMs);
      this.waiter = {
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** Switches to push mode: every queued and future line goes to `onLine`. */
  stream(onLine: (line: string) => void): void {
    this.onLine = onLine;
    for (const line of this.lines.splice(0)) onLine(line);
  }
}
