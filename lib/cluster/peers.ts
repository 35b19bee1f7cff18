/**
 * Which other daemons' bus payloads this daemon accepts, without reading any clock. Every
 * daemon numbers its payloads (one counter per run, under a random run id); a receiver
 * accepts each sender's numbers once, in increasing order. What a counter alone cannot tell
 * is whether the first payload heard from a sender is fresh or a replay captured earlier
 * (by whoever can publish on the NATS server), so a receiver first asks: it publishes a
 * random challenge (`hello`), and each daemon answers with an introduction naming that
 * challenge (`intro`), sealed and numbered like any payload. The introduction's number is the
 * sender's floor: what it sent before is refused, what it sends after is accepted. A challenge
 * is never reused, so an old introduction cannot pass for a new one. NATS delivers one
 * connection's messages in order, so nothing sent after the introduction arrives before it.
 *
 * Why not time: a freshness window compares the sender's clock with the receiver's, so
 * daemons whose clocks differ by more than it lose each other's messages; core NATS gives no
 * server time to use instead. The send time still travels, for one thing: a daemon notes a
 * peer whose clock is far off, once, in its log.
 *
 * Memory is bounded: MAX_TRACKED_SENDERS senders (the least recently heard is forgotten and
 * must introduce itself again), OPEN_CHALLENGES challenges, ANSWERED challenges remembered.
 */
import { randomBytes } from 'node:crypto';
import type { Envelope } from './seal.js';

/** Senders whose last number a receiver remembers; the least recently heard is forgotten beyond it. */
export const MAX_TRACKED_SENDERS = 4096;
/** Our own latest challenges that an introduction may answer. */
export const OPEN_CHALLENGES = 8;
/** Others' challenges already answered (a replayed hello is not answered again). */
export const ANSWERED = 1024;
/** A peer whose send times differ from our clock by more than this is noted in the log (ms). */
export const OFFSET_NOTICE_MS = 10_000;

/** What a payload from a sender means to the guard. */
export type Verdict = 'accept' | 'replay' | 'unknown';

export class PeerGuard {
  private readonly lastSeq = new Map<string, number>();
  private readonly challenges: string[] = [];
  private readonly answered = new Set<string>();
  private readonly noted = new Set<string>();

  constructor(
    /** This daemon's run id: introductions addressed to it are ours. */
    private readonly self: string,
    private readonly maxSenders = MAX_TRACKED_SENDERS,
  ) {}

  /** A new challenge to publish in a hello; the last OPEN_CHALLENGES stay answerable. */
  challenge(): string {
    const c = randomBytes(16).toString('hex');
    this.challenges.push(c);
    if (this.challenges.length > OPEN_CHALLENGES) this.challenges.shift();
    return c;
  }

  /** Whether to answer another daemon's challenge: each challenge once. */
  answer(challenge: string): boolean {
    if (this.answered.has(challenge)) return false;
    bounded(this.answered, challenge, ANSWERED);
    return true;
  }

  /**
   * An introduction: accepted when it answers one of our open challenges; its number becomes
   * the sender's floor (never lowered). True when it introduced the sender.
   */
  introduce(envelope: Envelope, to: string, challenge: string): boolean {
    if (to !== this.self || !this.challenges.includes(challenge)) return false;
    const last = this.lastSeq.get(envelope.from);
    this.remember(envelope.from, Math.max(last ?? 0, envelope.seq));
    return true;
  }

  /** A payload's verdict: accepted (and remembered) only from a known sender, above its last number. */
  accept(envelope: Envelope): Verdict {
    const last = this.lastSeq.get(envelope.from);
    if (last === undefined) return 'unknown';
    if (envelope.seq <= last) return 'replay';
    this.remember(envelope.from, envelope.seq);
    return 'accept';
  }

  /** Whether payloads from `sender` are accepted now. */
  knows(sender: string): boolean {
    return this.lastSeq.has(sender);
  }

  /**
   * The sender's clock offset from ours (ms, positive: ahead), the first time an accepted
   * payload shows it beyond OFFSET_NOTICE_MS; undefined otherwise (and ever after for it).
   */
  offsetToNote(envelope: Envelope, now: number): number | undefined {
    const offset = envelope.at - now;
    if (Math.abs(offset) <= OFFSET_NOTICE_MS || this.noted.has(envelope.from)) return undefined;
    bounded(this.noted, envelope.from, this.maxSenders);
    return offset;
  }

  get senders(): number {
    return this.lastSeq.size;
  }

  private remember(sender: string, seq: number): void {
    // Re-inserting keeps the map in order of last contact, oldest first.
    this.lastSeq.delete(sender);
    this.lastSeq.set(sender, seq);
    if (this.lastSeq.size > this.maxSenders) {
      const oldest = this.lastSeq.keys().next().value;
      if (oldest !== undefined) this.lastSeq.delete(oldest);
    }
  }
}

/** Adds `value` to `set`, forgetting the oldest entry beyond `max`. */
function bounded(set: Set<string>, value: string, max: number): void {
  set.add(value);
  if (set.size > max) {
    const oldest = set.values().next().value;
    if (oldest !== undefined) set.delete(oldest);
  }
}
