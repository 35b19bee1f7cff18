/**
 * A daemon-wide bound on the characters kept by many bounded stores together (room histories,
 * room logs): when the total goes over it, the largest store drops its oldest item first, so
 * a room filling its store cannot push out a small room's before its own has shrunk to that size.
 */

/** A store the budget can shrink. */
export interface Shrinkable {
  /** Characters held now. */
  readonly size: number;
  /** Drops the oldest item (and takes its characters off `budget.used`). */
  dropOldest(): void;
}

export class SharedBudget {
  used = 0;
  readonly stores = new Set<Shrinkable>();

  constructor(readonly maxChars: number) {}

  /** Drops oldest items from the largest stores until the total fits. */
  enforce(): void {
    while (this.used > this.maxChars) {
      let largest: Shrinkable | undefined;
      for (const s of this.stores) if (!largest || s.size > largest.size) largest = s;
      if (!largest || largest.size === 0) return;
      largest.dropOldest();
    }
  }
}
