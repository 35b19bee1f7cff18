/**
 * The message ids a session has shown, to drop a replay of one (a resend the daemon relayed
 * twice, a page of history overlapping live messages). Bounded: the oldest are forgotten.
 */

/** How many message ids are remembered. */
export const SEEN_IDS = 10_000;

export class SeenIds {
  private readonly ids = new Set<string>();

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > SEEN_IDS) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
  }
}
