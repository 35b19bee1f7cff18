/**
 * The terminal modes the REPL sets, and giving them back: raw mode, bracketed paste, focus
 * reporting and the saved window title. Restored at the end, on Ctrl-Z, and as a last resort
 * when the process exits some other way; set again whenever the process continues after a stop.
 */
import { FOCUS_REPORTING_OFF, FOCUS_REPORTING_ON } from './notify.js';
import { BRACKETED_PASTE_OFF, BRACKETED_PASTE_ON } from './paste.js';

// xterm's title stack: save the user's title at start and restore it at exit, since we may
// change it to show the unread count. Terminals without the stack ignore these.
const TITLE_PUSH = '\x1b[22;0t';
const TITLE_POP = '\x1b[23;0t';

const INPUT_MODES_ON = BRACKETED_PASTE_ON + FOCUS_REPORTING_ON;
const MODES_ON = TITLE_PUSH + INPUT_MODES_ON;
const INPUT_MODES_OFF = BRACKETED_PASTE_OFF + FOCUS_REPORTING_OFF;
const MODES_OFF = INPUT_MODES_OFF + TITLE_POP;

export class TerminalModes {
  private restored = false;
  private entered = false;
  /** Our title is pushed (not after Ctrl-Z, which pops it): push it again only then. */
  private titlePushed = false;

  /**
   * `resumed` is called after the process continues from a stop (Ctrl-Z and `fg`, or a
   * SIGSTOP and SIGCONT sent from outside), once the modes are set again: redraw there.
   */
  constructor(
    private readonly input: NodeJS.ReadStream,
    private readonly output: NodeJS.WriteStream,
    private readonly resumed: () => void = () => {},
  ) {}

  /** Sets the modes and raw input; restores them if the process exits without `restore`. */
  enter(): void {
    this.entered = true;
    this.titlePushed = true;
    this.output.write(MODES_ON);
    if (this.input.isTTY) this.input.setRawMode(true);
    // Last resort if the process exits some other way (TTY writes are synchronous).
    process.once('exit', this.restore);
    // SIGCONT does not exist on Windows; Node ignores listeners for signals it cannot watch.
    if (process.platform !== 'win32') process.on('SIGCONT', this.onContinue);
  }

  /** Gives the terminal back as we found it (once). */
  readonly restore = (): void => {
    if (this.restored) return;
    this.restored = true;
    process.off('exit', this.restore);
    process.off('SIGCONT', this.onContinue);
    if (!this.entered) return;
    this.output.write(this.titlePushed ? MODES_OFF : INPUT_MODES_OFF);
    if (this.input.isTTY) this.input.setRawMode(false);
  };

  /**
   * The process continues after a stop, whoever stopped it. A SIGSTOP from outside cannot be
   * caught, and the shell that reported the job stopped gave the terminal its own (cooked)
   * modes, so they are set again every time, not only after our own Ctrl-Z. Run in the
   * background, setting them stops the process again (SIGTTOU) until `fg`, which continues it
   * and brings us back here: idempotent by design.
   */
  private readonly onContinue = (): void => {
    if (this.restored) return;
    // libuv skips a mode change to the mode it believes is set; the shell changed it behind
    // its back, so go through cooked mode to make it set raw mode for real.
    if (this.input.isTTY) this.input.setRawMode(false).setRawMode(true);
    this.output.write(this.titlePushed ? INPUT_MODES_ON : MODES_ON);
    this.titlePushed = true;
    this.resumed();
  };

  /**
   * Ctrl-Z: give the terminal back (modes off, title restored) and stop the process; on
   * `fg`, onContinue sets the modes again and redraws. Job control does not exist on
   * Windows, so there this does nothing.
   */
  suspend(): void {
    if (process.platform === 'win32' || this.restored) return;
    this.output.write(`\r\n${MODES_OFF}`);
    this.titlePushed = false;
    if (this.input.isTTY) this.input.setRawMode(false);
    process.kill(process.pid, 'SIGTSTP');
  }
}
