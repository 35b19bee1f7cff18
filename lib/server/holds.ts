/**
 * How many names each source holds for its lost connections, daemon-wide, against a quota:
 * what keeps throwaway connections from filling a room's held names.
 */

/**
 * Held names per source, daemon-wide: a source at its quota gets no new hold, so throwaway
 * connections from one place cannot fill a room's holds (and none is ever evicted for them).
 */
export class HoldQuota {
  private readonly held = new Map<string, number>();

  /** `max`: holds per source (0 = no limit). */
  constructor(readonly max: number) {}

  /** Takes one hold for `source` if it is under its quota; whether it did. */
  take(source: string | undefined): boolean {
    if (source === undefined || this.max === 0) return true;
    const n = this.held.get(source) ?? 0;
    if (n >= this.max) return false;
    this.held.set(source, n + 1);
    return true;
  }

  give(source: string | undefined): void {
    if (source === undefined || this.max === 0) return;
    const n = (this.held.get(source) ?? 1) - 1;
    if (n <= 0) this.held.delete(source);
    else this.held.set(source, n);
  }

  /** Holds a source has now. */
  of(source: string): number {
    return this.held.get(source) ?? 0;
  }
}
