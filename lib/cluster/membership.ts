/**
 * Which daemons of the cluster are alive, from their announcements on the control subject,
 * and which one sequences the rooms: the oldest live daemon (earliest announced start, then
 * the lowest run id). Every daemon computes the same answer from the same announcements, a
 * newcomer never takes over from a running sequencer, and a dead one is replaced by the next
 * oldest. Pure bookkeeping: the clock is passed in.
 */

interface NodeInfo {
  started: number;
  lastSeen: number;
}

/** Most other daemons tracked (announcements beyond it from new ids are ignored). */
export const MAX_TRACKED_DAEMONS = 1024;

export class Membership {
  private readonly others = new Map<string, NodeInfo>();

  constructor(
    readonly self: string,
    readonly started: number,
    /** A daemon unheard for this long is dead (ms). */
    private readonly deadMs: number,
  ) {}

  /** Records an announcement; true when the daemon was not known alive before. */
  heard(node: string, started: number, now: number): boolean {
    if (node === this.self) return false;
    const known = this.others.get(node);
    if (known) {
      known.lastSeen = now;
      return false;
    }
    if (this.others.size >= MAX_TRACKED_DAEMONS) return false;
    this.others.set(node, { started, lastSeen: now });
    return true;
  }

  /** Forgets one daemon (it said goodbye); true when it was known. */
  /**
   * Any event from a known daemon shows it alive, not only its announcements: under load its
   * announcements wait in the same queues as its room traffic.
   */
  touch(node: string, now: number): void {
    const known = this.others.get(node);
    if (known) known.lastSeen = now;
  }

  forget(node: string): boolean {
    return this.others.delete(node);
  }

  /** Removes the daemons unheard for too long and returns them. */
  sweep(now: number): string[] {
    const dead: string[] = [];
    for (const [node, info] of this.others) {
      if (now - info.lastSeen > this.deadMs) dead.push(node);
    }
    for (const node of dead) this.others.delete(node);
    return dead;
  }

  /** Forgets every other daemon (the bus is lost: this daemon is alone). */
  clear(): string[] {
    const all = [...this.others.keys()];
    this.others.clear();
    return all;
  }

  isLive(node: string): boolean {
    return node === this.self || this.others.has(node);
  }

  /** Live daemons, this one included. */
  get size(): number {
    return this.others.size + 1;
  }

  /** The sequencer: the oldest live daemon. */
  sequencer(): string {
    let best = this.self;
    let bestStarted = this.started;
    for (const [node, info] of this.others) {
      if (info.started < bestStarted || (info.started === bestStarted && node < best)) {
        best = node;
        bestStarted = info.started;
      }
    }
    return best;
  }
}
