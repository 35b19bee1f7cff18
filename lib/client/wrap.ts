/**
 * Word wrapping for the REPL: a rendered body is broken at spaces to fit the terminal, and
 * every continuation line is indented to where the text started (a hanging indent after the
 * name); the client's own lines (notices, command output) are wrapped at spaces too. Widths come from string-width (East Asian wide characters and emoji take two
 * columns, marks and SGR colour codes none). Lines inside ``` code fences are never wrapped
 * (the terminal folds them), and a word longer than a line is cut between graphemes.
 * Only the REPL loads this module: string-width compiles large Unicode tables at import
 * (~50–150 ms here), which pipe mode and --help must not pay.
 */
import stringWidth from 'string-width';
import { SGR_PATTERN } from './colors.js';
import type { TextLayout } from './render.js';

/** Terminal columns a string takes (SGR codes count zero). */
export function columnsOf(s: string): number {
  return stringWidth(s);
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

// Cuts a word (which may carry SGR codes) into pieces of at most `first`, then `rest` columns.
function cutWord(word: string, first: number, rest: number): string[] {
  const sgr = new RegExp(`(${SGR_PATTERN.source})`);
  const isSgr = new RegExp(`^${SGR_PATTERN.source}$`);
  const pieces: string[] = [];
  let cur = '';
  let width = 0;
  let limit = Math.max(1, first);
  for (const part of word.split(sgr)) {
    if (part === '') continue;
    if (isSgr.test(part)) {
      cur += part;
      continue;
    }
    for (const { segment } of graphemes.segment(part)) {
      const w = stringWidth(segment);
      if (width + w > limit && width > 0) {
        pieces.push(cur);
        cur = '';
        width = 0;
        limit = Math.max(1, rest);
      }
      cur += segment;
      width += w;
    }
  }
  if (cur !== '') pieces.push(cur);
  return pieces;
}

/** Breaks one line (no newline) into rows of `first` columns, then `rest` columns. */
export function wrapLine(line: string, first: number, rest: number): string[] {
  if (stringWidth(line) <= first) return [line];
  const rows: string[] = [];
  let cur = '';
  let width = 0;
  let limit = first;
  const breakRow = (): void => {
    rows.push(cur.trimEnd());
    cur = '';
    width = 0;
    limit = rest;
  };
  for (const token of line.split(/( +)/)) {
    if (token === '') continue;
    const w = stringWidth(token);
    if (token.startsWith(' ')) {
      // Spaces at a break are dropped; elsewhere they stay as typed.
      if (width + w <= limit) {
        cur += token;
        width += w;
      } else if (width > 0) {
        breakRow();
      }
      continue;
    }
    if (width + w <= limit) {
      cur += token;
      width += w;
      continue;
    }
    if (width > 0) breakRow();
    if (w <= limit) {
      cur = token;
      width = w;
      continue;
    }
    const pieces = cutWord(token, limit, rest);
    for (const piece of pieces.slice(0, -1)) {
      cur = piece;
      breakRow();
    }
    cur = pieces[pieces.length - 1] ?? '';
    width = stringWidth(cur);
  }
  if (cur !== '' || rows.length === 0) rows.push(cur);
  return rows;
}

/**
 * Wraps a body whose first line starts `start` columns in (after time and name) on a
 * terminal of `columns`; continuation rows, and the body's own further lines, start with
 * `indent` spaces. Lines inside ``` fences are left whole.
 */
export function wrapBody(body: string, start: number, indent: number, columns: number): string {
  const rest = Math.max(10, columns - indent);
  let first = Math.max(10, columns - start);
  const pad = ' '.repeat(indent);
  const out: string[] = [];
  let inFence = false;
  for (const line of body.split('\n')) {
    const plain = line.replace(new RegExp(SGR_PATTERN.source, 'g'), '');
    const fence = plain.trimStart().startsWith('```');
    if (inFence || fence) out.push(line);
    else out.push(...wrapLine(line, first, rest));
    first = rest;
    if (fence) inFence = !inFence;
  }
  return out.join(`\n${pad}`);
}

/**
 * Wraps lines the client writes itself (notices, command output, the welcome) at spaces to
 * `columns`: a continuation row is indented like its line's text (after leading spaces and a
 * leading "-- "), so a status reads as one block. SGR codes are allowed; lines inside ```
 * fences are left whole, as in bodies.
 */
export function wrapText(text: string, columns: number): string {
  const out: string[] = [];
  let inFence = false;
  for (const line of text.split('\n')) {
    const plain = line.replace(new RegExp(SGR_PATTERN.source, 'g'), '');
    const fence = plain.trimStart().startsWith('```');
    if (inFence || fence) {
      out.push(line);
      if (fence) inFence = !inFence;
      continue;
    }
    const lead = /^ */.exec(plain)![0].length + (plain.trimStart().startsWith('-- ') ? 3 : 0);
    const indent = Math.min(lead, Math.floor(columns / 2));
    const rows = wrapLine(line, columns, Math.max(10, columns - indent));
    out.push(rows.map((row, i) => (i === 0 ? row : ' '.repeat(indent) + row)).join('\n'));
  }
  return out.join('\n');
}

/** The layout of a terminal `columns` wide, for renderEvent. */
export function terminalLayout(columns: number): TextLayout {
  return { columns, width: columnsOf, wrapBody };
}
