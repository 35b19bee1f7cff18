/**
 * The REPL's screen: the readline line editor at the bottom and the finished lines printed
 * above it. Printing clears the prompt and input (which may wrap over several rows), writes
 * the text and redraws them, so whatever is being typed survives incoming messages. While the
 * input is taller than the window, printing waits (a redraw would leave stale copies of the
 * input in the terminal's scrollback). The only module that moves the cursor; shared by
 * every room of the client.
 */

import type { Completer } from 'node:readline';
import { clearScreenDown, createInterface, cursorTo, type Interface, moveCursor } from 'node:readline';
import { PassThrough } from 'node:stream';
import { columnsOf } from '../wrap.js';
import { displayPos, keyRepeat, measureByCluster } from './graphemes.js';

/** Input lines remembered for ↑/↓ (RAM only, never written anywhere). */
export const HISTORY_SIZE = 500;

const CLEAR_SCREEN = '\x1b[2J\x1b[H';
/**
 * Printed lines are drawn at most once per this many ms: each drawing clears and redraws the
 * input, so under a flood one per frame (about 60 a second) instead of one per turn of the
 * event loop leaves the CPU to reading keys and messages. A keystroke is echoed at once.
 */
const FRAME_MS = 16;
const TAB_SIZE = 4;

/** `text` cut to `max` columns (with an ellipsis), so it takes one row. */
function fitRow(text: string, max: number): string {
  if (columnsOf(text) <= max) return text;
  let out = '';
  for (const { segment } of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(text)) {
    if (columnsOf(out + segment) > max - 1) break;
    out += segment;
  }
  return `${out}…`;
}

/** Lines kept back while the input fills the window; older ones are counted, not kept. */
export const MAX_WAITING = 500;

export interface ScreenOptions {
  /** The real terminal: raw mode requests go there. */
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
  prompt: string;
  completer: Completer;
  /** The terminal wraps soft-wrapped lines again on a resize (terminal-caps.ts). */
  reflows: boolean;
  /**
   * A dumb terminal (TERM=dumb): plain lines only. The terminal's own line discipline edits
   * the input (cooked mode, no raw keys); printed lines go below whatever is on screen and
   * nothing is ever erased, moved or redrawn.
   */
  plain: boolean;
}

export class ReplScreen {
  /** readline reads keys from this stream, fed with the filtered terminal input. */
  readonly keys: PassThrough & { isTTY: true; setRawMode(mode: boolean): PassThrough };
  readonly rl: Interface;
  /** The prompt is on screen and must be kept below printed lines. */
  private active = false;
  private closed = false;
  /** Lines printed during this turn of the event loop, written together at its end. */
  private batch: string[] = [];
  private flushScheduled = false;
  /** When lines were last drawn (performance.now()). */
  private lastDrawn = Number.NEGATIVE_INFINITY;
  /** Lines to print once the input no longer fills the window (bounded). */
  private waiting: string[] = [];
  private waitingDropped = 0;

  constructor(private readonly options: ScreenOptions) {
    const { input } = options;
    const keys: ReplScreen['keys'] = Object.assign(new PassThrough(), {
      isTTY: true as const,
      setRawMode(mode: boolean): PassThrough {
        if (input.isTTY) input.setRawMode(mode);
        return keys;
      },
    });
    this.keys = keys;
    this.rl = createInterface({
      input: keys,
      output: options.output,
      terminal: !options.plain,
      prompt: options.prompt,
      historySize: HISTORY_SIZE,
      removeHistoryDuplicates: true,
      tabSize: TAB_SIZE,
      completer: options.completer,
    });
    if (options.plain) return;
    measureByCluster(this.rl);
    // readline redraws the input on a resize; what waited may fit now.
    options.output.on('resize', this.onResize);
    // Before readline's redraw, which starts by moving up to the input's first row.
    options.output.prependListener('resize', this.beforeRedraw);
  }

  private readonly onResize = (): void => {
    setImmediate(() => this.flushWaiting());
  };

  /**
   * readline's redraw moves up by the rows it last drew above the cursor, which is right for
   * a terminal that keeps its rows on a resize (xterm). One that reflows has wrapped the input
   * again to the new width already: moving up by the old count left copies of the prompt
   * (narrower) or erased a received line above it (wider). There the new width decides.
   */
  private readonly beforeRedraw = (): void => {
    if (this.status !== undefined) this.applyPrompt(); // cut to the new width
    if (!this.options.reflows || !this.active || this.closed) return;
    (this.rl as unknown as { prevRows?: number }).prevRows = this.rl.getCursorPos().rows;
  };

  get output(): NodeJS.WriteStream {
    return this.options.output;
  }

  /** Terminal width in columns (80 when unknown). */
  get columns(): number {
    return this.options.output.columns || 80;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The text typed so far on the input line. */
  get line(): string {
    return this.rl.line;
  }

  /** Shows the prompt for the first time; from now on printed lines keep it below them. */
  start(): void {
    if (this.closed) return;
    this.flush(); // what was printed before (the welcome) goes first, then the prompt
    this.active = true;
    this.showPrompt();
  }

  /** Shows a fresh prompt after a submitted line. */
  prompt(): void {
    if (this.closed) return;
    this.showPrompt();
    this.flushWaiting();
  }

  /** Plain mode: the prompt is the last thing written (a printed line starts below it). */
  private promptShown = false;

  private showPrompt(): void {
    this.rl.prompt();
    this.promptShown = this.options.plain;
  }

  /** Redraws the prompt and input where the cursor is (after a suspend, a resize …). */
  redraw(): void {
    if (this.options.plain) return;
    if (this.active && !this.closed) this.rl.prompt(true);
  }

  /**
   * Draws prompt and input again on the row the cursor is on, after the process was stopped
   * and continued: the shell wrote its own lines meanwhile, so readline's memory of the rows
   * above the cursor no longer holds (moving up by it would erase the shell's lines).
   */
  redrawAfterStop(): void {
    if (!this.active || this.closed || this.options.plain) return;
    (this.rl as unknown as { prevRows?: number }).prevRows = 0;
    this.rl.prompt(true);
    this.flushWaiting();
  }

  /** The prompt without the status row. */
  private basePrompt = '';
  /** A transient status (a reconnection in progress), shown in one row above the prompt. */
  private status: string | undefined;

  setPrompt(prompt: string): void {
    this.basePrompt = prompt;
    this.applyPrompt();
  }

  /** The prompt as set (without the status row). */
  get promptText(): string {
    return this.basePrompt;
  }

  /**
   * Shows `text` (already sanitised) as the status row above the prompt, replacing the one
   * shown, or removes it (undefined). The row is cut to the width, so it never wraps, and it
   * is redrawn with the prompt: updating it adds no line to the terminal. Plain mode: none.
   */
  setStatus(text: string | undefined): void {
    if (this.options.plain || text === this.status) return;
    this.status = text;
    this.applyPrompt();
    this.redraw();
  }

  private applyPrompt(): void {
    const status = this.status === undefined ? '' : `${fitRow(this.status, this.columns - 1)}\n`;
    this.rl.setPrompt(status + this.basePrompt);
  }

  /** Rows that prompt and `line` take (the status row included). */
  private inputRows(line: string): number {
    return displayPos(this.rl.getPrompt() + line, this.columns, TAB_SIZE).rows + 1;
  }

  /** Inserts text at the cursor, as if typed. */
  insertText(text: string): void {
    if (this.closed) return;
    this.rl.write(text);
    this.flushSoon();
  }

  /**
   * Feeds one key (a control character or escape sequence) to readline's key decoder; a key
   * that moves or deletes one character does so over a whole grapheme cluster.
   */
  pressKey(sequence: string): void {
    if (this.closed) return;
    this.keys.write(sequence.repeat(keyRepeat(sequence, this.rl.line, this.rl.cursor)));
    this.flushSoon();
  }

  // readline handles a key once the stream delivers it; look after that.
  private flushSoon(): void {
    if (this.waiting.length > 0) setImmediate(() => this.flushWaiting());
  }

  /** Empties the input line (Ctrl-E then Ctrl-U, as readline knows them). */
  clearLine(): void {
    if (this.options.plain) return;
    this.rl.write(null, { ctrl: true, name: 'e' });
    this.rl.write(null, { ctrl: true, name: 'u' });
  }

  /** Writes a fixed escape sequence (modes, title, notification) unless closed. */
  writeRaw(sequence: string): void {
    if (!this.closed && !this.options.plain) this.options.output.write(sequence);
  }

  /** Clears the prompt and input (which may wrap over several rows); cursor at its start. */
  private clearInputArea(): number {
    const output = this.options.output;
    const rows = this.active ? this.rl.getCursorPos().rows : 0;
    cursorTo(output, 0);
    if (rows > 0) moveCursor(output, 0, -rows);
    clearScreenDown(output);
    return rows;
  }

  /**
   * True while prompt and input fill the window: a redraw would push their top rows into the
   * terminal's scrollback again, leaving stale copies there, so printing waits.
   */
  private inputFillsWindow(): boolean {
    if (!this.active || this.options.plain) return false;
    const rows = this.options.output.rows || 24;
    return this.inputRows(this.rl.line) >= rows;
  }

  /** Prints what waited while the input filled the window, once it no longer does. */
  private flushWaiting(): void {
    if (this.waiting.length > 0) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const wait = this.lastDrawn + FRAME_MS - performance.now();
    if (wait <= 0) setImmediate(this.flush);
    else setTimeout(this.flush, wait);
  }

  /**
   * Prints what was queued since the last turn of the event loop in one go: one clear, one
   * write, one redraw of the input, however many lines arrived (a flood costs the terminal
   * its text, not a redraw per line, and typing stays responsive).
   */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.closed) return;
    const batch = this.batch;
    this.batch = [];
    if (this.inputFillsWindow()) {
      for (const text of batch) this.waiting.push(text);
      const excess = this.waiting.length - MAX_WAITING;
      if (excess > 0) {
        this.waiting.splice(0, excess);
        this.waitingDropped += excess;
      }
      return;
    }
    const lines = this.waiting;
    this.waiting = [];
    if (this.waitingDropped > 0) {
      lines.unshift(
        `-- ${this.waitingDropped} earlier lines not shown while the input filled the window (/last) --`,
      );
      this.waitingDropped = 0;
    }
    for (const text of batch) lines.push(text);
    if (lines.length > 0) this.printNow(lines.join('\n'));
  };

  /** Prints finished text above the input line (drawn within a frame, FRAME_MS). */
  printAbove(text: string): void {
    if (this.closed) return;
    this.batch.push(text);
    this.scheduleFlush();
  }

  /**
   * Prints now: clears the input area, writes the text, redraws prompt, input and cursor, in
   * one write to the terminal (corked: readline's redraw alone is several).
   */
  private printNow(text: string): void {
    this.lastDrawn = performance.now();
    if (this.options.plain) {
      // Lines only: a bell appended to a line is a control character too.
      const lines = text.replace(/\x07/g, '').replace(/\r?\n/g, '\n');
      this.options.output.write(`${this.promptShown ? '\n' : ''}${lines}\n`);
      this.promptShown = false;
      return;
    }
    const output = this.options.output;
    output.cork();
    try {
      this.drawAbove(text);
    } finally {
      output.uncork();
    }
  }

  /**
   * Takes in a resize the terminal made that Node has not been told of yet: its signal comes
   * later, and meanwhile the input's rows were counted at the old width. On a terminal that
   * reflows, a line printed in between moved up too far (erasing a received line above the
   * prompt, wider) or not far enough (leaving a copy of the prompt, narrower). The size is
   * asked of the terminal (one ioctl) and a change is handled as the signal would handle it;
   * when the signal comes, Node finds the size unchanged and does nothing more.
   */
  private catchUpResize(): void {
    const output = this.options.output as NodeJS.WriteStream & { getWindowSize?: () => [number, number] };
    if (typeof output.getWindowSize !== 'function') return;
    let size: [number, number];
    try {
      size = output.getWindowSize();
    } catch {
      return; // not a terminal any more
    }
    const [columns, rows] = size;
    if (!(columns > 0 && rows > 0) || (columns === output.columns && rows === output.rows)) return;
    output.columns = columns;
    output.rows = rows;
    output.emit('resize');
  }

  private drawAbove(text: string): void {
    this.catchUpResize();
    const rows = this.clearInputArea();
    // The redraw below first moves up by the rows readline believes the cursor was on when it
    // last drew the line (its undocumented `prevRows`; it lags behind when typed text wraps
    // without a redraw). Newlines of the same count balance that move, so the redraw starts
    // right below what we printed.
    const prev = (this.rl as unknown as { prevRows?: unknown }).prevRows;
    const up = this.active ? (typeof prev === 'number' && prev >= 0 ? prev : rows) : 0;
    this.options.output.write(text.replace(/\r?\n/g, '\r\n') + '\r\n' + '\n'.repeat(up));
    if (this.active) this.rl.prompt(true);
  }

  /** Removes a just-submitted input line from the screen (its echo will show it). */
  eraseSubmitted(line: string): void {
    if (this.options.plain) return;
    const output = this.options.output;
    const rows = this.inputRows(line);
    moveCursor(output, 0, -rows);
    cursorTo(output, 0);
    clearScreenDown(output);
  }

  clearScreen(): void {
    if (this.closed) return;
    this.flush();
    if (!this.options.plain) this.options.output.write(CLEAR_SCREEN);
  }

  /** Takes the prompt off the screen and closes the line editor. */
  close(): void {
    if (this.closed) return;
    this.flush();
    if (this.options.plain) {
      if (this.promptShown) this.options.output.write('\n');
    } else if (this.active) this.clearInputArea();
    this.closed = true;
    this.active = false;
    this.waiting = [];
    this.options.output.off('resize', this.onResize);
    this.options.output.off('resize', this.beforeRedraw);
    this.rl.close();
  }
}
