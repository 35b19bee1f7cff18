/**
 * The session's sending side: our messages from `send()` to their echo. Messages wait in the
 * outbox while disconnected (up to a bound), are written while connected up to the protocol's
 * cap of unconfirmed ones, written again with the same id when an echo is overdue on a live
 * connection, and confirmed by their echo or the daemon's `received`. Private messages are
 * never queued or sent again: their receipts are only counted. Callers wait for room to write
 * (`waitWritable`) or for every echo (`waitForEchoes`).
 */
import type { ChatEvent } from '../events.js';
import { SessionError } from './error.js';
import { MAX_TOKEN_CHARS } from './options.js';
import { Outbox, type Outgoing } from './outbox.js';
import type { SessionProtocol } from './protocol.js';

/** How often messages in flight are looked at for an overdue echo (ms). */
const RESEND_CHECK_MS = 2_500;

/** What the sender reads of its session. */
export interface SenderHost {
  isClosed(): boolean;
  /** In the room on a live connection. */
  isConnected(): boolean;
  /** The connection's buffer is full: wait for its drain. */
  needsDrain(): boolean;
  write(frame: object): void;
}

export class Sender {
  private readonly outbox = new Outbox();
  /** Sealed private messages whose receipt has not come back (never sent again). */
  private readonly privateUnechoed = new Set<string>();
  private resendTimer: NodeJS.Timeout | undefined;
  private echoWaiters: Array<() => void> = [];
  private writableWaiters: Array<() => void> = [];

  constructor(
    private readonly protocol: SessionProtocol,
    private readonly maxQueued: number,
    private readonly resendAfterMs: number,
    private readonly host: SenderHost,
  ) {}

  /** Messages queued and in flight. */
  get pending(): number {
    return this.outbox.size;
  }

  /** Seals and queues a message, written at once when connected; returns its id. */
  send(kind: 'text' | 'me', body: string): string {
    if (this.outbox.size >= this.maxQueued) {
      throw new SessionError(
        'refused',
        `not sent: ${this.outbox.size} lines are already waiting for the connection`,
      );
    }
    const outgoing = this.protocol.seal(kind, body);
    if (outgoing.token.length > MAX_TOKEN_CHARS) throw new SessionError('protocol', 'message too long');
    this.outbox.push(outgoing);
    this.pump();
    return outgoing.id;
  }

  /** Writes queued messages while connected, up to the protocol's cap of unconfirmed ones. */
  pump(): void {
    while (this.host.isConnected() && this.outbox.queuedCount > 0) {
      if (this.outbox.inFlightCount >= this.protocol.maxInFlight) break;
      const next = this.outbox.take();
      if (next) this.host.write(this.protocol.messageFrame(next));
    }
    this.armResend();
    this.progress();
  }

  /** After a rejoin: what was in flight is written again first, then what was queued. */
  resume(): void {
    this.outbox.requeue();
    this.pump();
  }

  /** Our message `id` is confirmed (its echo, or `received`); returns it if it was ours in flight. */
  confirmed(id: string): Outgoing | undefined {
    const outgoing = this.outbox.confirm(id);
    if (outgoing === undefined) return undefined;
    this.pump();
    return outgoing;
  }

  /** A private message was written; its receipt carries the same sealed text. */
  privateSent(sealed: string): void {
    this.privateUnechoed.add(sealed);
  }

  /** The receipt of one of our private messages came back. */
  privateReceipt(sealed: string): void {
    if (this.privateUnechoed.delete(sealed)) this.progress();
  }

  /** The connection was lost: private messages without a receipt are forgotten, and said so. */
  privateLost(): ChatEvent | undefined {
    const n = this.privateUnechoed.size;
    this.privateUnechoed.clear();
    if (n === 0) return undefined;
    return {
      type: 'error',
      at: Date.now(),
      code: 'private_unconfirmed',
      message: `${n} private message${n === 1 ? ' was' : 's were'} not confirmed before the connection was lost (not sent again)`,
    };
  }

  /**
   * True when the caller may send more now. Connected: nothing waits to be written and the
   * connection's buffer has room. Reconnecting: the queue has room.
   */
  get writable(): boolean {
    if (this.host.isClosed()) return true;
    if (!this.host.isConnected()) return this.outbox.size < this.maxQueued;
    return this.outbox.queuedCount === 0 && !this.host.needsDrain();
  }

  waitWritable(): Promise<void> {
    if (this.writable) return Promise.resolve();
    return new Promise((resolve) => this.writableWaiters.push(resolve));
  }

  /** Number of our messages not yet confirmed by the daemon (queued, unechoed, private receipts). */
  get unechoedCount(): number {
    return this.outbox.size + this.privateUnechoed.size;
  }

  waitForEchoes(): Promise<void> {
    if (this.unechoedCount === 0 || this.host.isClosed()) return Promise.resolve();
    return new Promise((resolve) => this.echoWaiters.push(resolve));
  }

  /** Wakes the waiters whose condition now holds (after an echo, a drain, a reconnect, the end). */
  progress(): void {
    if (this.writableWaiters.length > 0 && this.writable) {
      for (const resolve of this.writableWaiters.splice(0)) resolve();
    }
    if (this.echoWaiters.length > 0 && (this.unechoedCount === 0 || this.host.isClosed())) {
      for (const resolve of this.echoWaiters.splice(0)) resolve();
    }
  }

  /** The session ended. */
  stop(): void {
    clearTimeout(this.resendTimer);
    this.progress();
  }

  /**
   * While messages are in flight on a live connection, checks now and then for one whose
   * echo is overdue and writes it again with the same `mid`: the daemon appends it once (or
   * answers `received`), so a message never waits for ever on an answer that was lost.
   */
  private armResend(): void {
    if (this.resendTimer || !this.protocol.resumable || this.outbox.inFlightCount === 0) return;
    const after = this.resendAfterMs;
    this.resendTimer = setTimeout(
      () => {
        this.resendTimer = undefined;
        if (!this.host.isConnected()) return;
        for (const m of this.outbox.overdue(after)) this.host.write(this.protocol.messageFrame(m));
        this.armResend();
      },
      Math.min(RESEND_CHECK_MS, after / 4),
    );
    this.resendTimer.unref();
  }
}
