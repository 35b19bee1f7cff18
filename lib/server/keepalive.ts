/**
 * The daemon's keepalive: one sweep over every authenticated link each check interval (no
 * timer per member). A link silent for a third of `--keepalive` is pinged inside its channel;
 * one silent for the whole of it is handed to `onDead` (the daemon drops the member). The
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

export class KeepaliveSweep<L extends KeepaliveLink> {
  private readonly clock: KeepaliveClock;
  private readonly timer: NodeJS.Timeout;

  constructor(
    keepaliveMs: number,
    private readonly links: () => Iterable<L>,
    private readonly onDead: (link: L) => void,
  ) {
    this.clock = new KeepaliveClock(keepaliveTiming(keepaliveMs));
    this.timer = setInterval(() => this.sweep(), this.clock.timing.tickMs);
    this.timer.unref();
  }

  /** One check of every link (the timer calls it; exposed for measurement). */
  sweep(now: number = performance.now()): void {
    this.clock.tick(now);
    const timing = this.clock.timing;
    const dead: L[] = [];
    for (const link of this.links()) {
      if (link.isClosed || !link.canPing) continue;
      const verdict = keepaliveVerdict(
        this.clock.silence(link.signOfLife(now), now),
        now - link.lastPing,
        timing,
      );
      if (verdict === 'ping') link.ping(now);
      else if (verdict === 'dead') dead.push(link);
    }
    // Dropped after the walk: dropping changes the set being walked.
    for (const link of dead) this.onDead(link);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
