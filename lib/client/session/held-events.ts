/**
 * Event delivery of a session: ChatEvents (and the end) that come while nobody listens are
 * held and delivered, in order, as soon as a listener is attached. Frames that arrive in the
 * same read as `init` are handled before the caller of `join()` has resumed and attached its
 * listener; none of them may be lost.
 */
import { EventEmitter } from 'node:events';
import type { ChatEvent } from '../events.js';
import type { SessionError } from './error.js';

/**
 * How many events are held for a UI that has not attached its listener yet; past this the
 * oldest are dropped (a session nobody listens to must not grow without bound).
 */
export const MAX_UNDELIVERED_EVENTS = 10_000;

export interface SessionEvents {
  event: [ChatEvent];
  /** The session ended; `error` says why (undefined after a local close). */
  close: [SessionError | undefined];
}

export class HeldEvents extends EventEmitter<SessionEvents> {
  private readonly undelivered: ChatEvent[] = [];
  /** The session's end, held until the events before it have been delivered. */
  private heldClose: { error: SessionError | undefined } | undefined;
  private flushScheduled = false;

  constructor() {
    super();
    // 'newListener' fires before the listener is added: deliver once it is in place.
    (this as EventEmitter).on('newListener', (name: string | symbol) => {
      if (name === 'event' || name === 'close') this.scheduleFlush();
    });
  }

  /** Emits a ChatEvent, or holds it while nobody listens or earlier events wait. */
  protected emitEvent(event: ChatEvent): void {
    if (this.undelivered.length === 0 && this.listenerCount('event') > 0) {
      this.emit('event', event);
      return;
    }
    this.undelivered.push(event);
    if (this.undelivered.length > MAX_UNDELIVERED_EVENTS) this.undelivered.shift();
  }

  /** Emits the end once the events before it are out. */
  protected emitClose(error: SessionError | undefined): void {
    this.heldClose = { error };
    this.flush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /**
   * Delivers held events to the attached listener, then the held end once they are out (or
   * at once to a caller that listens only for the end).
   */
  private flush(): void {
    const listening = this.listenerCount('event') > 0;
    while (this.undelivered.length > 0 && listening) {
      this.emit('event', this.undelivered.shift() as ChatEvent);
    }
    const held = this.heldClose;
    if (!held || this.listenerCount('close') === 0) return;
    if (listening && this.undelivered.length > 0) return;
    this.heldClose = undefined;
    this.emit('close', held.error);
  }
}
