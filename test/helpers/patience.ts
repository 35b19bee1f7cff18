/**
 * How long a test waits, by default, for what must arrive (an event, a screen, a frame).
 * Long on purpose: the suite runs one file more than the cores, and a loaded machine can stall
 * a daemon or a stream for seconds. A passing test never waits it out; only a failing one
 * pays it.
 */
export const ARRIVAL_MS = 30_000;
