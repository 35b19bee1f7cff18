/**
 * Splits terminal input into the units a line editor must see one at a time: each key (a
 * control character, an escape sequence, an Alt+key) on its own, and each run of ordinary
 * text as one insertion. readline treats a multi-character read as a paste and appends it at
 * the end of the line, so a paste, an IME commit or fast typing in the middle of the line
 * came out scrambled; feeding it units instead keeps every character where the cursor is.
 * An escape sequence cut at the end of a read is held until the next read (or `flush`).
 */

export type KeyUnit = { kind: 'text'; text: string } | { kind: 'key'; sequence: string };

const ESC = '\x1b';

// A control character (C0 or DEL) is a key of its own; ESC starts a sequence.
function isControl(code: number): boolean {
  return code < 0x20 || code === 0x7f;
}

/**
 * Length of the escape sequence at `i` (which holds ESC), or -1 when the input ends inside
 * it. Recognised: CSI (ESC [ params intermediates final), SS3 (ESC O x), the Linux console's
 * ESC [ [ x, an Alt-prefixed key or sequence (ESC followed by one of these), and ESC + any
 * other character (Alt+character).
 */
function escapeLength(s: string, i: number): number {
  if (i + 1 >= s.length) return -1;
  const next = s[i + 1]!;
  if (next === '[') {
    let j = i + 2;
    if (j >= s.length) return -1;
    if (s[j] === '[') return j + 1 < s.length ? j + 2 - i : -1;
    while (j < s.length && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x3f) j++;
    while (j < s.length && s.charCodeAt(j) >= 0x20 && s.charCodeAt(j) <= 0x2f) j++;
    if (j >= s.length) return -1;
    return j + 1 - i;
  }
  if (next === 'O') return i + 2 < s.length ? 3 : -1;
  if (next === ESC) {
    const inner = escapeLength(s, i + 1);
    return inner < 0 ? -1 : inner + 1;
  }
  // Alt + a character (a surrogate pair counts as one).
  const cp = s.codePointAt(i + 1)!;
  return 1 + (cp > 0xffff ? 2 : 1);
}

export class KeySplitter {
  private held = '';

  /** The units of `chunk` (after what was held); an unfinished escape sequence is held. */
  feed(chunk: string): KeyUnit[] {
    const s = this.held + chunk;
    this.held = '';
    const units: KeyUnit[] = [];
    let text = '';
    let i = 0;
    while (i < s.length) {
      const code = s.charCodeAt(i);
      if (!isControl(code)) {
        text += s[i];
        i++;
        continue;
      }
      if (text) units.push({ kind: 'text', text });
      text = '';
      if (code === 0x1b) {
        const n = escapeLength(s, i);
        if (n < 0) {
          this.held = s.slice(i);
          return units;
        }
        units.push({ kind: 'key', sequence: s.slice(i, i + n) });
        i += n;
      } else {
        units.push({ kind: 'key', sequence: s[i]! });
        i++;
      }
    }
    if (text) units.push({ kind: 'text', text });
    return units;
  }

  get hasPending(): boolean {
    return this.held !== '';
  }

  /** Releases a held partial sequence as one key (a lone Escape, after a pause). */
  flush(): KeyUnit[] {
    const held = this.held;
    this.held = '';
    return held ? [{ kind: 'key', sequence: held }] : [];
  }
}
