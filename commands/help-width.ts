/**
 * The width `--help` is wrapped to: the terminal's columns (or $COLUMNS when stdout is not a
 * terminal), at most 100. Shared by yargs and the pre-rendered fast path so both agree.
 */

/** Widest help text; longer lines are hard to read. */
export const MAX_HELP_WIDTH = 100;
/** Narrowest width pre-rendered at build time; narrower terminals get yargs' own rendering. */
export const MIN_PRERENDERED_WIDTH = 40;

/** The width to wrap help to for this process's stdout. */
export function helpWidth(): number {
  const columns = process.stdout.isTTY ? process.stdout.columns : Number(process.env.COLUMNS);
  return Number.isInteger(columns) && columns > 0 ? Math.min(MAX_HELP_WIDTH, columns) : MAX_HELP_WIDTH;
}
