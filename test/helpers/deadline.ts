/**
 * Bounded waits for the tests: a promise that settles in time, or a failure that names what
 * was awaited (a test that hangs tells nothing and keeps the whole run from ending); and the
 * exit of a child process, which is killed if it is late so the test file can still end.
 */
import type { ChildProcess } from 'node:child_process';

/** `promise`, or a rejection `timed out after MS ms waiting for WHAT`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The exit code of `p`, or a failure after `ms`: then the process is killed (SIGKILL) so it
 * does not outlive the test. `what` names it in the failure, with the end of its stderr.
 */
export async function exitWithin(
  p: { proc: ChildProcess; exited: Promise<number | null>; stderr?: () => string },
  ms: number,
  what: string,
): Promise<number | null> {
  try {
    return await within(p.exited, ms, `${what} to exit`);
  } catch (err) {
    if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
    const tail = p.stderr ? `\nstderr: ${p.stderr().slice(-2000)}` : '';
    throw new Error(`${(err as Error).message}${tail}`);
  }
}
