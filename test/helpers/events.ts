/**
 * Test helpers to wait for session events in order, with a timeout that names what was awaited.
 */
import type { ChatEvent } from '../../lib/client/events.js';
import type { ChatSession } from '../../lib/client/session/session.js';
import { ARRIVAL_MS } from './patience.js';

/** Records every event of a session so tests can wait for one that matches. */
export class EventLog {
  readonly events: ChatEvent[] = [];
  private waiters: Array<{ match: (e: ChatEvent) => boolean; resolve: (e: ChatEvent) => void }> = [];

  constructor(session: ChatSession) {
    session.on('event', (e) => {
      this.events.push(e);
      for (const w of [...this.waiters]) {
        if (w.match(e)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(e);
        }
      }
    });
  }

  /** Resolves with the first event (already seen or future) that matches. */
  waitFor(match: (e: ChatEvent) => boolean, what = 'event', timeoutMs = ARRIVAL_MS): Promise<ChatEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /** Bodies of the message events seen so far. */
  bodies(): string[] {
    return this.events.flatMap((e) => (e.type === 'message' ? [e.body] : []));
  }
}

export function isMessage(body: string): (e: ChatEvent) => boolean {
  return (e) => e.type === 'message' && e.body === body;
}
