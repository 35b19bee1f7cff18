/**
 * The wipes a room's log on JetStream has seen, by sequence range: a wipe event's number, the
 * first number it removed and how many messages. They outlive the wipe events themselves (a
 * purge or retention drops those), so a reader whose cursor lies before a wipe is told how
 * many messages were wiped rather than lost. At most MAX_WIPES are kept, the oldest forgotten.
 */
import type { Missing } from '../rooms/seam.js';
import type { LogBatch } from './log-batch.js';

/** Wipes whose ranges are remembered (older ones count as lost). */
const MAX_WIPES = 64;

export interface KnownWipe {
  /** The wipe event's number. */
  seq: number;
  /** The first number it removed. */
  from: number;
  /** Messages it removed. */
  wiped: number;
}

export class LogWipes {
  private readonly wipes: KnownWipe[] = [];

  /** The wipe numbered `seq`, when known. */
  at(seq: number): KnownWipe | undefined {
    return this.wipes.find((w) => w.seq === seq);
  }

  /** Notes the wipes of a batch (once each, in order). */
  learn(batch: LogBatch): void {
    for (let i = 0; i < batch.events.length; i++) {
      const e = batch.events[i]!;
      const seq = batch.first + i;
      if (e.event.kind !== 'wipe' || this.at(seq)) continue;
      this.wipes.push({ seq, from: e.from ?? seq, wiped: e.event.wiped });
      this.wipes.sort((a, b) => a.seq - b.seq);
      if (this.wipes.length > MAX_WIPES) this.wipes.shift();
    }
  }

  clear(): void {
    this.wipes.length = 0;
  }

  /** Messages among the sequence numbers [a, b] (known wipe events are not messages). */
  messagesIn(a: number, b: number): number {
    if (b < a) return 0;
    return b - a + 1 - this.wipes.filter((w) => w.seq >= a && w.seq <= b).length;
  }

  /** What lies in [a, b], which the log no longer holds: wiped (inside a known wipe's range) or lost. */
  missing(a: number, b: number): Missing {
    let wiped = 0;
    let covered = 0;
    for (const w of this.wipes) {
      const lo = Math.max(a, w.from);
      const hi = Math.min(b, w.seq - 1);
      if (hi < lo) continue;
      covered += hi - lo + 1;
      wiped += this.messagesIn(lo, hi);
    }
    const wipeEventsOutside = this.wipes.filter(
      (w) => w.seq >= a && w.seq <= b && !this.wipes.some((o) => w.seq >= o.from && w.seq <= o.seq - 1),
    ).length;
    return { lost: b - a + 1 - covered - wipeEventsOutside, wiped };
  }
}
