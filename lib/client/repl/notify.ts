/**
 * The desktop-terminal hybrid: terminal focus reporting, the window title with an unread
 * count, and desktop notifications through the terminal's own escapes (OSC 9 / OSC 777) or
 * `notify-send`. Pure functions and small state holders; the REPL does the writing and
 * spawning. Every sequence built here is one of our fixed templates, and any text placed in
 * it is sanitised, stripped of everything that could end the OSC early and length-bounded.
 */
import { sanitizeName } from '../sanitize.js';

/** Ask the terminal to report focus changes as CSI I / CSI O (xterm mode 1004). */
export const FOCUS_REPORTING_ON = '\x1b[?1004h';
export const FOCUS_REPORTING_OFF = '\x1b[?1004l';

const FOCUS_IN = '\x1b[I';
const FOCUS_OUT = '\x1b[O';

/**
 * Watches raw terminal input for focus reports and removes them, so they never reach readline
 * as keystrokes. A chunk ending in "\x1b" or "\x1b[" is held back until the next chunk, as it
 * may be the start of a report split across reads; call `flush()` after a short idle (e.g.
 * 50 ms) so a lone Escape key press is not held indefinitely. Bracketed-paste content is not
 * special-cased: terminals do not put raw ESC inside a paste in practice.
 */
export class FocusTracker {
  focused = true;
  private pending = '';
  private readonly onChange: ((focused: boolean) => void) | undefined;

  constructor(onChange?: (focused: boolean) => void) {
    this.onChange = onChange;
  }

  /** Consumes a chunk of input; returns it without focus reports (and without a held tail). */
  feed(chunk: string): string {
    let data = this.pending + chunk;
    this.pending = '';
    if (data.includes('\x1b[')) {
      let out = '';
      let i = 0;
      for (;;) {
        const j = data.indexOf('\x1b[', i);
        if (j < 0) break;
        const seq = data.slice(j, j + 3);
        if (seq === FOCUS_IN || seq === FOCUS_OUT) {
          out += data.slice(i, j);
          this.set(seq === FOCUS_IN);
          i = j + 3;
        } else {
          out += data.slice(i, j + 2);
          i = j + 2;
        }
      }
      data = out + data.slice(i);
    }
    if (data.endsWith('\x1b[')) {
      this.pending = '\x1b[';
      return data.slice(0, -2);
    }
    if (data.endsWith('\x1b')) {
      this.pending = '\x1b';
      return data.slice(0, -1);
    }
    return data;
  }

  /** Releases input held back by `feed` (it was not a focus report after all). */
  flush(): string {
    const p = this.pending;
    this.pending = '';
    return p;
  }

  /** True while `feed` is holding back a possible partial focus report. */
  get hasPending(): boolean {
    return this.pending !== '';
  }

  private set(focused: boolean): void {
    if (this.focused === focused) return;
    this.focused = focused;
    this.onChange?.(focused);
  }
}

export const TITLE_MAX = 80;
export const NOTIFY_TITLE_MAX = 64;
export const NOTIFY_BODY_MAX = 200;

// Bounded by code points so a surrogate pair is never cut in half.
function bound(s: string, max: number): string {
  const cps = Array.from(s);
  return cps.length <= max ? s : cps.slice(0, max - 1).join('') + '…';
}

// sanitizeName leaves no C0, DEL or C1 (so no BEL, ESC or 0x9C that would end an OSC) and
// no newline: what remains is printable text.
function oscText(s: string, max: number): string {
  return bound(sanitizeName(s), max);
}

/** The escape that sets the terminal window (and icon) title to `text`. */
export function setTitle(text: string): string {
  return `\x1b]0;${oscText(text, TITLE_MAX)}\x07`;
}

/**
 * A desktop notification through the terminal. `osc9` (iTerm2 style) carries the body only;
 * a body starting with a digit gets a leading space, because ConEmu-style terminals read
 * "OSC 9 ; <digit> ;" as other commands. `osc777` (rxvt/foot/VTE style) carries title and
 * body separated by ';', so ';' inside them becomes ','.
 */
export function notificationSequence(title: string, body: string, flavour: 'osc9' | 'osc777'): string {
  if (flavour === 'osc9') {
    const text = oscText(body, NOTIFY_BODY_MAX);
    return `\x1b]9;${/^[0-9]/.test(text) ? ' ' + text : text}\x07`;
  }
  const t = oscText(title, NOTIFY_TITLE_MAX).replace(/;/g, ',');
  const b = oscText(body, NOTIFY_BODY_MAX).replace(/;/g, ',');
  return `\x1b]777;notify;${t};${b}\x07`;
}

export type Notifier = 'osc9' | 'osc777' | 'notify-send' | 'none';

/**
 * How to raise a desktop notification here, first match wins:
 *
 * | situation                                              | notifier                       |
 * |--------------------------------------------------------|--------------------------------|
 * | inside tmux (TMUX) or screen (STY): they swallow OSC   | notify-send if usable*, else none |
 * | TERM_PROGRAM iTerm.app, WezTerm or ghostty; TERM        | osc9                           |
 * |   xterm-kitty / xterm-ghostty, or KITTY_WINDOW_ID set   |                                |
 * | TERM foot* or rxvt-unicode*                            | osc777                         |
 * | VTE_VERSION set (GNOME Terminal, Tilix, …)             | notify-send if usable*, else osc777 |
 * |   (only Fedora-patched VTE shows OSC 777; others ignore it silently since VTE 0.46) |
 * | Windows                                                | none (OSC 9 ; n means other things to ConEmu/Windows Terminal) |
 * | other Unix with notify-send usable*                    | notify-send                    |
 * | anything else                                          | osc9 (unknown OSCs are ignored) |
 *
 * *usable: not macOS or Windows, `hasNotifySend`, and not over SSH (SSH_CONNECTION, SSH_TTY or
 * SSH_CLIENT set): there it would pop up on the remote machine, while a terminal escape
 * travels back to the user's own terminal.
 */
export function pickNotifier(
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform,
  hasNotifySend: boolean,
): Notifier {
  const overSsh = Boolean(env['SSH_CONNECTION'] || env['SSH_TTY'] || env['SSH_CLIENT']);
  const notifySendUsable = hasNotifySend && !overSsh && platform !== 'darwin' && platform !== 'win32';
  const term = env['TERM'] ?? '';
  const program = env['TERM_PROGRAM'] ?? '';

  if (env['TMUX'] || env['STY']) return notifySendUsable ? 'notify-send' : 'none';
  if (
    program === 'iTerm.app' ||
    program === 'WezTerm' ||
    program === 'ghostty' ||
    term === 'xterm-kitty' ||
    term === 'xterm-ghostty' ||
    env['KITTY_WINDOW_ID']
  ) {
    return 'osc9';
  }
  if (term.startsWith('foot') || term.startsWith('rxvt-unicode')) return 'osc777';
  if (env['VTE_VERSION']) return notifySendUsable ? 'notify-send' : 'osc777';
  if (platform === 'win32') return 'none';
  if (notifySendUsable) return 'notify-send';
  return 'osc9';
}

const MARKUP: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/**
 * argv for `notify-send` (spawn it with these as arguments, never through a shell). "--" ends
 * the options so a title starting with "-" is not read as one; the body is escaped for the
 * notification server's markup so a message cannot inject links or formatting.
 */
export function notifySendArgs(title: string, body: string): string[] {
  const t = oscText(title, NOTIFY_TITLE_MAX);
  const b = oscText(body, NOTIFY_BODY_MAX).replace(/[&<>]/g, (ch) => MARKUP[ch]!);
  return ['--app-name=cmd-chat', '--', t, b];
}

/**
 * Counts what arrives while the terminal is not focused, for the window title
 * ("(3) cmd-chat #room"); focus resets it. In 'mentions' mode only mentions count.
 */
export class UnreadCounter {
  private focused = true;
  private count = 0;
  private base: string;
  private readonly mode: 'all' | 'mentions';

  constructor(base: string, mode: 'all' | 'mentions' = 'all') {
    this.base = base;
    this.mode = mode;
  }

  get unread(): number {
    return this.count;
  }

  /** Records an incoming message; returns true when the title changed. */
  record(isMention: boolean): boolean {
    if (this.focused || (this.mode === 'mentions' && !isMention)) return false;
    this.count++;
    return true;
  }

  /** Tracks focus; gaining focus resets the count. Returns true when the title changed. */
  setFocused(focused: boolean): boolean {
    this.focused = focused;
    if (focused && this.count > 0) {
      this.count = 0;
      return true;
    }
    return false;
  }

  /** Changes the title's base text (e.g. after /nick or a room change). */
  setBase(base: string): void {
    this.base = base;
  }

  /** The title text, unsanitised by design: pass it to `setTitle`, which sanitises. */
  title(): string {
    return this.count > 0 ? `(${this.count}) ${this.base}` : this.base;
  }
}
