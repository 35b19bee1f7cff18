/**
 * The REPL's raw terminal input, from bytes to line-editor calls. Three filters run in turn:
 * focus reports (notifications, unread count), bracketed paste (a pasted block becomes one
 * insertion with visible newline marks) and the key splitter (key-units.ts). Text is inserted
 * at the cursor; keys go to readline's key decoder one at a time. After a Tab the rest waits
 * a turn, because readline completes asynchronously and would otherwise see later keys first.
 * Bytes that may start a sequence are held, and released after a short idle (a lone Escape).
 */
import { StringDecoder } from 'node:string_decoder';
import { KeySplitter, type KeyUnit } from './key-units.js';
import type { FocusTracker } from './notify.js';
import type { BracketedPasteFilter } from './paste.js';

/** Idle time after which held-back bytes (maybe a split sequence) are passed on. */
export const ESCAPE_IDLE_MS = 50;

/** Where the units go: the line editor. */
export interface KeySink {
  /** Inserts ordinary text at the cursor. */
  insertText(text: string): void;
  /** One key: a control character or an escape sequence. */
  pressKey(sequence: string): void;
}

export class TerminalInput {
  private readonly decoder = new StringDecoder('utf8');
  private readonly keys = new KeySplitter();
  private readonly queue: KeyUnit[] = [];
  private waitingForCompletion = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly sink: KeySink,
    private readonly focus: FocusTracker,
    private readonly paste: BracketedPasteFilter,
  ) {}

  /** Feed a read from the terminal. */
  readonly onData = (chunk: Buffer | string): void => {
    if (this.stopped) return;
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    this.deliver(this.keys.feed(this.paste.feed(this.focus.feed(text))));
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer =
      this.focus.hasPending || this.paste.hasPending || this.keys.hasPending
        ? setTimeout(this.flushHeld, ESCAPE_IDLE_MS)
        : undefined;
  };

  private readonly flushHeld = (): void => {
    this.idleTimer = undefined;
    if (this.stopped) return;
    const released = this.paste.feed(this.focus.flush()) + this.paste.flush();
    this.deliver([...this.keys.feed(released), ...this.keys.flush()]);
  };

  private deliver(units: KeyUnit[]): void {
    for (const u of units) this.queue.push(u);
    this.pump();
  }

  private pump(): void {
    while (!this.waitingForCompletion && !this.stopped) {
      const unit = this.queue.shift();
      if (!unit) return;
      if (unit.kind === 'text') {
        this.sink.insertText(unit.text);
        continue;
      }
      this.sink.pressKey(unit.sequence);
      if (unit.sequence === '\t') {
        this.waitingForCompletion = true;
        setImmediate(() => {
          this.waitingForCompletion = false;
          this.pump();
        });
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    if (this.idleTimer) clearTimeout(this.idleTimer);
  }
}
