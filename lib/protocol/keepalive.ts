/**
 * Keepalive timing, one rule for both ends (pure: no timers here). A peer that has shown no
 * sign of life for a share of the keepalive time (the client: a third, the daemon: half, so
 * that a client's ping usually spares the daemon's) is pinged inside the channel, again after
 * as long; one silent for longer than the keepalive time less one check interval is dead.
 * Checked every `tickMs`, so a dead peer is noticed within the keepalive time. A check that
 * comes late (this process itself was suspended) must not blame the peer for the silence:
 * see KeepaliveClock.
 */

export interface KeepaliveTiming {
  /** How often silence is checked (ms). */
  readonly tickMs: number;
  /** Silence after which the peer is pinged, and the interval between pings (ms). */
  readonly pingAfterMs: number;
  /** Silence after which the peer is dead (ms). */
  readonly deadAfterMs: number;
}

/**
 * The timing for a keepalive time (ms, > 0): checks every tenth of it, 20 ms to 1 s; pings
 * after `pingShare` of it.
 */
export function keepaliveTiming(keepaliveMs: number, pingShare = 1 / 3): KeepaliveTiming {
  const tickMs = Math.min(1000, Math.max(20, keepaliveMs / 10));
  return {
    tickMs,
    pingAfterMs: keepaliveMs * pingShare,
    deadAfterMs: Math.max(tickMs, keepaliveMs - tickMs),
  };
}

export type KeepaliveVerdict = 'ok' | 'ping' | 'dead';

/** What to do about a peer silent for `silentMs`, last pinged `sincePingMs` ago. */
export function keepaliveVerdict(
  silentMs: number,
  sincePingMs: number,
  timing: KeepaliveTiming,
): KeepaliveVerdict {
  if (silentMs > timing.deadAfterMs) return 'dead';
  if (silentMs >= timing.pingAfterMs && sincePingMs >= timing.pingAfterMs) return 'ping';
  return 'ok';
}

/**
 * The checking side's own clock. When a check runs much later than due, this process was
 * stopped (a suspended laptop, SIGSTOP, a paused VM): the silence is not the peer's fault, so
 * silence is counted from no earlier than one ping interval before the late check. Every
 * silent peer is then pinged at once and has the rest of the keepalive time to answer.
 */
export class KeepaliveClock {
  private lastTick: number;
  private countFrom = Number.NEGATIVE_INFINITY;

  constructor(
    readonly timing: KeepaliveTiming,
    now: number = performance.now(),
  ) {
    this.lastTick = now;
  }

  /** Call at each check, before judging peers. */
  tick(now: number = performance.now()): void {
    if (now - this.lastTick > 3 * this.timing.tickMs + 250) this.countFrom = now - this.timing.pingAfterMs;
    this.lastTick = now;
  }

  /** A peer's silence at `now`, last heard at `lastHeard`. */
  silence(lastHeard: number, now: number): number {
    return now - Math.max(lastHeard, this.countFrom);
  }
}
