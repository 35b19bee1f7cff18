/**
 * A room's presence announcements (`user_joined`, `user_left`), batched: after a few sends
 * at once (a quiet room announces at once), they go out at most once per interval, all of an
 * interval's together, so each member receives them in one sealed record instead of one per
 * event — a member joining and leaving in a loop
 * cannot make every other member (and the daemon, sealing for each) process a record per
 * event. Nothing is dropped: every join is announced, even one whose member has already
 * left (it received the history). Anything else the room sends first sends what is pending,
 * so the order of events is kept (a member's join always precedes its messages).
 */

import { TokenBucket } from './rate.js';

/** A member as the batcher sees it: where to send, and the last event its `init` reflected. */
export interface PresenceRecipient {
  readonly since: number;
  readonly peer: { readonly userId: string; sendSerialized(json: string): void };
}

/** Sends that may follow each other without waiting for the interval. */
const BURST_SENDS = 4;
/** More pending events than this are sent at once (memory stays bounded between intervals). */
const MAX_PENDING_EVENTS = 1024;

interface PresenceEvent {
  readonly seq: number;
  readonly json: string;
  /** The member the event is about, when it must not get it (its own join: its `init` says it). */
  readonly except: string | undefined;
}

export class PresenceBatcher {
  private seq = 0;
  private pending: PresenceEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** One token per send, refilled once per interval. */
  private readonly sends: TokenBucket;

  /**
   * `intervalMs` ≤ 0 sends every event at once (no batching). `recipients` lists the room's
   * members at the time of sending.
   */
  constructor(
    private readonly intervalMs: number,
    private readonly recipients: () => Iterable<PresenceRecipient>,
  ) {
    this.sends = new TokenBucket(intervalMs > 0 ? 1000 / intervalMs : 0, BURST_SENDS);
  }

  /** The number of the last event: a member joining now has seen every event up to it. */
  get current(): number {
    return this.seq;
  }

  /** Queues one serialised presence frame, for everyone but `except`; returns its number. */
  add(json: string, except?: string): number {
    this.seq++;
    this.pending.push({ seq: this.seq, json, except });
    if (this.intervalMs <= 0 || this.pending.length >= MAX_PENDING_EVENTS) this.flush();
    else this.schedule();
    return this.seq;
  }

  /**
   * Sends what is pending now, to each member the events after the one its `init` reflected
   * (a member that joined within the interval already knows the earlier ones).
   */
  flush(): void {
    this.cancel();
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    this.sends.charge(1);
    const first = events[0]!.seq;
    for (const member of this.recipients()) {
      for (const event of events) {
        if (event.except === member.peer.userId) continue;
        if (member.since < first || event.seq > member.since) member.peer.sendSerialized(event.json);
      }
    }
  }

  /** Forgets what is pending (the room is gone). */
  dispose(): void {
    this.cancel();
    this.pending = [];
  }

  /** Goes out within this turn while sends are left, else when the next one is due. */
  private schedule(): void {
    if (this.timer || this.immediate) return;
    const wait = this.sends.waitMs(1);
    if (wait <= 0) {
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        this.flush();
      });
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
    this.timer.unref();
  }

  private cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
  }
}
