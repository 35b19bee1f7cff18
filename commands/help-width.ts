/**
 * The width `--help` is wrapped to: the terminal's columns, at most 100. Piped to a file or
 * a pager, stdout has no width: $COLUMNS when set, else the terminal's width through stderr
 * (`cmd-chat --help | less`), else 80. Shared by yargs and the pre-rendered fast path so
 * both agree.
 */

/** Widest help text; longer lines are hard to read. */
export const MAX_HELP_WIDTH = 100;
/** Narrowest width pre-rendered at build time; narrower terminals get yargs' own rendering. */
export const MIN_PRERENDERED_WIDTH = 40;
/** The width when nothing tells us the terminal's: what a file or a mail can show. */
export const FALLBACK_HELP_WIDTH = 80;

const valid = (columns: number | undefined): columns is number =>
  columns !== undefined && Number.isInteger(columns) && columns > 0;

/** The width to wrap help to for this process's stdout. */
export function helpWidth(): number {
  const candidates = [
    process.stdout.isTTY ? process.stdout.columns : undefined,
    process.env.COLUMNS ? Number(process.env.COLUMNS) : undefined,
    process.stderr.isTTY ? process.stderr.columns : undefined,
  ];
  const columns = candidates.find(valid) ?? FALLBACK_HELP_WIDTH;
  return Math.min(MAX_HELP_WIDTH, columns);
}
