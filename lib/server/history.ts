/**
 * A room's history for late joiners: its last messages, bounded in count, in characters and
 * by a daemon-wide budget, the oldest dropped first.
 */
import type { MessageData } from '../protocol/frames.js';
import type { SharedBudget, Shrinkable } from '../rooms/budget.js';
import { Fifo } from '../rooms/fifo.js';

/**
 * The last messages of a room, bounded in count and in characters of ciphertext, so that a
 * member filling the history with the largest messages cannot make the init frame of every
 * later joiner huge. The oldest go first. Also bounded daemon-wide by a shared budget.
 */
export class History implements Shrinkable {
  /** A Fifo: `--history` may be large, and a full history drops one message per message. */
  private readonly items = new Fifo<MessageData>();
  private chars = 0;
  /** Messages dropped since the last clear (too many, too large, or the daemon-wide budget). */
  dropped = 0;

  constructor(
    private readonly maxCount: number,
    private readonly maxChars: number,
    private readonly budget: SharedBudget | undefined,
  ) {
    budget?.stores.add(this);
  }

  /** Characters held. */
  get size(): number {
    return this.chars;
  }

  push(item: MessageData): void {
    if (this.maxCount === 0) return;
    this.items.push(item);
    this.chars += item.text.length;
    if (this.budget) this.budget.used += item.text.length;
    while (this.items.length > this.maxCount || (this.chars > this.maxChars && this.items.length > 1)) {
      this.dropOldest();
    }
    this.budget?.enforce();
  }

  dropOldest(): void {
    const item = this.items.shift();
    if (!item) return;
    this.dropped++;
    this.chars -= item.text.length;
    if (this.budget) this.budget.used -= item.text.length;
  }

  /** Leaves the shared budget (the room is gone). */
  detach(): void {
    this.clear();
    this.budget?.stores.delete(this);
  }

  toArray(): MessageData[] {
    return [...this.items];
  }

  clear(): void {
    if (this.budget) this.budget.used -= this.chars;
    this.items.clear();
    this.chars = 0;
    this.dropped = 0;
  }
}
