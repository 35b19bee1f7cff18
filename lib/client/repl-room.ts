/**
 * One room as the REPL shows it: its session, what the user chose to see there (ignore
 * list, bell, notifications), the scrollback for /search and /last, and the rendering of
 * its events onto the shared screen (with the bell and the away notifier for live messages).
 */
import type { ViewState } from './commands.js';
import { isIgnored } from './commands.js';
import type { ChatEvent } from './events.js';
import { IgnoreList } from './ignore-list.js';
import { mentionsMe, renderEvent } from './render.js';
import type { AwayNotifier } from './repl-notifier.js';
import type { ReplScreen } from './repl-screen.js';
import { sanitizeName } from './sanitize.js';
import { Scrollback } from './scrollback.js';
import type { ChatSession } from './session.js';
import { terminalLayout } from './wrap.js';

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
}

export class ReplRoom {
  readonly view: ViewState;
  readonly scrollback = new Scrollback();

  constructor(
    readonly session: ChatSession,
    private readonly display: RoomDisplay,
  ) {
    this.view = { ignored: new IgnoreList(session), bell: 'mentions', notify: 'mentions' };
  }

  get name(): string {
    return this.session.room;
  }

  /** The prompt for this room and our name in it. */
  prompt(): string {
    return promptFor(this.session.room, this.session.me.username);
  }

  /** An event of this room: remembered, then shown unless its sender is ignored. */
  readonly onEvent = (ev: ChatEvent): void => {
    const { screen, notifier, color, highlight } = this.display;
    this.scrollback.add(ev);
    this.view.ignored.observe(ev);
    if (isIgnored(this.view, ev)) return;
    if (ev.type === 'rename' && ev.userId === this.session.me.user_id) screen.setPrompt(this.prompt());
    const me = this.session.me.username;
    let text = renderEvent(ev, { color, me, highlight, layout: terminalLayout(screen.columns) });
    if (ev.type === 'message' && !ev.mine && !ev.history) {
      const mention = mentionsMe(ev, me);
      if (this.view.bell === 'on' || (this.view.bell === 'mentions' && mention)) text += '\x07';
      notifier.messageArrived(ev, this.session.room, mention, this.view.notify);
    }
    screen.printAbove(text);
  };

  /** Prints events again (/search, /last), with `mark` highlighted in them. */
  showEvents(events: readonly ChatEvent[], mark?: string): void {
    const { screen, color, highlight } = this.display;
    const me = this.session.me.username;
    for (const ev of events) {
      if (isIgnored(this.view, ev)) continue;
      const layout = terminalLayout(screen.columns);
      screen.printAbove(
        renderEvent(ev, { color, me, highlight, layout, ...(mark !== undefined ? { mark } : {}) }),
      );
    }
  }
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
