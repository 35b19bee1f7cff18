/**
 * The session's outbox: our messages not yet confirmed by the daemon, in the order they were
 * typed. A message is `queued` until written, then `in flight` until its echo (or the
 * daemon's `received`) confirms it. After a reconnect everything in flight is queued again,
 * ahead of the rest; on a live connection a message whose echo is overdue is written again
 * with the same id (the daemon's log appends it once).
 */

/** A message of ours not yet confirmed by its echo. */
export interface Outgoing {
  /** The envelope id, also the `mid` the daemon recognises a resend by (the token, in legacy modes). */
  id: string;
  kind: 'text' | 'me';
  body: string;
  token: string;
  /** The user_id the token was signed under (a reconnect gets a new one: it is sealed again). */
  sealedFor: string;
}

export class Outbox {
  private queued: Outgoing[] = [];
  /** Written and unconfirmed, with when it was last written (monotonic ms). */
  private readonly inFlight = new Map<string, { message: Outgoing; writtenAt: number }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Messages queued and in flight. */
  get size(): number {
    return this.queued.length + this.inFlight.size;
  }

  get queuedCount(): number {
    return this.queued.length;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  push(message: Outgoing): void {
    this.queued.push(message);
  }

  /** The next queued message, now in flight; undefined when none is queued. */
  take(): Outgoing | undefined {
    const next = this.queued.shift();
    if (next) this.inFlight.set(next.id, { message: next, writtenAt: this.now() });
    return next;
  }

  /** Confirms the message `id` (its echo or `received`); returns it, or undefined if not in flight. */
  confirm(id: string): Outgoing | undefined {
    const entry = this.inFlight.get(id);
    if (!entry) return undefined;
    this.inFlight.delete(id);
    return entry.message;
  }

  /** After a reconnect: what was in flight is queued again, first, in its order. */
  requeue(): void {
    this.queued = [...[...this.inFlight.values()].map((e) => e.message), ...this.queued];
    this.inFlight.clear();
  }

  /**
   * The messages in flight for longer than `afterMs` since last written, oldest first; each
   * counts as written again now.
   */
  overdue(afterMs: number): Outgoing[] {
    const now = this.now();
    const due: Outgoing[] = [];
    for (const entry of this.inFlight.values()) {
      if (now - entry.writtenAt < afterMs) continue;
      entry.writtenAt = now;
      due.push(entry.message);
    }
    return due;
  }
}
