/**
 * What waits for each member, watched: the daemon-wide bound on all queues together (the
 * largest dropped first) and each member's own bound (a member above it for the grace period
 * is a slow reader). Checked on an interval and at once when a link says its queue is over.
 */
import type { DaemonLimits } from '../protocol/limits.js';
import { sharedBytesLive } from './fanout.js';
import type { Link } from './link.js';
import type { Logger } from './log.js';

/** How often the queues are checked while nothing asks for it sooner (ms). */
const QUEUE_CHECK_MS = 250;

export class QueueWatch {
  /** Members dropped because all queues together passed `maxQueueTotalBytes`. */
  droppedForMemory = 0;
  /** The most bytes left queued after a check. */
  peakQueuedBytes = 0;
  private scheduled = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly limits: DaemonLimits,
    private readonly logger: Logger,
    /** Every connection's link. */
    private readonly clients: () => Iterable<{ link: Link }>,
  ) {
    this.timer = setInterval(() => this.check(), QUEUE_CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Every member's own queued bytes, and each shared batch not yet taken by all once. */
  totalQueued(): number {
    let total = sharedBytesLive();
    for (const client of this.clients()) total += client.link.ownQueuedBytes;
    return total;
  }

  /** A queue went over its bound: check all of them once this turn's output is sealed. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.check();
    });
  }

  /**
   * The queue bounds. Above the daemon-wide bound, the members with the largest queues are
   * dropped at once until the rest fits (non-readers hold the most). A member whose queue
   * stays above its own bound for the grace period is dropped as a slow reader and told so;
   * one that catches up within it stays, so a burst from others never costs a reader its seat.
   */
  check(): void {
    const { maxQueueBytes, maxQueueTotalBytes, slowReaderGraceMs } = this.limits;
    const now = performance.now();
    const queued: Array<[{ link: Link }, number]> = [];
    for (const client of this.clients()) {
      const bytes = client.link.queuedBytes;
      if (bytes > 0) queued.push([client, bytes]);
    }
    let total = this.totalQueued();
    if (maxQueueTotalBytes > 0 && total > maxQueueTotalBytes) {
      queued.sort((a, b) => b[1] - a[1]);
      for (const [client] of queued) {
        if (total <= maxQueueTotalBytes) break;
        this.droppedForMemory++;
        this.logger.detail(
          `dropped a member of ${client.link.conn.peer}: all queues together passed --max-queue-total`,
        );
        client.link.close('slow_reader', { now: true });
        // Its own bytes are gone, and the shared batches only it still held.
        total = this.totalQueued();
      }
    }
    if (total > this.peakQueuedBytes) this.peakQueuedBytes = total;
    for (const [client, bytes] of queued) {
      const link = client.link;
      if (link.isClosed) continue;
      if (bytes <= maxQueueBytes) {
        link.overSince = undefined;
        continue;
      }
      link.overSince ??= now;
      if (now - link.overSince >= slowReaderGraceMs) link.close('slow_reader');
    }
    for (const client of this.clients()) {
      if (client.link.overSince !== undefined && client.link.queuedBytes <= maxQueueBytes) {
        client.link.overSince = undefined;
      }
    }
  }
}
