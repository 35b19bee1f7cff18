/**
 * The REPL's part of being away: focus reports from the terminal, the unread count in the
 * window title, and desktop notifications (through the terminal's escapes or notify-send,
 * chosen by notify.ts) for messages that arrive while the terminal is not focused.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { MessageEvent } from '../events.js';
import type { NotifyMode } from '../slash-commands.js';
import {
  FocusTracker,
  type Notifier,
  notificationSequence,
  notifySendArgs,
  pickNotifier,
  setTitle,
  UnreadCounter,
} from './notify.js';

// Looks for an executable on PATH without running anything or writing anywhere.
function onPath(command: string): boolean {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function detectNotifier(): Notifier {
  // notify-send exists only on Linux/BSD desktops; pickNotifier decides the rest.
  const posixDesktop = process.platform !== 'win32' && process.platform !== 'darwin';
  return pickNotifier(process.env, process.platform, posixDesktop && onPath('notify-send'));
}

export class AwayNotifier {
  /** Feed raw terminal input through it: it removes focus reports and tracks focus. */
  readonly focus: FocusTracker;
  private readonly unread: UnreadCounter;
  private notifier: Notifier | undefined;

  /** `write` puts a fixed escape sequence (title, notification) on the terminal. */
  constructor(
    titleBase: string,
    private readonly write: (sequence: string) => void,
  ) {
    this.unread = new UnreadCounter(titleBase);
    this.focus = new FocusTracker((focused) => {
      if (this.unread.setFocused(focused)) this.write(setTitle(this.unread.title()));
    });
  }

  /** Changes the title's base text (the current room). */
  setTitleBase(base: string): void {
    this.unread.setBase(base);
    this.write(setTitle(this.unread.title()));
  }

  /**
   * A live message from someone else: counted in the title while away, and raised as a
   * notification when `mode` asks for it.
   */
  messageArrived(ev: MessageEvent, room: string, mention: boolean, mode: NotifyMode): void {
    if (this.focus.focused || ev.undecryptable) return;
    // The title counts every unread message; notifications follow /notify.
    if (this.unread.record(mention)) this.write(setTitle(this.unread.title()));
    if (mode === 'off' || (mode === 'mentions' && !mention)) return;
    this.notifier ??= detectNotifier();
    const title = `${ev.username} in #${room}`;
    const body = ev.kind === 'me' ? `* ${ev.username} ${ev.body}` : ev.body;
    if (this.notifier === 'osc9' || this.notifier === 'osc777') {
      this.write(notificationSequence(title, body, this.notifier));
    } else if (this.notifier === 'notify-send') {
      try {
        const child = spawn('notify-send', notifySendArgs(title, body), { stdio: 'ignore' });
        child.on('error', () => {});
        child.unref();
      } catch {
        // a missing or failing notify-send must never disturb the chat
      }
    }
  }
}
