/**
 * `cmd-chat connect` without yargs: a plain line (the words HOST PORT NAME [PASSWORD] and
 * options in their plain forms, fast-args.ts) gives the very object yargs gives, from
 * the same declarations, and the client starts. Any other line goes to the full CLI, which
 * parses it or says what is wrong exactly as before. Loading yargs is about a third of a
 * client's start-up CPU (docs/benchmarks.md); test/e2e/connect-fast.test.ts holds the two
 * parsers to the same results.
 */
import { CONNECT_OPTIONS, CONNECT_POSITIONAL, type ConnectArgs, runConnect } from './connect.js';
import { parsePlain } from './fast-args.js';

/** connect's arguments as yargs would give them, or undefined when yargs must parse the line. */
export function parseConnectArgs(args: readonly string[]): ConnectArgs | undefined {
  const parsed = parsePlain(args, { args: CONNECT_POSITIONAL }, CONNECT_OPTIONS);
  // No words at all: yargs' own usage error.
  if (parsed === undefined || !Array.isArray(parsed.args)) return undefined;
  return parsed as unknown as ConnectArgs;
}

/**
 * Runs `connect` with `args` (what follows the word connect) if they parse plainly; resolves
 * false, having done nothing, when the full CLI must take the line.
 */
export async function connectWithoutYargs(args: readonly string[]): Promise<boolean> {
  const parsed = parseConnectArgs(args);
  if (parsed === undefined) return false;
  await runConnect(parsed);
  return true;
}
