/**
 * The rooms of one REPL, like an IRC client's channels: each is its own session (own
 * authentication, key and connection); one is current and gets the typed lines. The others'
 * lines are held, and their unread counts shown in the prompt: `[a] alice (b:3 c:1@)> `,
 * where @ marks a mention of our name. Switching (by name, number, Alt+number, Ctrl-N /
 * Ctrl-P) shows what was held. Private messages are not held: they show at once, their room
 * named, and /msg, /reply and /quit reach every room. Nothing is shared between rooms but
 * the terminal.
 */
import { createColors } from '../colors.js';
import type { ChatEvent } from '../events.js';
import { sanitizeName } from '../sanitize.js';
import type { ChatSession, SessionError } from '../session/session.js';
import { MAX_ROOMS, ORIGINAL_PROTOCOL_MARK, type RoomControl, type RoomSummary } from '../slash-commands.js';
import { wrapText } from '../wrap.js';
import type { LineDispatcher } from './dispatch.js';
import type { AwayNotifier } from './notifier.js';
import { ReplRoom, type RoomDisplay, welcomeLines } from './room.js';
import type { ReplScreen } from './screen.js';

/** A joined room as the CLI hands it over: the session and the history it replayed. */
export interface RoomHandle {
  session: ChatSession;
  history: readonly ChatEvent[];
}

/** Opens and joins another room with the same transport settings and name. */
export type RoomOpener = (room: string, password: string, username: string) => Promise<RoomHandle>;

/** Room names are cut to this many characters in the prompt's activity list. */
const PROMPT_ROOM_CHARS = 12;

const CTRL_N = '\x0e';
const CTRL_P = '\x10';

function short(name: string): string {
  const chars = Array.from(sanitizeName(name));
  return chars.length <= PROMPT_ROOM_CHARS
    ? chars.join('')
    : `${chars.slice(0, PROMPT_ROOM_CHARS - 1).join('')}…`;
}

export interface RoomsOptions {
  screen: ReplScreen;
  notifier: AwayNotifier;
  dispatcher: LineDispatcher;
  color: boolean;
  highlight: ((body: string) => string) | undefined;
  daemon: string;
  openRoom: RoomOpener | undefined;
  /** Asks a hidden question on the input line (undefined: cancelled). */
  askSecret(question: string): Promise<string | undefined>;
  /** The last room is gone: the REPL ends (with the session's error, if any). */
  onLastClosed(error: SessionError | undefined): void;
}

/** Names shown in the prompt while they are present with a changed key, at most this many. */
const MAX_CHANGED_IN_PROMPT = 3;

/**
 * ` ✗ KEY CHANGED: bob` while members under a pinned or verified name (or a look-alike) with
 * another key are present: the alarm stays on screen, whatever scrolls by.
 */
function changedKeys(session: ChatSession): string {
  if (!session.keyring) return '';
  const names = session
    .memberList()
    .filter((m) => session.trustOf(m) === 'changed')
    .map((m) => sanitizeName(m.username));
  if (names.length === 0) return '';
  const shown = names.slice(0, MAX_CHANGED_IN_PROMPT).join(', ');
  const more = names.length > MAX_CHANGED_IN_PROMPT ? ` +${names.length - MAX_CHANGED_IN_PROMPT}` : '';
  return ` ✗ KEY CHANGED: ${shown}${more}`;
}

export class ReplRooms implements RoomControl {
  private readonly rooms: ReplRoom[] = [];
  private currentIndex = 0;
  private readonly display: RoomDisplay;
  private readonly detach = new Map<ReplRoom, () => void>();
  /** Where the last private message went through, for /reply. */
  private lastPrivateRoom: ReplRoom | undefined;

  constructor(private readonly options: RoomsOptions) {
    this.display = {
      screen: options.screen,
      notifier: options.notifier,
      color: options.color,
      highlight: options.highlight,
      isCurrent: (room) => this.rooms[this.currentIndex] === room,
      changed: () => this.refreshPrompt(),
      privateSeen: (room) => {
        this.lastPrivateRoom = room;
      },
    };
  }

  get current(): ReplRoom {
    return this.rooms[this.currentIndex]!;
  }

  get all(): readonly ReplRoom[] {
    return this.rooms;
  }

  /**
   * Adds a joined room. The first one (and one joined with /join) becomes current and shows
   * the welcome and its history; a further room from the command line announces itself in
   * one line and holds its history until it is switched to.
   */
  add(handle: RoomHandle, makeCurrent: boolean): ReplRoom {
    const room = new ReplRoom(handle.session, this.display);
    this.rooms.push(room);
    const onClose = (error: SessionError | undefined): void => this.closed(room, error);
    handle.session.on('event', room.onEvent);
    handle.session.once('close', onClose);
    this.detach.set(room, () => {
      handle.session.off('event', room.onEvent);
      handle.session.off('close', onClose);
    });
    const c = createColors(this.options.color);
    if (makeCurrent || this.rooms.length === 1) {
      this.select(this.rooms.length - 1, false);
      const { screen } = this.options;
      screen.printAbove(
        c.dim(wrapText(welcomeLines(handle.session, this.options.daemon).join('\n'), screen.columns)),
      );
    } else {
      const n = this.rooms.length;
      const members = handle.session.memberList().length;
      const { screen } = this.options;
      screen.printAbove(
        c.dim(
          wrapText(
            `-- also joined #${sanitizeName(room.name)} (${members} member${members === 1 ? '' : 's'}, ` +
              `fingerprint ${handle.session.fingerprint}): Alt+${n % 10}, Ctrl-N or /switch ${sanitizeName(room.name)}`,
            screen.columns,
          ),
        ),
      );
    }
    room.showHistory(handle.history);
    return room;
  }

  /** The prompt: the current room and our name, then the other rooms with unread lines. */
  promptText(): string {
    const room = this.current;
    const activity = this.rooms
      .filter((r) => r !== room && r.unread > 0)
      .map((r) => `${short(r.name)}:${r.unread}${r.mentions > 0 ? '@' : ''}`);
    // The original protocol seals nothing: say so on every prompt, not only once.
    const mark = room.session.mode === 'v1' ? ` ${ORIGINAL_PROTOCOL_MARK}` : '';
    const base = `[${sanitizeName(room.name)}]${mark} ${sanitizeName(room.session.me.username)}${changedKeys(room.session)}`;
    return activity.length > 0 ? `${base} (${activity.join(' ')})> ` : `${base}> `;
  }

  refreshPrompt(): void {
    const { screen } = this.options;
    const next = this.promptText();
    if (screen.promptText === next) return;
    screen.setPrompt(next);
    screen.redraw();
  }

  list(): RoomSummary[] {
    return this.rooms.map((r) => ({
      name: r.name,
      current: r === this.current,
      unread: r.unread,
      mentions: r.mentions,
    }));
  }

  sessions(): Array<{ name: string; session: ChatSession }> {
    const current = this.current;
    return [current, ...this.rooms.filter((r) => r !== current)].map((r) => ({
      name: r.name,
      session: r.session,
    }));
  }

  lastPrivate(): ChatSession | undefined {
    const room = this.lastPrivateRoom;
    return room !== undefined && this.rooms.includes(room) ? room.session : undefined;
  }

  private indexOf(nameOrNumber: string): number {
    const exact = this.rooms.findIndex((r) => r.name === nameOrNumber);
    if (exact >= 0) return exact;
    const bare = nameOrNumber.replace(/^#/, '');
    const byName = this.rooms.findIndex(
      (r) => r.name === bare || r.name.toLowerCase() === bare.toLowerCase(),
    );
    if (byName >= 0) return byName;
    if (/^[0-9]+$/.test(bare)) {
      const n = Number(bare);
      if (n >= 1 && n <= this.rooms.length) return n - 1;
    }
    return -1;
  }

  switchTo(nameOrNumber: string): boolean {
    const i = this.indexOf(nameOrNumber);
    if (i < 0) return false;
    this.select(i, true);
    return true;
  }

  /** Makes room `i` current: title, prompt, and what was held for it. */
  private select(i: number, announce: boolean): void {
    const changed = i !== this.currentIndex || this.rooms.length === 1;
    // A reconnection status belongs to the room it is about.
    if (changed) this.options.screen.setStatus(undefined);
    this.currentIndex = i;
    const room = this.current;
    this.options.notifier.setTitleBase(`cmd-chat #${room.name}`);
    if (announce && changed) {
      const c = createColors(this.options.color);
      this.options.screen.printAbove(
        c.dim(`-- now in #${sanitizeName(room.name)} (${i + 1} of ${this.rooms.length}) --`),
      );
    }
    room.showHeld();
    this.refreshPrompt();
  }

  /**
   * Room keys, when in several rooms: Alt+1 … Alt+9 and Alt+0 (the tenth) pick a room by
   * number, Ctrl-N and Ctrl-P the next and previous one. True when the key was one of them.
   */
  handleKey(sequence: string): boolean {
    if (this.rooms.length < 2) return false;
    const n = this.rooms.length;
    if (sequence === CTRL_N) this.select((this.currentIndex + 1) % n, true);
    else if (sequence === CTRL_P) this.select((this.currentIndex + n - 1) % n, true);
    else if (/^\x1b[0-9]$/.test(sequence)) {
      const number = Number(sequence[1]) || 10;
      if (number <= n) this.select(number - 1, true);
    } else return false;
    return true;
  }

  async join(wanted: string): Promise<void> {
    const { dispatcher, openRoom } = this.options;
    // IRC habit: `/join #team` joins "team" (room names are case-sensitive; `##x` is "#x").
    const name = wanted.replace(/^#/, '');
    const existing = this.rooms.findIndex((r) => r.name === name);
    if (existing >= 0) {
      this.select(existing, true);
      return;
    }
    if (this.rooms.length >= MAX_ROOMS)
      return dispatcher.error(`you are in ${MAX_ROOMS} rooms already: /part one first`);
    if (!openRoom) return dispatcher.error('joining rooms is not available here');
    const password = await this.options.askSecret(
      `password for #${sanitizeName(name)} (hidden; Esc cancels): `,
    );
    if (password === undefined) return dispatcher.info(`not joining #${name}`);
    dispatcher.info(`joining #${name}…`);
    let handle: RoomHandle;
    try {
      handle = await openRoom(name, password, this.current.session.me.username);
    } catch (err) {
      return dispatcher.error(`cannot join #${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (this.rooms.some((r) => r.name === handle.session.room) || this.rooms.length >= MAX_ROOMS) {
      await handle.session.close();
      return dispatcher.info(`already in #${handle.session.room}`);
    }
    this.add(handle, true);
  }

  async part(name: string | undefined): Promise<void> {
    const { dispatcher } = this.options;
    const i = name === undefined ? this.currentIndex : this.indexOf(name);
    if (i < 0) return dispatcher.error(`you are not in a room ${name} (/rooms lists yours)`);
    if (this.rooms.length === 1) return dispatcher.error('this is your only room: /quit leaves');
    const room = this.rooms[i]!;
    this.remove(room);
    dispatcher.info(`-- left #${room.name}`);
    await room.session.close();
  }

  /** Takes a room out (its session is closing or closed) and picks another if it was current. */
  private remove(room: ReplRoom): void {
    const i = this.rooms.indexOf(room);
    if (i < 0) return;
    this.detach.get(room)?.();
    this.detach.delete(room);
    const wasCurrent = i === this.currentIndex;
    this.rooms.splice(i, 1);
    if (this.rooms.length === 0) return;
    if (i < this.currentIndex) this.currentIndex--;
    if (wasCurrent) this.select(Math.min(i, this.rooms.length - 1), true);
    else this.refreshPrompt();
  }

  private closed(room: ReplRoom, error: SessionError | undefined): void {
    room.clearStatus();
    if (this.rooms.length === 1 && this.rooms[0] === room) {
      this.detach.get(room)?.();
      this.options.onLastClosed(error);
      return;
    }
    this.options.dispatcher.error(
      `-- #${room.name}: ${error ? error.message : 'closed'}; you are still in the other rooms`,
    );
    this.remove(room);
  }

  /** Stops listening to every room; with `close`, ends their sessions. */
  async shutdown(close: boolean): Promise<void> {
    const rooms = this.rooms.splice(0);
    for (const room of rooms) this.detach.get(room)?.();
    this.detach.clear();
    if (close) await Promise.all(rooms.map((r) => r.session.close()));
  }
}
