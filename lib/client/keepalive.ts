/**
 * The client's keepalive: watches for signs of life from the daemon (any record), pings
 * inside the channel after a third of the keepalive time of silence, and reports the
 * connection lost once the daemon has been silent for the whole of it (a blackholed link, a
 * suspended or vanished daemon: no FIN, no RST). One timer per session. The timing rule is
 * shared with the daemon (lib/protocol/keepalive.ts).
 */
import { KeepaliveClock, keepaliveTiming, keepaliveVerdict } from '../protocol/keepalive.js';

export class DaemonWatch {
  private readonly clock: KeepaliveClock;
  private readonly timer: NodeJS.Timeout;
  private lastHeard = performance.now();
  private lastPing = Number.NEGATIVE_INFINITY;

  constructor(
    readonly keepaliveMs: number,
    private readonly ping: () => void,
    private readonly lost: () => void,
  ) {
    this.clock = new KeepaliveClock(keepaliveTiming(keepaliveMs));
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

  private check(): void {
    const now = performance.now();
    this.clock.tick(now);
    const verdict = keepaliveVerdict(
      this.clock.silence(this.lastHeard, now),
      now - this.lastPing,
      this.clock.timing,
    );
    if (verdict === 'ping') {
      this.lastPing = now;
      this.ping();
    } else if (verdict === 'dead') {
      this.stop();
      this.lost();
    }
  }
}
