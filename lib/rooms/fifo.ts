/**
 * A first-in first-out list with reads by position, constant time at both ends. `Array.shift`
 * is not: V8 trims the start of a small array in place, but past a few thousand entries it
 * moves the whole array (12–35 µs a shift at 14,000–40,000 entries, measured on Node 24), and
 * a room's log drops its oldest entry for every message once it is full.
 */
export class Fifo<T> {
  private items: Array<T | undefined> = [];
  /** Position in `items` of the first entry. */
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  /** The entry at `index` (0: the oldest), or undefined. */
  at(index: number): T | undefined {
    return index < 0 ? undefined : this.items[this.head + index];
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** Takes the oldest entry off, or undefined when empty. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined; // not kept alive by the dead prefix
    this.head++;
    if (this.head === this.items.length) this.clear();
    else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      // The dead prefix is half the array: drop it (each entry is copied at most once per halving).
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}
