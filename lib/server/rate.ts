/**
 * A token bucket: `rate` tokens per second up to `burst`. The daemon keeps two per member,
 * one counting frames and one counting bytes, and pauses reading from a member whose bucket
 * is empty (flood control that delays, never drops). Time is the monotonic clock
 * (`performance.now()`): a wall clock set back or forward must not freeze or refill a bucket.
 */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  /** A rate of 0 means unlimited. */
  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }

  /** Whether `cost` may be spent now. A cost above the burst needs a full bucket. */
  ready(cost: number): boolean {
    if (this.rate <= 0) return true;
    this.refill();
    return this.tokens >= Math.min(cost, this.burst);
  }

  /** Spends `cost` (the balance may go negative: the debt delays what follows). */
  charge(cost: number): void {
    if (this.rate > 0) this.tokens -= cost;
  }

  /** Milliseconds until `ready(cost)`. */
  waitMs(cost: number): number {
    if (this.rate <= 0) return 0;
    this.refill();
    const missing = Math.min(cost, this.burst) - this.tokens;
    return missing <= 0 ? 0 : Math.ceil((missing * 1000) / this.rate);
  }
}
