/**
 * When a session tries again after losing its connection: exponential back-off from a first
 * short delay, capped, with jitter (so that every client of a restarted daemon does not come
 * back in the same instant), and how many attempts before giving up.
 */

export interface BackoffPolicy {
  /** Delay before the first attempt (ms). */
  initialDelayMs: number;
  /** Cap on the delay between attempts (ms). */
  maxDelayMs: number;
  /** Attempts before giving up; 0 = never give up. */
  maxAttempts: number;
}

export const defaultBackoff: BackoffPolicy = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  maxAttempts: 30,
};

/**
 * The delay before attempt `attempt` (1-based): the doubling delay, capped, then a uniformly
 * random part of its upper half (`random` in [0, 1)).
 */
export function reconnectDelayMs(
  policy: BackoffPolicy,
  attempt: number,
  random: number = Math.random(),
): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const full = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** exponent);
  return Math.round(full * (0.5 + random / 2));
}
