/**
 * A member's place in its room's log: the log's epoch and the last event handled. Events come
 * numbered (`seq`); one at or before the cursor was handled already (a page and a live event
 * may overlap) and is skipped; a `gap` moves the cursor past what the log no longer holds and
 * is counted. On a rejoin the cursor is handed to the daemon (`after`), which then sends
 * everything after it. Daemons that number nothing (a cluster, an older daemon) leave it unset.
 */
import type { Cursor } from '../../protocol/frames.js';

export class RoomCursor {
  private current: Cursor | undefined;
  /** Messages the log no longer held when we came back (summed over the session). */
  lost = 0;
  /** Messages wiped while we were away (summed over the session). */
  wiped = 0;

  /** The cursor to hand over on a rejoin, if the daemon numbers events. */
  get value(): Cursor | undefined {
    return this.current && { ...this.current };
  }

  /**
   * An `init`: the daemon's epoch and the last event it reflects. Returns true when the log
   * started over since our last cursor (another epoch).
   */
  start(epoch: string | undefined, seq: number | undefined): boolean {
    const restarted = this.current !== undefined && epoch !== undefined && epoch !== this.current.epoch;
    this.current = epoch === undefined || seq === undefined ? undefined : { epoch, seq };
    return restarted;
  }

  /** Whether the event numbered `seq` is new (then it is handled: the cursor moves to it). */
  accept(seq: number | undefined): boolean {
    if (seq === undefined || this.current === undefined) return true;
    if (seq <= this.current.seq) return false;
    this.current.seq = seq;
    return true;
  }

  /** A gap up to `seq`: the cursor moves past it and the counts grow. */
  skip(seq: number, lost: number, wiped: number): void {
    if (this.current && seq > this.current.seq) this.current.seq = seq;
    this.lost += lost;
    this.wiped += wiped;
  }
}
