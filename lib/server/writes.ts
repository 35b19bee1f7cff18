/**
 * Writes under way (a room's name-table compare-and-sets), so that whoever lets go of the
 * backing can first wait for each of them to end, however it ends.
 */
export class Writes {
  private readonly pending = new Set<Promise<unknown>>();

  /** Keeps `write` until it settles; returns it unchanged. */
  track<T>(write: Promise<T>): Promise<T> {
    this.pending.add(write);
    const done = (): void => {
      this.pending.delete(write);
    };
    write.then(done, done);
    return write;
  }

  /** Resolves when every write under way (including those tracked meanwhile) has ended. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
