/**
 * The input line edited by grapheme cluster (what a person sees as one character: 👨‍👩‍👧, a
 * flag, e + a combining accent) instead of by code point, as readline does. Cursor keys and
 * single-character deletions become as many of readline's own steps as the cluster has code
 * points, so the cursor never stops inside one; and readline measures the line with the
 * widths the rest of the REPL uses (string-width, through wrap.ts), so the cursor sits where
 * the terminal drew the text. Without the second part a family emoji counted 6 columns
 * instead of 2 and every cursor position after it was off.
 */
import type { Interface } from 'node:readline';
import { stripVTControlCharacters } from 'node:util';
import { columnsOf } from '../wrap.js';

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Keys that move or delete one character, and on which side of the cursor. */
const LEFT = new Set(['\x1b[D', '\x1bOD', '\x02', '\x7f', '\b']);
const RIGHT = new Set(['\x1b[C', '\x1bOC', '\x06', '\x1b[3~', '\x04']);

/** Code points in `s` (readline's unit of movement: a surrogate pair is one). */
function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** The grapheme cluster that ends at `cursor` (a UTF-16 index), or '' at the start. */
export function clusterBefore(line: string, cursor: number): string {
  let last = '';
  for (const { segment, index } of segmenter.segment(line.slice(0, cursor))) {
    if (index + segment.length === cursor) last = segment;
  }
  return last;
}

/** The grapheme cluster that starts at `cursor`, or '' at the end. */
export function clusterAfter(line: string, cursor: number): string {
  const first = segmenter.segment(line.slice(cursor))[Symbol.iterator]().next();
  return first.done ? '' : first.value.segment;
}

/**
 * How many times readline must see `key` for it to move over (or delete) one whole cluster
 * next to the cursor: 1 for other keys and where there is no cluster on that side.
 */
export function keyRepeat(key: string, line: string, cursor: number): number {
  if (LEFT.has(key)) return Math.max(1, codePoints(clusterBefore(line, cursor)));
  if (RIGHT.has(key)) return Math.max(1, codePoints(clusterAfter(line, cursor)));
  return 1;
}

/** A measured text (control sequences stripped) and where measuring stood before its last cluster. */
interface Measured {
  readonly columns: number;
  readonly tabSize: number;
  readonly text: string;
  readonly cols: number;
  readonly rows: number;
  /** Where the text's last cluster starts (its length when it has none) … */
  readonly lastStart: number;
  /** … and the column offset and rows counted before it. */
  readonly before: Walk;
}

interface Walk {
  offset: number;
  rows: number;
}

/**
 * The last few answers of displayPos. One redraw measures the same prompt and line several
 * times (readline's cursor position, its refresh, our input area), and a flood redraws an
 * unchanged line many times a second: measuring it grapheme by grapheme each time cost more
 * than rendering the messages. A text that extends a remembered one (a key typed at the end
 * of the line) is measured from the remembered one's last cluster on, so a keystroke costs
 * the width of what it added, not of the whole line.
 */
const measured = new Map<string, Measured>();
const MEASURED_MAX = 8;

/** Widths of recent non-ASCII clusters (string-width is slow for them); bounded. */
const clusterWidths = new Map<string, number>();
const CLUSTER_WIDTHS_MAX = 1024;

/** Where `str` ends on a terminal `columns` wide, as readline's getDisplayPos computes it. */
export function displayPos(str: string, columns: number, tabSize: number): { cols: number; rows: number } {
  const key = `${columns} ${tabSize} ${str}`;
  const known = measured.get(key);
  if (known) return { cols: known.cols, rows: known.rows };
  const text = stripVTControlCharacters(str);
  const pos = measure(text, columns, tabSize, resumeFrom(text, columns, tabSize) ?? null);
  if (measured.size >= MEASURED_MAX) measured.delete(measured.keys().next().value!);
  measured.set(key, pos);
  return { cols: pos.cols, rows: pos.rows };
}

/**
 * The longest remembered text that `text` extends, measured on the same terminal. Appending
 * can only change the cluster at the end (a grapheme break depends on what precedes it and
 * the one character after), so measuring may resume at the start of that last cluster.
 */
function resumeFrom(text: string, columns: number, tabSize: number): Measured | undefined {
  let best: Measured | undefined;
  for (const m of measured.values()) {
    if (m.columns !== columns || m.tabSize !== tabSize || m.text.length > text.length) continue;
    if ((best === undefined || m.text.length > best.text.length) && text.startsWith(m.text)) best = m;
  }
  return best;
}

/**
 * Where `text` (no control sequences) ends, measured from its start without the memory of
 * displayPos (what that memory must always agree with).
 */
export function measureText(text: string, columns: number, tabSize: number): { cols: number; rows: number } {
  const { cols, rows } = measure(text, columns, tabSize, null);
  return { cols, rows };
}

function measure(text: string, columns: number, tabSize: number, from: Measured | null): Measured {
  const start = from ? from.lastStart : 0;
  const walk: Walk = from ? { ...from.before } : { offset: 0, rows: 0 };
  let lastStart = text.length;
  let before: Walk = { ...walk };
  for (const { segment, index } of segmenter.segment(text.slice(start))) {
    lastStart = start + index;
    before = { ...walk };
    advance(walk, segment, columns, tabSize);
  }
  const cols = walk.offset % columns;
  const rows = walk.rows + (walk.offset - cols) / columns;
  return { columns, tabSize, text, cols, rows, lastStart, before };
}

/** Moves `walk` past one grapheme cluster. */
function advance(walk: Walk, segment: string, columns: number, tabSize: number): void {
  if (segment === '\n' || segment === '\r\n') {
    walk.rows += Math.ceil(walk.offset / columns) || 1;
    walk.offset = 0;
    return;
  }
  if (segment === '\t') {
    walk.offset += tabSize - (walk.offset % tabSize);
    return;
  }
  const width = clusterWidth(segment);
  // A wide character does not start in the last column: the terminal wraps it whole.
  if (width === 2 && (walk.offset + 1) % columns === 0) walk.offset++;
  walk.offset += width;
}

function clusterWidth(segment: string): number {
  const code = segment.charCodeAt(0);
  if (segment.length === 1 && code >= 0x20 && code < 0x7f) return 1;
  let width = clusterWidths.get(segment);
  if (width === undefined) {
    width = columnsOf(segment);
    if (clusterWidths.size >= CLUSTER_WIDTHS_MAX) clusterWidths.clear();
    clusterWidths.set(segment, width);
  }
  return width;
}

/**
 * Makes `rl` measure its line by grapheme cluster with string-width. readline keeps this
 * method behind a symbol (Node ≥ 18); when it cannot be found, readline's own widths stay
 * (and the cursor keys still move by whole clusters).
 */
export function measureByCluster(rl: Interface): boolean {
  let proto: object | null = Object.getPrototypeOf(rl);
  while (proto) {
    const symbol = Object.getOwnPropertySymbols(proto).find((s) => s.description === '_getDisplayPos');
    if (symbol) {
      const self = rl as unknown as { columns: number; tabSize?: number };
      // An own property: the prototype may define it as an accessor.
      Object.defineProperty(rl, symbol, {
        value: (str: string) => displayPos(str, self.columns || 80, self.tabSize ?? 8),
        configurable: true,
        writable: true,
      });
      return true;
    }
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}
