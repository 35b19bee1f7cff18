/**
 * `cmd-chat serve` without yargs: the daemon's start parses its own command line
 * (fast-args.ts) from the very declarations yargs reads, runs the same checks, and starts.
 * A line it cannot read plainly, or one the checks refuse, goes to the full CLI instead,
 * which parses it or says what is wrong exactly as before. So a daemon never loads yargs,
 * the help texts or the client's modules (docs/benchmarks.md, backlog RSS;
 * test/e2e/lazy-modules.test.ts).
 */
import { CLUSTER_OPTIONS } from './cluster-options.js';
import { parsePlain } from './fast-args.js';
import { limitOptions } from './limit-options.js';
import { checkServeArgs, SERVE_OPTIONS, SERVE_POSITIONALS, type ServeArgs } from './serve.js';
import { runServe } from './serve-run.js';

/** serve's arguments as yargs would give them, or undefined when yargs must parse the line. */
export function parseServeArgs(args: readonly string[]): ServeArgs | undefined {
  const parsed = parsePlain(args, SERVE_POSITIONALS, {
    ...SERVE_OPTIONS,
    ...CLUSTER_OPTIONS,
    ...limitOptions(),
  });
  return parsed as ServeArgs | undefined;
}

/**
 * Runs `serve` with `args` (what follows the word serve) if they parse plainly and pass the
 * checks; resolves false, having done nothing, when the full CLI must take the line.
 */
export async function serveWithoutYargs(args: readonly string[]): Promise<boolean> {
  const parsed = parseServeArgs(args);
  if (parsed === undefined) return false;
  try {
    checkServeArgs(parsed);
  } catch {
    return false; // yargs runs the same checks and prints the error with its hint
  }
  await runServe(parsed);
  return true;
}
