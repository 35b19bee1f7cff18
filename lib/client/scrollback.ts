/**
 * What this client has seen in this session, for /search and /last: a ring of events in RAM
 * (never written anywhere), bounded by count and by characters of text, the oldest dropped
 * first, so a long session or a flood cannot grow the client without limit.
 */
import type { ChatEvent } from './events.js';
import { sanitizeBody, sanitizeName } from './sanitize.js';

export const SCROLLBACK_EVENTS = 5000;
export const SCROLLBACK_CHARS = 4 * 1024 * 1024;

function textOf(ev: ChatEvent): string {
  switch (ev.type) {
    case 'message':
      return `${ev.username} ${ev.body}`;
    case 'private':
      return `${ev.from} ${ev.to} ${ev.body}`;
    case 'join':
    case 'leave':
      return ev.username;
    case 'rename':
      return `${ev.old} ${ev.new}`;
    case 'cleared':
      return ev.by;
    case 'safety_phrase':
      return ev.phrase;
    case 'error':
      return ev.message;
    case 'shutdown':
    case 'disconnected':
    case 'reconnecting':
    case 'reconnected':
    case 'gap':
    case 'restarted':
      return '';
  }
}

export class Scrollback {
  private readonly ring: Array<ChatEvent | undefined>;
  private readonly sizes: number[];
  private head = 0; // index of the oldest
  private count = 0;
  private chars = 0;

  constructor(
    private readonly maxEvents = SCROLLBACK_EVENTS,
    private readonly maxChars = SCROLLBACK_CHARS,
  ) {
    this.ring = new Array<ChatEvent | undefined>(maxEvents);
    this.sizes = new Array<number>(maxEvents).fill(0);
  }

  get size(): number {
    return this.count;
  }

  add(ev: ChatEvent): void {
    const size = textOf(ev).length;
    if (size > this.maxChars) return;
    while (this.count > 0 && (this.count === this.maxEvents || this.chars + size > this.maxChars)) {
      this.dropOldest();
    }
    const at = (this.head + this.count) % this.maxEvents;
    this.ring[at] = ev;
    this.sizes[at] = size;
    this.count++;
    this.chars += size;
  }

  private dropOldest(): void {
    this.chars -= this.sizes[this.head]!;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.maxEvents;
    this.count--;
  }

  /** All kept events, oldest first. */
  events(): ChatEvent[] {
    const out: ChatEvent[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.ring[(this.head + i) % this.maxEvents]!);
    return out;
  }

  /** The last `n` events, oldest first. */
  last(n: number): ChatEvent[] {
    const all = this.events();
    return n <= 0 ? [] : all.slice(-n);
  }

  /** Events whose sender or text contains `query` (case-insensitive, as shown on screen). */
  search(query: string): ChatEvent[] {
    const q = query.toLowerCase();
    if (q === '') return [];
    return this.events().filter((ev) => {
      const shown =
        ev.type === 'message' ? `${sanitizeName(ev.username)} ${sanitizeBody(ev.body)}` : textOf(ev);
      return shown.toLowerCase().includes(q);
    });
  }
}
