/**
 * The daemon's keepalive: one sweep over every authenticated link each check interval (no
 * timer per member). A link silent for half of `--keepalive` is pinged inside its channel
 * (our clients ping after a third, so an idle client's own ping usually spares this one); one
 * silent for the whole of it is handed to `onDead` (the daemon drops the member). Pings are
 * spread: one sweep sends at most as many as it takes to ping every link within a quarter of
 * the keepalive time, so members that went quiet together (a room joined at once) do not all
 * cost a seal in the same turn; the last of them still has a quarter left to answer. The
 * timing rule is shared with the client (lib/protocol/keepalive.ts).
 */
import { KeepaliveClock, keepaliveTiming, keepaliveVerdict } from '../protocol/keepalive.js';

/** What the sweep needs of a link (lib/server/link.ts). */
export interface KeepaliveLink {
  readonly isClosed: boolean;
  /** Whether it can be pinged (a sealed channel: not an original client). */
  readonly canPing: boolean;
  /** Monotonic ms of its last sign of life, as of `now`. */
  signOfLife(now: number): number;
  /** Monotonic ms of the last ping sent to it. */
  readonly lastPing: number;
  ping(now: number): void;
}

/** A sweep may always send this many pings (a small daemon never waits). */
const MIN_PINGS_PER_SWEEP = 256;

export class KeepaliveSweep<L extends KeepaliveLink> {
  private readonly clock: KeepaliveClock;
  private readonly timer: NodeJS.Timeout;
  /** Sweeps over which a crowd of due pings is spread, and the links seen in the last sweep. */
  private readonly spreadSweeps: number;
  private lastCount = 0;

  constructor(
    keepaliveMs: number,
    private readonly links: () => Iterable<L>,
    private readonly onDead: (link: L) => void,
  ) {
    this.clock = new KeepaliveClock(keepaliveTiming(keepaliveMs, 1 / 2));
    this.spreadSweeps = Math.max(1, Math.floor(keepaliveMs / 4 / this.clock.timing.tickMs));
    this.timer = setInterval(() => this.sweep(), this.clock.timing.tickMs);
    this.timer.unref();
  }

  /** One check of every link (the timer calls it; exposed for measurement). */
  sweep(now: number = performance.now()): void {
    this.clock.tick(now);
    const timing = this.clock.timing;
    const dead: L[] = [];
    let pingsLeft = Math.max(MIN_PINGS_PER_SWEEP, Math.ceil(this.lastCount / this.spreadSweeps));
    let count = 0;
    for (const link of this.links()) {
      if (link.isClosed || !link.canPing) continue;
      count++;
      const verdict = keepaliveVerdict(
        this.clock.silence(link.signOfLife(now), now),
        now - link.lastPing,
        timing,
      );
      if (verdict === 'ping' && pingsLeft > 0) {
        pingsLeft--;
        link.ping(now);
      } else if (verdict === 'dead') dead.push(link);
    }
    this.lastCount = count;
    // Dropped after the walk: dropping changes the set being walked.
    for (const link of dead) this.onDead(link);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
