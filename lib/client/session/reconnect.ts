/**
 * The session's reconnection loop: after a lost connection, try again with back-off and
 * jitter until rejoined, refused for good, closed, or out of attempts. A connection that
 * lived only briefly after a reconnect does not restart the count, so a daemon that admits
 * us and drops us each time is given up on, not retried for ever.
 */
import { wipe } from '../../crypto/secret.js';
import type { MasterCache } from '../../protocol/handshake-client.js';
import type { ChatEvent } from '../events.js';
import { type BackoffPolicy, reconnectDelayMs } from './backoff.js';
import { recoverable, toSessionError } from './connection.js';
import { SessionError } from './error.js';

/**
 * A connection that lived less than this after a reconnect does not restart the count of
 * attempts (ms).
 */
export const STABLE_CONNECTION_MS = 10_000;

/** What the loop drives. */
export interface ReconnectHost {
  isClosed(): boolean;
  emitEvent(event: ChatEvent): void;
  /** Ends the session for good. */
  end(error: SessionError): void;
  /** One attempt: connect, authenticate, rejoin; resolves once in the room again. */
  rejoin(): Promise<void>;
}

export class Reconnector {
  /** The attempt under way, or the one that last succeeded. */
  attempt = 0;
  /** When the last reconnect succeeded (monotonic ms). */
  private rejoinedAt: number | undefined;
  /** Sleep between attempts, cut short by wake(). */
  private sleeping: (() => void) | undefined;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly host: ReconnectHost,
  ) {}

  /** The session is in the room again. */
  rejoined(): void {
    this.rejoinedAt = performance.now();
  }

  /** Cuts the sleep short (the session is closing). */
  wake(): void {
    this.sleeping?.();
  }

  /** Tries again until rejoined, refused for good, closed, or out of attempts. */
  async run(cause: SessionError): Promise<void> {
    const { policy, host } = this;
    let last = cause;
    const flapping =
      this.rejoinedAt !== undefined && performance.now() - this.rejoinedAt < STABLE_CONNECTION_MS;
    for (let attempt = flapping ? this.attempt + 1 : 1; !host.isClosed(); attempt++) {
      if (policy.maxAttempts > 0 && attempt > policy.maxAttempts) {
        host.end(
          new SessionError(
            'connection_lost',
            `gave up reconnecting after ${policy.maxAttempts} attempt${policy.maxAttempts === 1 ? '' : 's'}: ${last.message}`,
            last.daemonCode,
          ),
        );
        return;
      }
      const delayMs = reconnectDelayMs(policy, attempt);
      host.emitEvent({
        type: 'reconnecting',
        at: Date.now(),
        attempt,
        delayMs,
        ...(last !== cause ? { reason: last.message } : {}),
      });
      await this.sleep(delayMs);
      if (host.isClosed()) return;
      this.attempt = attempt;
      try {
        await host.rejoin();
        return;
      } catch (err) {
        const e = toSessionError(err);
        if (host.isClosed()) return;
        if (e.code === 'fingerprint_changed') {
          host.emitEvent({ type: 'error', at: Date.now(), code: e.code, message: e.message });
        }
        if (!recoverable(e)) {
          host.end(e);
          return;
        }
        last = e;
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(wake, ms);
      function wake(): void {
        clearTimeout(timer);
        resolve();
      }
      this.sleeping = () => {
        this.sleeping = undefined;
        wake();
      };
    });
  }
}

/**
 * What a reconnect needs, in Buffers wiped at the end: the password (only used if the
 * daemon's salt changed), the master key for the current salt (skips scrypt), and the resume
 * secret of the last join (takes our name back).
 */
export class ResumeSecrets {
  readonly password: Buffer;
  private resume: Buffer | undefined;

  constructor(
    password: string | Buffer,
    readonly master: MasterCache,
  ) {
    this.password = typeof password === 'string' ? Buffer.from(password, 'utf8') : Buffer.from(password);
  }

  /** The resume secret of the last join, as the daemon wants it back. */
  get token(): string | undefined {
    return this.resume?.toString('base64url');
  }

  /** A join issued this resume secret (base64url); the previous one is wiped. */
  issued(token: string): void {
    wipe(this.resume);
    this.resume = Buffer.from(token, 'base64url');
  }

  wipe(): void {
    wipe(this.password, this.master.master, this.resume);
  }
}
