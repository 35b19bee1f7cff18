/**
 * A hidden question on the REPL's input line (a room's password for /join): while it is
 * asked, the typed keys go here instead of the line editor and nothing is echoed. Enter
 * answers; Escape or Ctrl-C cancels; Backspace and Ctrl-U edit. Incoming lines keep being
 * printed above the question.
 */
import type { KeySink } from './input.js';
import type { ReplScreen } from './screen.js';

export class SecretPrompt implements KeySink {
  private pending: { value: string; resolve: (answer: string | undefined) => void } | undefined;

  /** `restorePrompt` puts the REPL's usual prompt back once the question is answered. */
  constructor(
    private readonly screen: ReplScreen,
    private readonly restorePrompt: () => void,
  ) {}

  get active(): boolean {
    return this.pending !== undefined;
  }

  /** Asks `question`; resolves with the answer, or undefined when cancelled or left empty. */
  ask(question: string): Promise<string | undefined> {
    this.finish(undefined);
    return new Promise((resolve) => {
      this.pending = { value: '', resolve };
      this.screen.clearLine();
      this.screen.setPrompt(question);
      this.screen.redraw();
    });
  }

  insertText(text: string): void {
    if (this.pending) this.pending.value += text;
  }

  pressKey(sequence: string): void {
    const pending = this.pending;
    if (!pending) return;
    if (sequence === '\r' || sequence === '\n') this.finish(pending.value || undefined);
    else if (sequence === '\x03' || sequence === '\x1b') this.finish(undefined);
    else if (sequence === '\x7f' || sequence === '\b')
      pending.value = Array.from(pending.value).slice(0, -1).join('');
    else if (sequence === '\x15') pending.value = '';
  }

  /** Ends the question (with `answer`), if one is asked. */
  finish(answer: string | undefined): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    this.restorePrompt();
    this.screen.redraw();
    pending.resolve(answer);
  }
}
