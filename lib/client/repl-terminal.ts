/**
 * The terminal modes the REPL sets, and giving them back: raw mode, bracketed paste, focus
 * reporting and the saved window title. Restored at the end, on Ctrl-Z (and set again on
 * `fg`), and as a last resort when the process exits some other way.
 */
import { FOCUS_REPORTING_OFF, FOCUS_REPORTING_ON } from './notify.js';
import { BRACKETED_PASTE_OFF, BRACKETED_PASTE_ON } from './paste.js';

// xterm's title stack: save the user's title at start and restore it at exit, since we may
// change it to show the unread count. Terminals without the stack ignore these.
const TITLE_PUSH = '\x1b[22;0t';
const TITLE_POP = '\x1b[23;0t';

const MODES_ON = TITLE_PUSH + BRACKETED_PASTE_ON + FOCUS_REPORTING_ON;
const MODES_OFF = BRACKETED_PASTE_OFF + FOCUS_REPORTING_OFF + TITLE_POP;

export class TerminalModes {
  private restored = false;

  constructor(
    private readonly input: NodeJS.ReadStream,
    private readonly output: NodeJS.WriteStream,
  ) {}

  /** Sets the modes and raw input; restores them if the process exits without `restore`. */
  enter(): void {
    this.output.write(MODES_ON);
    if (this.input.isTTY) this.input.setRawMode(true);
    // Last resort if the process exits some other way (TTY writes are synchronous).
    process.once('exit', this.restore);
  }

  /** Gives the terminal back as we found it (once). */
  readonly restore = (): void => {
    if (this.restored) return;
    this.restored = true;
    process.off('exit', this.restore);
    this.output.write(MODES_OFF);
    if (this.input.isTTY) this.input.setRawMode(false);
  };

  /**
   * Ctrl-Z: give the terminal back (modes off, title restored), stop the process, and on
   * `fg` set the modes again and call `resumed` (to redraw). Job control does not exist on
   * Windows, so there this does nothing.
   */
  suspend(resumed: () => void): void {
    if (process.platform === 'win32' || this.restored) return;
    this.output.write(`\r\n${MODES_OFF}`);
    if (this.input.isTTY) this.input.setRawMode(false);
    process.once('SIGCONT', () => {
      if (this.restored) return;
      if (this.input.isTTY) this.input.setRawMode(true);
      this.output.write(MODES_ON);
      resumed();
    });
    process.kill(process.pid, 'SIGTSTP');
  }
}
