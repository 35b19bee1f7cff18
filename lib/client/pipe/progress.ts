/**
 * A progress line for pipe mode on a terminal's stderr: how many lines were sent and how many
 * the daemon has echoed back, redrawn in place, so a long `seq … | cmd-chat connect` paced by
 * the daemon's flood control is visibly working rather than silent. Shown only after a second
 * (a quick send never flickers) and erased when the run ends.
 */
import type { Writable } from 'node:stream';

/** Wait before the first progress line, and between redraws (ms). */
export const PROGRESS_DELAY_MS = 1000;
export const PROGRESS_INTERVAL_MS = 250;

export interface ProgressCounts {
  sent: number;
  delivered: number;
}

/** The text of the progress line (no control characters). */
export function progressText(counts: ProgressCounts, elapsedMs: number): string {
  const seconds = Math.max(elapsedMs / 1000, 0.001);
  const rate = Math.round(counts.delivered / seconds);
  return (
    `cmd-chat: ${counts.sent} sent, ${counts.delivered} delivered (${rate}/s; ` +
    'the daemon paces each sender, see --rate)'
  );
}

export class PipeProgress {
  private readonly started = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private shown = false;

  constructor(
    private readonly out: Writable,
    private readonly counts: () => ProgressCounts,
  ) {
    this.timer = setTimeout(() => this.tick(), PROGRESS_DELAY_MS);
    this.timer.unref();
  }

  private tick(): void {
    const text = progressText(this.counts(), Date.now() - this.started);
    this.out.write(`\r\x1b[K${text}`);
    this.shown = true;
    this.timer = setTimeout(() => this.tick(), PROGRESS_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops redrawing and erases the line. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }
}
