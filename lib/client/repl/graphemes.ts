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

/**
 * The last few answers of displayPos. One redraw measures the same prompt and line several
 * times (readline's cursor position, its refresh, our input area), and a flood redraws an
 * unchanged line many times a second: measuring it grapheme by grapheme each time cost more
 * than rendering the messages.
 */
const measured = new Map<string, { cols: number; rows: number }>();
const MEASURED_MAX = 8;

/** Where `str` ends on a terminal `columns` wide, as readline's getDisplayPos computes it. */
export function displayPos(str: string, columns: number, tabSize: number): { cols: number; rows: number } {
  const key = `${columns} ${tabSize} ${str}`;
  const known = measured.get(key);
  if (known) return { ...known };
  const pos = measure(str, columns, tabSize);
  if (measured.size >= MEASURED_MAX) measured.delete(measured.keys().next().value!);
  measured.set(key, pos);
  return { ...pos };
}

function measure(str: string, columns: number, tabSize: number): { cols: number; rows: number } {
  let offset = 0;
  let rows = 0;
  for (const { segment } of segmenter.segment(stripVTControlCharacters(str))) {
    if (segment === '\n' || segment === '\r\n') {
      rows += Math.ceil(offset / columns) || 1;
      offset = 0;
      continue;
    }
    if (segment === '\t') {
      offset += tabSize - (offset % tabSize);
      continue;
    }
    const width = columnsOf(segment);
    // A wide character does not start in the last column: the terminal wraps it whole.
    if (width === 2 && (offset + 1) % columns === 0) offset++;
    offset += width;
  }
  const cols = offset % columns;
  rows += (offset - cols) / columns;
  return { cols, rows };
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
