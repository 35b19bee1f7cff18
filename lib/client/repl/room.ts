/**
 * One room as the REPL shows it: its session, what the user chose to see there (ignore
 * list, bell, notifications), the scrollback for /search and /last, and the rendering of
 * its events onto the shared screen (with the bell and the away notifier for live messages).
 * While another room is current its events are held (bounded) and its new messages counted
 * as unread; they are shown when the room becomes current again.
 */
import { createColors } from '../colors.js';
import type { ChatEvent, ReconnectingEvent } from '../events.js';
import { IgnoreList } from '../ignore-list.js';
import { mentionsMe, renderEvent } from '../render.js';
import { sanitizeBody, sanitizeName } from '../sanitize.js';
import { Scrollback } from '../scrollback.js';
import type { ChatSession } from '../session/session.js';
import type { ViewState } from '../slash-commands.js';
import { isIgnored } from '../slash-commands.js';
import { terminalLayout, wrapText } from '../wrap.js';
import type { AwayNotifier } from './notifier.js';
import type { ReplScreen } from './screen.js';

/** Events held for a room that is not current; older ones stay in its scrollback only. */
export const MAX_HELD = 200;

/** The prompt: room and name, both sanitised (the daemon tells us our name). */
export function promptFor(room: string, name: string): string {
  return `[${sanitizeName(room)}] ${sanitizeName(name)}> `;
}

export interface RoomDisplay {
  screen: ReplScreen;
  notifier: AwayNotifier;
  color: boolean;
  /** Highlights code fences in a body (with colours only). */
  highlight: ((body: string) => string) | undefined;
  /** True when `room` is the one on screen. */
  isCurrent(room: ReplRoom): boolean;
  /** The room's unread count or our name in it changed: the prompt shows both. */
  changed(room: ReplRoom): void;
  /** A private message to or from us went through this room (/reply answers the last). */
  privateSeen(room: ReplRoom): void;
}

export class ReplRoom {
  readonly view: ViewState;
  readonly scrollback = new Scrollback();
  /** Messages that arrived while another room was current, and those mentioning us. */
  unread = 0;
  mentions = 0;
  private held: ChatEvent[] = [];
  private heldDropped = 0;
  private heldHistory: readonly ChatEvent[] = [];
  /** Missed messages still to come after a reconnect (they are set apart). */
  private missedLeft = 0;

  constructor(
    readonly session: ChatSession,
    private readonly display: RoomDisplay,
  ) {
    this.view = { ignored: new IgnoreList(session), bell: 'mentions', notify: 'mentions' };
  }

  get name(): string {
    return this.session.room;
  }

  /** The prompt for this room and our name in it (without other rooms' activity). */
  prompt(): string {
    return promptFor(this.session.room, this.session.me.username);
  }

  private render(ev: ChatEvent, mark?: string): string {
    const { screen, color, highlight } = this.display;
    const me = this.session.me.username;
    const layout = terminalLayout(screen.columns);
    const text = renderEvent(ev, { color, me, highlight, layout, ...(mark !== undefined ? { mark } : {}) });
    // Bodies are wrapped by the layout; the other lines (joins, errors, the connection) here.
    return ev.type === 'message' || ev.type === 'private' ? text : wrapText(text, screen.columns);
  }

  /** An event of this room: remembered, then shown (or held) unless its sender is ignored. */
  readonly onEvent = (ev: ChatEvent): void => {
    const { screen, color } = this.display;
    const lastMissed = this.countMissed(ev);
    this.showEvent(ev);
    if (lastMissed && this.display.isCurrent(this)) screen.printAbove(createColors(color).dim('-- now --'));
  };

  /** Tracks the missed messages after a reconnect; true for the last of them. */
  private countMissed(ev: ChatEvent): boolean {
    if (ev.type === 'reconnected') {
      this.missedLeft = ev.missed;
      return false;
    }
    if (this.missedLeft <= 0) return false;
    // The count is of the log's events: messages, wipes, and those a gap says are gone.
    if ((ev.type === 'message' && ev.history) || ev.type === 'cleared') this.missedLeft--;
    else if (ev.type === 'gap') this.missedLeft -= ev.lost + ev.wiped;
    else return false;
    return this.missedLeft <= 0;
  }

  private showEvent(ev: ChatEvent): void {
    const { screen, notifier } = this.display;
    if (ev.type === 'reconnecting') {
      // Each attempt updates the one status row; only a change of state prints a line.
      if (this.display.isCurrent(this)) screen.setStatus(reconnectingStatus(ev));
      return;
    }
    if (ev.type === 'reconnected' || ev.type === 'shutdown') this.clearStatus();
    this.scrollback.add(ev);
    this.view.ignored.observe(ev);
    if (isIgnored(this.view, ev)) return;
    // A /wipe waiting for its confirmation was asked before this arrived: it is taken back.
    if ((ev.type === 'message' && !ev.mine) || ev.type === 'private' || ev.type === 'cleared')
      this.view.wipeAskedAt = undefined;
    if (ev.type === 'private') this.display.privateSeen(this);
    // Our name, and the members with a changed key, are in the prompt.
    if (
      ev.type === 'rename' ||
      ev.type === 'join' ||
      ev.type === 'leave' ||
      (ev.type === 'error' && ev.code === 'key_changed')
    )
      this.display.changed(this);
    const live = ev.type === 'message' && !ev.mine && !ev.history;
    const mention = live && mentionsMe(ev, this.session.me.username);
    const bell = live && (this.view.bell === 'on' || (this.view.bell === 'mentions' && mention));
    if (ev.type === 'message' && live)
      notifier.messageArrived(ev, this.session.room, mention, this.view.notify);
    if (!this.display.isCurrent(this) && ev.type === 'private') {
      // Private messages follow the user across rooms (like an IRC query), the room named.
      const c = createColors(this.display.color);
      screen.printAbove(`${c.dim(`#${sanitizeName(this.name)}`)} ${this.render(ev)}`);
      return;
    }
    if (!this.display.isCurrent(this)) {
      this.hold(ev);
      if (live) {
        this.unread++;
        if (mention) this.mentions++;
        this.display.changed(this);
      }
      if (bell) screen.writeRaw('\x07');
      return;
    }
    screen.printAbove(this.render(ev) + (bell ? '\x07' : ''));
  }

  /** Takes this room's reconnection status off the screen (when it shows this room). */
  clearStatus(): void {
    if (this.display.isCurrent(this)) this.display.screen.setStatus(undefined);
  }

  private hold(ev: ChatEvent): void {
    this.held.push(ev);
    if (this.held.length > MAX_HELD) {
      this.held.shift();
      this.heldDropped++;
    }
  }

  /** Shows this room's history with its markers: now if current, else when it becomes so. */
  showHistory(history: readonly ChatEvent[]): void {
    if (!this.display.isCurrent(this)) {
      this.heldHistory = history;
      return;
    }
    const omitted = this.session.historyOmitted;
    if (history.length === 0 && omitted === 0) return;
    const { screen, color } = this.display;
    const c = createColors(color);
    const cut = omitted > 0 ? ` (${omitted} older no longer kept by the daemon)` : '';
    screen.printAbove(
      c.dim(`-- ${history.length} earlier message${history.length === 1 ? '' : 's'}${cut} --`),
    );
    for (const ev of history) this.onEvent(ev);
    screen.printAbove(c.dim('-- now --'));
  }

  /** The room became current: what was held for it, then its unread count is reset. */
  showHeld(): void {
    const { screen, color } = this.display;
    const c = createColors(color);
    const history = this.heldHistory;
    this.heldHistory = [];
    const held = this.held;
    this.held = [];
    if (history.length > 0) this.showHistory(history);
    if (held.length > 0) {
      const dropped = this.heldDropped > 0 ? ` (the newest ${held.length} events shown; /last for more)` : '';
      const unread = this.unread > 0 ? `${this.unread} unread` : 'while you were away';
      screen.printAbove(c.dim(`-- #${sanitizeName(this.name)}: ${unread}${dropped} --`));
      for (const ev of held) screen.printAbove(this.render(ev));
    }
    this.heldDropped = 0;
    this.unread = 0;
    this.mentions = 0;
  }

  /** Prints events again (/search, /last), with `mark` highlighted in them. */
  showEvents(events: readonly ChatEvent[], mark?: string): void {
    for (const ev of events) {
      if (isIgnored(this.view, ev)) continue;
      this.display.screen.printAbove(this.render(ev, mark));
    }
  }
}

/**
 * The status row of a reconnection in progress: what is about to happen first (it may be cut
 * to the width), then why the last attempt failed.
 */
export function reconnectingStatus(ev: ReconnectingEvent): string {
  const delay =
    ev.delayMs < 10_000 ? `${Math.round(ev.delayMs / 100) / 10} s` : `${Math.round(ev.delayMs / 1000)} s`;
  const why = ev.reason === undefined ? '' : `: still unreachable (${sanitizeBody(ev.reason)})`;
  return `-- reconnecting in ${delay} (attempt ${ev.attempt})${why}`;
}

/** The lines shown on joining: where, who, the room fingerprint, how to get help. */
export function welcomeLines(session: ChatSession, daemon: string): string[] {
  const members = session.memberList();
  const names = members.map((m) =>
    m.user_id === session.me.user_id ? `${sanitizeName(m.username)} (you)` : sanitizeName(m.username),
  );
  return [
    `-- joined #${sanitizeName(session.room)} on ${sanitizeName(daemon)} as ${sanitizeName(session.me.username)}`,
    `-- ${members.length} member${members.length === 1 ? '' : 's'}: ${names.join(', ')}`,
    `-- room fingerprint ${session.fingerprint}: compare it with the others out of band`,
    '-- type /help for the commands, /quit to leave',
  ];
}
