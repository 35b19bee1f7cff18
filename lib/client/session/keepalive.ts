/**
 * The client's keepalive: watches for signs of life from the daemon (any record), pings
 * inside the channel after a third of the keepalive time of silence, and reports the
 * connection lost once the daemon has been silent for the whole of it (a blackholed link, a
 * suspended or vanished daemon: no FIN, no RST). One timer per session. The timing rule is
 * shared with the daemon (lib/protocol/keepalive.ts).
 */
import {
  KeepaliveClock,
  type KeepaliveTiming,
  keepaliveTiming,
  keepaliveVerdict,
} from '../../protocol/keepalive.js';

export class DaemonWatch {
  private readonly clock: KeepaliveClock;
  private readonly timer: NodeJS.Timeout;
  private lastHeard = performance.now();
  private lastPing = Number.NEGATIVE_INFINITY;
  /** This round's timing: the ping after a third of the keepalive less up to a fifth of that (clients that went quiet together drift apart). */
  private timing: KeepaliveTiming;

  constructor(
    readonly keepaliveMs: number,
    private readonly ping: () => void,
    private readonly lost: () => void,
  ) {
    this.clock = new KeepaliveClock(keepaliveTiming(keepaliveMs));
    this.timing = this.jittered();
    this.timer = setInterval(() => this.check(), this.clock.timing.tickMs);
    this.timer.unref();
  }

  /** Something came from the daemon. */
  heard(): void {
    this.lastHeard = performance.now();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private jittered(): KeepaliveTiming {
    const base = this.clock.timing;
    return { ...base, pingAfterMs: base.pingAfterMs * (1 - 0.2 * Math.random()) };
  }

  private check(): void {
    const now = performance.now();
    this.clock.tick(now);
    const verdict = keepaliveVerdict(
      this.clock.silence(this.lastHeard, now),
      now - this.lastPing,
      this.timing,
    );
    if (verdict === 'ping') {
      this.lastPing = now;
      this.timing = this.jittered();
      this.ping();
    } else if (verdict === 'dead') {
      this.stop();
      this.lost();
    }
  }
}
