/**
 * Cleanups registered as things are made, run when the test ends, last made first (the
 * stores made on a server close before the server stops). Registered at once, they run even
 * when the test fails halfway through making things: an open NATS connection or a child
 * process left behind would keep the test file, and so the whole run, from ending.
 */
export type Defer = (cleanup: () => unknown) => void;

export function teardown(t: { after(fn: () => Promise<void>): void }): Defer {
  const cleanups: Array<() => unknown> = [];
  t.after(async () => {
    let first: unknown;
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  });
  return (cleanup) => void cleanups.push(cleanup);
}
