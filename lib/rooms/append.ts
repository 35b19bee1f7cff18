/**
 * Appending until the log answers: an append that fails or times out is retried with the same
 * de-duplication id (the log appends it once however often it is asked), with a growing pause,
 * until it is acknowledged or the attempts run out.
 */
import type { Appended, RoomEvent, RoomLog } from './seam.js';

export interface RetryOptions {
  /** Attempts in all (≥ 1). */
  attempts: number;
  /** Pause before the second attempt (ms); doubled after each failure, at most `maxPauseMs`. */
  pauseMs: number;
  maxPauseMs: number;
}

export const defaultRetry: Readonly<RetryOptions> = Object.freeze({
  attempts: 8,
  pauseMs: 50,
  maxPauseMs: 2000,
});

/** Appends `event` with `dedupeId`, retrying failures; rejects with the last error. */
export async function appendWithRetry(
  log: RoomLog,
  event: RoomEvent & { kind: 'message' },
  dedupeId: string,
  options: RetryOptions = defaultRetry,
): Promise<Appended> {
  let pause = options.pauseMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await log.append(event, dedupeId);
    } catch (err) {
      if (attempt >= options.attempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, options.maxPauseMs);
    }
  }
}
