/**
 * The client's reading side of a connection: lines pulled one at a time during the
 * handshake (with a timeout), then units — v3 binary records (`Buffer`) after
 * `decoder.startRecords`, or lines from an original daemon — pushed to a handler once the
 * session is running. Nothing is decoded ahead of a pull during the handshake, so the switch
 * to records falls exactly after its last line. The end of the stream fails a pending read
 * and is reported once, after every unit before it.
 *
 * Pushed lines are handled in slices of at most SLICE_MS, each in the check phase of the
 * event loop (setImmediate), after the turn's reads, so a key read in the same turn is never
 * behind them (a handler that needs more turns for one unit holds the queue meanwhile): a
 * backlog (a flood read after the process was starved of CPU) is opened and verified a slice
 * at a time, so keystrokes and the screen are served in between instead of waiting for the
 * whole of it. While more than MAX_BACKLOG lines wait, the connection is not
 * read (TCP flow control slows the daemon down, as for any slow reader).
 */
import { WireDecoder } from '../../protocol/wire-decoder.js';
import type { Connection } from '../../transport/transport.js';
import { SessionError } from './error.js';

/** Why reading ended when the other end closed the connection. */
export const CLOSED_BY_PEER = 'the daemon closed the connection';

/** Time spent handling pushed lines before the event loop gets a turn. */
export const SLICE_MS = 4;
/** Pushed lines waiting beyond which the connection is paused. */
export const MAX_BACKLOG = 2000;

/** What one read of the connection yields: a line, or a record after the handshake. */
export type Unit = string | Buffer;

/** Lines from a connection, read one at a time during the handshake. */
export class LineQueue {
  /** Pushed units not handled yet (from `head` on), oldest first. */
  private backlog: Unit[] = [];
  private head = 0;
  private sliceScheduled = false;
  private paused = false;
  /** The handler is still busy with the last line (its frames, in slices): nothing more yet. */
  private held = false;
  /** The end, held until the lines before it are handled. */
  private endHeld: Error | undefined;
  private waiter: { resolve: (line: string) => void; reject: (err: Error) => void } | undefined;
  private ended: Error | undefined;
  readonly decoder: WireDecoder;
  private onLine: ((unit: Unit) => void) | undefined;

  constructor(
    readonly conn: Connection,
    maxLineBytes: number,
  ) {
    this.decoder = new WireDecoder(maxLineBytes);
    conn.stream.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk);
        if (this.onLine) {
          for (let unit = this.decoder.next(); unit !== undefined; unit = this.decoder.next()) {
            this.backlog.push(unit);
          }
        } else if (this.waiter) {
          const unit = this.decoder.next();
          if (unit !== undefined) this.deliver(unit);
        }
      } catch (err) {
        this.fail(err as Error);
        conn.stream.destroy();
        return;
      }
      // The whole read is queued first, so a slice bounds the work of one read too. The slice
      // runs after this turn's other reads: a key read in the same turn is echoed first.
      if (this.onLine && !this.sliceScheduled) {
        this.sliceScheduled = true;
        setImmediate(this.slice);
      }
    });
    const lost = (): void => this.fail(new SessionError('connection_lost', CLOSED_BY_PEER));
    conn.stream.on('end', lost);
    conn.stream.on('close', lost);
    conn.stream.on('error', lost);
  }

  /** A unit for the handshake's pending read: a line (a record there is a protocol error). */
  private deliver(unit: Unit): void {
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = undefined;
    if (typeof unit === 'string') waiter.resolve(unit);
    else waiter.reject(new SessionError('protocol', 'the daemon sent a record during the handshake'));
  }

  /** Handles waiting lines for up to SLICE_MS; schedules the rest for the next turn. */
  private readonly slice = (): void => {
    this.sliceScheduled = false;
    const onLine = this.onLine;
    if (!onLine) return;
    const deadline = performance.now() + SLICE_MS;
    while (this.head < this.backlog.length && !this.held) {
      const line = this.backlog[this.head]!;
      this.head++;
      onLine(line);
      if (performance.now() >= deadline) break;
    }
    const waiting = this.backlog.length - this.head;
    if (waiting === 0) {
      this.backlog = [];
      this.head = 0;
    } else if (this.head > 1024) {
      this.backlog = this.backlog.slice(this.head);
      this.head = 0;
    }
    if (waiting > MAX_BACKLOG && !this.paused) {
      this.paused = true;
      this.conn.stream.pause();
    } else if (waiting <= MAX_BACKLOG / 2 && this.paused) {
      this.paused = false;
      this.conn.stream.resume();
    }
    // Held: release() goes on.
    if (this.held) return;
    if (waiting > 0) {
      this.sliceScheduled = true;
      setImmediate(this.slice);
      return;
    }
    const end = this.endHeld;
    this.endHeld = undefined;
    if (end) this.onEnd?.(end);
  };

  private fail(err: Error): void {
    if (this.ended) return;
    this.ended = err;
    if (this.waiter) {
      const { reject } = this.waiter;
      this.waiter = undefined;
      reject(err);
    }
    // The lines read before the end come first (a shutdown notice, the last messages).
    if (this.head < this.backlog.length || this.held) this.endHeld = err;
    else this.onEnd?.(err);
  }

  onEnd: ((err: Error) => void) | undefined;

  next(timeoutMs: number): Promise<string> {
    let unit: Unit | undefined;
    try {
      unit = this.decoder.next();
    } catch (err) {
      return Promise.reject(err);
    }
    if (typeof unit === 'string') return Promise.resolve(unit);
    if (unit !== undefined)
      return Promise.reject(new SessionError('protocol', 'the daemon sent a record during the handshake'));
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

  /**
   * The handler has not finished with the line it was given (it goes on in later turns): no
   * further line, and not the end, until `release()`.
   */
  hold(): void {
    this.held = true;
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    if (this.onLine && !this.sliceScheduled) {
      this.sliceScheduled = true;
      setImmediate(this.slice);
    }
  }

  /** Switches to push mode: every unit held and to come goes to `onLine`. */
  stream(onLine: (unit: Unit) => void): void {
    this.onLine = onLine;
    try {
      for (let unit = this.decoder.next(); unit !== undefined; unit = this.decoder.next())
        this.backlog.push(unit);
    } catch (err) {
      this.fail(err as Error);
      this.conn.stream.destroy();
      return;
    }
    if (!this.sliceScheduled) this.slice();
  }
}
