/**
 * What a slash command works with: the context the REPL and pipe mode each provide (the
 * current room's session, the view the user chose, the other rooms), and the shape of a
 * command in the registry (slash-commands.ts).
 */
import type { ChatEvent } from './events.js';
import type { IgnoreList } from './ignore-list.js';
import type { Scrollback } from './scrollback.js';
import type { ChatSession } from './session/session.js';

export type BellMode = 'on' | 'off' | 'mentions';
export type NotifyMode = 'on' | 'off' | 'mentions';

/** What the user has chosen to see and hear; shared by the REPL and pipe mode. */
export interface ViewState {
  /** Members whose messages are hidden (followed across renames, not by name). */
  ignored: IgnoreList;
  bell: BellMode;
  notify: NotifyMode;
  /**
   * When a first `/wipe` in the REPL asked for confirmation (ms since the epoch). Any other
   * line typed, or a message arriving in the room, takes it back (the REPL clears it).
   */
  wipeAskedAt?: number;
}

/** A second `/wipe` right after the first, and within this time, confirms it. */
export const WIPE_CONFIRM_MS = 10_000;

/** What a command may do; the REPL and pipe mode each provide one. */
export interface CommandContext {
  readonly session: ChatSession;
  readonly view: ViewState;
  /** Human description of the daemon (address, transport). */
  readonly daemon: string;
  /** True in the REPL; commands marked `interactiveOnly` refuse otherwise. */
  readonly interactive: boolean;
  /** A local line for the user (not sent). */
  info(text: string): void;
  error(text: string): void;
  /** Clears the terminal screen (REPL only). */
  clearScreen(): void;
  /** Ends the session. */
  quit(): void;
  /** What this client has seen (REPL only), for /search and /last. */
  readonly scrollback?: Scrollback;
  /** Prints events again (REPL only), with `mark` highlighted in them. */
  showEvents?(events: ChatEvent[], mark?: string): void;
  /** The rooms this client is in (absent when it can be in one only). */
  readonly rooms?: RoomControl;
}

/** One room of the client, as /rooms lists it. */
export interface RoomSummary {
  name: string;
  current: boolean;
  /** Messages that arrived while another room was current. */
  unread: number;
  /** Of those, the ones that mention our name. */
  mentions: number;
}

/** Several rooms in one client: each its own session; one is current (input goes there). */
export interface RoomControl {
  list(): RoomSummary[];
  /** Makes a room current, by name or by its number in /rooms; false if there is none. */
  switchTo(nameOrNumber: string): boolean;
  /** Joins another room (REPL: asks its password, hidden). */
  join?(name: string): Promise<void>;
  /** Leaves a room (the current one when no name is given). */
  part?(name: string | undefined): Promise<void>;
  /** Every room's name and session, the current room first (absent: the current one only). */
  sessions?(): ReadonlyArray<{ name: string; session: ChatSession }>;
  /** The session of the room of the last private message sent or received (for /reply). */
  lastPrivate?(): ChatSession | undefined;
}

/** How many rooms one client may be in at once (Alt+1 … Alt+9, Alt+0 for the tenth). */
export const MAX_ROOMS = 10;

/** /search shows at most this many matches (the newest); /last at most this many events. */
export const MAX_SHOWN = 200;

export interface SlashCommand {
  name: string;
  aliases: string[];
  /** Argument synopsis for /help, e.g. `<name>`; empty when none. */
  args: string;
  help: string;
  interactiveOnly?: boolean;
  /** `invokedAs` is the name or alias typed, lower-case. */
  run(ctx: CommandContext, args: string, invokedAs: string): void | Promise<void>;
}

/** True for a message or private message from a member the user ignores. */
export function isIgnored(view: ViewState, ev: ChatEvent): boolean {
  return view.ignored.hides(ev);
}
