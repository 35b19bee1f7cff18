/**
 * Bracketed paste for the REPL: the terminal wraps pasted text in ESC[200~ … ESC[201~ (once
 * we enabled mode 2004), and this filter takes those blocks out of the raw input before
 * readline sees them, so a pasted newline does not press Enter. Inside readline's input line
 * a pasted newline is shown as "⏎" and a tab as "⇥" (a tab would otherwise trigger
 * completion); `fromInputLine` turns them back when the line is sent.
 */

export const BRACKETED_PASTE_ON = '\x1b[?2004h';
export const BRACKETED_PASTE_OFF = '\x1b[?2004l';

const START = '\x1b[200~';
const END = '\x1b[201~';

/** Shown in the input line for a pasted newline / tab. */
export const NEWLINE_MARK = '\u23ce';
export const TAB_MARK = '\u21e5';

/** A paste longer than this is ended even if the terminal never sends ESC[201~. */
export const MAX_PASTE_CHARS = 1_000_000;

// Length of the longest suffix of `data` that is a proper prefix of `marker`: those bytes may
// be the start of a marker split across two reads and are held back.
function partialMarkerTail(data: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, data.length); n > 0; n--) {
    if (marker.startsWith(data.slice(data.length - n))) return n;
  }
  return 0;
}

/**
 * Converts pasted text into what readline may safely insert as typed characters: newlines
 * and tabs become visible marks, every other control character (ESC included) is dropped so
 * a paste can neither press keys nor carry escape sequences.
 */
export function toInputLine(pasted: string): string {
  return pasted
    .replace(/\r\n?/g, '\n')
    .replace(/\n/g, NEWLINE_MARK)
    .replace(/\t/g, TAB_MARK)
    .replace(/[\x00-\x1f\x7f-\x9f]/g, '');
}

/** The message text for a line typed (and pasted) into readline: marks back to \n and \t. */
export function fromInputLine(line: string): string {
  return line.replaceAll(NEWLINE_MARK, '\n').replaceAll(TAB_MARK, '\t');
}

/**
 * Splits raw terminal input into ordinary keystrokes (passed through) and pasted blocks
 * (converted with `toInputLine`). Feed decoded strings; the result goes to readline.
 */
export class BracketedPasteFilter {
  private inPaste = false;
  private pending = '';
  private pasted = '';

  /** True while a paste has started and not ended. */
  get pasting(): boolean {
    return this.inPaste;
  }

  feed(chunk: string): string {
    let data = this.pending + chunk;
    this.pending = '';
    let out = '';
    for (;;) {
      if (!this.inPaste) {
        const i = data.indexOf(START);
        if (i < 0) {
          const hold = partialMarkerTail(data, START);
          this.pending = data.slice(data.length - hold);
          return out + data.slice(0, data.length - hold);
        }
        out += data.slice(0, i);
        data = data.slice(i + START.length);
        this.inPaste = true;
        this.pasted = '';
      } else {
        const i = data.indexOf(END);
        if (i < 0) {
          const hold = partialMarkerTail(data, END);
          this.pasted += data.slice(0, data.length - hold);
          this.pending = data.slice(data.length - hold);
          if (this.pasted.length > MAX_PASTE_CHARS) {
            out += toInputLine(this.pasted);
            this.pasted = '';
            this.inPaste = false;
          }
          return out;
        }
        this.pasted += data.slice(0, i);
        data = data.slice(i + END.length);
        out += toInputLine(this.pasted);
        this.pasted = '';
        this.inPaste = false;
      }
    }
  }

  /**
   * Releases keystrokes held back as a possible marker start (call after a short idle, so a
   * lone Escape is not held forever). Inside a paste nothing is released: the paste goes on.
   */
  flush(): string {
    if (this.inPaste) return '';
    const p = this.pending;
    this.pending = '';
    return p;
  }

  get hasPending(): boolean {
    return this.pending !== '' && !this.inPaste;
  }
}
