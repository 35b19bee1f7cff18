/**
 * Log events held back until their sender's join is seen. The log and the name table are
 * watched apart, so on another daemon a newcomer's first message may come before its
 * `user_joined`: members would see it from a stranger. Such an event (and every one after it,
 * to keep the log's order) waits, at most JOIN_WAIT_MS, for the name table to catch up.
 */
import type { LoggedEvent } from '../rooms/seam.js';

/** How long a message from a member this daemon has not seen join yet waits for its join (ms). */
const JOIN_WAIT_MS = 500;

export class JoinWait {
  private waiting: LoggedEvent[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** Whether the event's sender has not been seen joining. */
    private readonly fromStranger: (event: LoggedEvent) => boolean,
    /** Hands an event on, in log order. */
    private readonly deliver: (event: LoggedEvent) => void,
  ) {}

  /** A live log event: handed on, unless its sender's join has not been seen yet (or others wait). */
  push(event: LoggedEvent): void {
    if (this.waiting.length === 0 && !this.fromStranger(event)) {
      this.deliver(event);
      return;
    }
    this.waiting.push(event);
    if (!this.timer) {
      this.timer = setTimeout(() => this.release(true), JOIN_WAIT_MS);
      this.timer.unref();
    }
  }

  /** Hands on the waiting events whose sender is known now (all of them when `all`), in order. */
  release(all: boolean): void {
    while (this.waiting.length > 0 && (all || !this.fromStranger(this.waiting[0]!))) {
      this.deliver(this.waiting.shift()!);
    }
    if (this.waiting.length === 0 || all) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Forgets what waits (it belongs to a log that started over). */
  drop(): void {
    this.waiting = [];
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
