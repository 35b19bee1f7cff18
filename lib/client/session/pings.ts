/**
 * Round-trip measurements through the channel (`/status`): each ping waits for its pong, a
 * timeout, or the end of the connection, which rejects it at once.
 */
import { SessionError } from './error.js';

export class Pings {
  private readonly waiting = new Map<
    number,
    { resolve: (rtt: number) => void; reject: (err: SessionError) => void }
  >();

  /** Sends a ping (its `t` is the time it left) and resolves with the round-trip time in ms. */
  start(send: (t: number) => void, timeoutMs: number): Promise<number> {
    const t = performance.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(t);
        reject(new SessionError('connection_lost', 'no answer to ping'));
      }, timeoutMs);
      this.waiting.set(t, {
        resolve: (rtt) => {
          clearTimeout(timer);
          resolve(rtt);
        },
        // The connection ended: say so now rather than when the timer runs out.
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      send(t);
    });
  }

  /** The pong of the ping sent at `t`. */
  answered(t: number): void {
    const ping = this.waiting.get(t);
    this.waiting.delete(t);
    ping?.resolve(performance.now() - t);
  }

  /** The connection ended: every ping waiting fails with `reason`. */
  fail(reason: SessionError): void {
    for (const ping of this.waiting.values()) ping.reject(reason);
    this.waiting.clear();
  }
}
