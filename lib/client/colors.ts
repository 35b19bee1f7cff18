/**
 * The few SGR (colour and style) sequences the client writes, behind one switch, and the
 * decision whether colour is on (--no-color, NO_COLOR, FORCE_COLOR, TTY). Written by hand so
 * that the only escape sequences we ever print are these fixed ones.
 */

export type Style = (s: string) => string;

export interface Colors {
  readonly enabled: boolean;
  bold: Style;
  dim: Style;
  italic: Style;
  red: Style;
  yellow: Style;
  cyan: Style;
  inverse: Style;
  /** Foreground from the 256-colour palette (0–255; out of range is clamped). */
  fg256(n: number): Style;
}

/** Matches exactly the SGR sequences this module (and our highlighter theme) produces. */
export const SGR_PATTERN: RegExp = /\x1b\[[0-9;]*m/g;

/** Removes SGR sequences, e.g. to measure or compare coloured text. */
export function stripSgr(s: string): string {
  return s.replace(SGR_PATTERN, '');
}

// Each style closes with its own "off" code rather than a full reset, so styles nest: a
// mention in inverse inside a coloured line keeps the line's colour after it.
function sgr(open: string, close: string): Style {
  return (s: string): string => {
    if (s === '') return s;
    // Styled text never spans a newline: continuation lines get indented after styling, and
    // the indent must not be painted (inverse would show it).
    if (s.includes('\n')) {
      return s
        .split('\n')
        .map((line) => (line === '' ? line : `\x1b[${open}m${line}\x1b[${close}m`))
        .join('\n');
    }
    return `\x1b[${open}m${s}\x1b[${close}m`;
  };
}

const identity: Style = (s: string): string => s;

/** Style functions that emit SGR when `enabled`, and return text unchanged otherwise. */
export function createColors(enabled: boolean): Colors {
  if (!enabled) {
    return {
      enabled,
      bold: identity,
      dim: identity,
      italic: identity,
      red: identity,
      yellow: identity,
      cyan: identity,
      inverse: identity,
      fg256: () => identity,
    };
  }
  return {
    enabled,
    bold: sgr('1', '22'),
    dim: sgr('2', '22'),
    italic: sgr('3', '23'),
    red: sgr('31', '39'),
    yellow: sgr('33', '39'),
    cyan: sgr('36', '39'),
    inverse: sgr('7', '27'),
    fg256: (n: number): Style => {
      const c = Number.isFinite(n) ? Math.min(255, Math.max(0, Math.trunc(n))) : 7;
      return sgr(`38;5;${c}`, '39');
    },
  };
}

export interface ColorDecisionInput {
  /** `--no-color` was given. */
  noColorFlag: boolean;
  env: NodeJS.ProcessEnv;
  /** Whether the output stream is a terminal. */
  isTTY: boolean;
  /** `--color` was given: colour even into a pipe (still beaten by --no-color). */
  force?: boolean;
}

/**
 * Decides whether to colour, in this order: `--no-color` → off; `force` → on; NO_COLOR with
 * any non-empty value → off (https://no-color.org); FORCE_COLOR "0" or "false" → off, any
 * other value (including empty) → on; otherwise on only for a TTY whose TERM is not "dumb".
 */
export function colorEnabled(opts: ColorDecisionInput): boolean {
  if (opts.noColorFlag) return false;
  if (opts.force === true) return true;
  const noColor = opts.env['NO_COLOR'];
  if (noColor !== undefined && noColor !== '') return false;
  const force = opts.env['FORCE_COLOR'];
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  return opts.isTTY && opts.env['TERM'] !== 'dumb';
}
