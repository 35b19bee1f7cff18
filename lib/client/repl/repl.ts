/**
 * The interactive client: a readline REPL on a terminal. This module only wires the parts
 * together and decides when the REPL ends:
 *
 *   repl-terminal.ts   terminal modes (raw, bracketed paste, focus reporting, title), Ctrl-Z
 *   repl-input.ts      raw input → focus / paste / key filters → the line editor
 *   repl-screen.ts     the line editor and printing above it without losing the typed line
 *   repl-rooms.ts      the rooms of this client: the current one, unread counts, switching
 *   repl-room.ts       a room's view state, scrollback and event rendering; the welcome
 *   repl-secret.ts     a hidden question on the input line (a room's password for /join)
 *   repl-dispatch.ts   a submitted line → message or slash command (commands.ts)
 *   repl-notifier.ts   focus, unread count in the title, desktop notifications
 *
 * Terminal safety: text from the network reaches the terminal only through renderEvent or
 * the sanitisers (command output, prompt, welcome lines, completion candidates); the only
 * escape sequences we write ourselves are fixed ones (modes, title, notifications, colours).
 */

import type { ChatSession, SessionError } from '../session/session.js';
import type { RoomControl } from '../slash-commands.js';
import { complete } from './completer.js';
import { LineDispatcher } from './dispatch.js';
import { highlightFences, loadHighlighter } from './highlight.js';
import { type KeySink, TerminalInput } from './input.js';
import { AwayNotifier } from './notifier.js';
import { BracketedPasteFilter } from './paste.js';
import { ReplRooms, type RoomHandle, type RoomOpener } from './rooms.js';
import { ReplScreen } from './screen.js';
import { SecretPrompt } from './secret.js';
import { TerminalModes } from './terminal.js';
import { terminalReflows } from './terminal-caps.js';
import { frameMultiLineRead } from './unbracketed-paste.js';

export { promptFor } from './room.js';
export type { RoomHandle, RoomOpener } from './rooms.js';
export { HISTORY_SIZE } from './screen.js';

export interface ReplOptions {
  /** The joined rooms (at least one); the first is current. */
  rooms: readonly RoomHandle[];
  /** Joins another room for /join (absent: /join is refused). */
  openRoom?: RoomOpener;
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
  color: boolean;
  daemon: string;
  /** A dumb terminal (TERM=dumb): plain lines, no escape sequence at all (repl-screen.ts). */
  plain?: boolean;
}

export type ReplOutcome = { kind: 'quit' } | { kind: 'lost'; error: SessionError };

/** A second Ctrl-C on an empty line within this time quits. */
export const CTRL_C_QUIT_MS = 2000;

export function runRepl(options: ReplOptions): Promise<ReplOutcome> {
  const { input, output, color, daemon } = options;
  const plain = options.plain === true;
  const highlight = color ? (body: string): string => highlightFences(body, true) : undefined;
  if (color) void loadHighlighter().catch(() => {});

  let done = false;
  let resolveOutcome: (outcome: ReplOutcome) => void = () => {};
  const outcome = new Promise<ReplOutcome>((resolve) => {
    resolveOutcome = resolve;
  });

  const screen: ReplScreen = new ReplScreen({
    input,
    output,
    prompt: '',
    reflows: terminalReflows(process.env),
    plain,
    completer: (line: string): [string[], string] => {
      const others = (session: ChatSession): string[] =>
        session
          .memberList()
          .filter((m) => m.user_id !== session.me.user_id)
          .map((m) => m.username);
      return complete(
        line,
        others(rooms.current.session),
        rooms.all.map((r) => r.name),
        rooms.all.flatMap((r) => others(r.session)),
      );
    },
  });
  const first = options.rooms[0]!.session;
  const notifier = new AwayNotifier(`cmd-chat #${first.room}`, (sequence) => screen.writeRaw(sequence));
  const dispatcher: LineDispatcher = new LineDispatcher({
    screen,
    color,
    daemon,
    quit: () => quitAsked(),
    roomControl: (): RoomControl => rooms,
    views: () => rooms.all.map((r) => r.view),
  });
  /**
   * /quit while lines typed meanwhile wait for a lost connection would drop them silently:
   * the first /quit says so, and a /quit right after it (no other line between) leaves.
   */
  let quitWarned = false;
  const quitAsked = (): void => {
    const unsent = rooms.all.reduce((n, r) => n + (r.session.isConnected ? 0 : r.session.unechoedCount), 0);
    if (unsent > 0 && !quitWarned) {
      quitWarned = true;
      const lines = unsent === 1 ? '1 line is' : `${unsent} lines are`;
      dispatcher.info(
        `${lines} not sent yet (waiting for the connection): /quit again to leave without ${unsent === 1 ? 'it' : 'them'}`,
      );
      return;
    }
    void finish({ kind: 'quit' });
  };
  const secret = new SecretPrompt(screen, () => screen.setPrompt(rooms.promptText()));
  const rooms: ReplRooms = new ReplRooms({
    screen,
    notifier,
    dispatcher,
    color,
    highlight,
    daemon,
    openRoom: options.openRoom,
    askSecret: (question) => {
      if (!plain) return secret.ask(question);
      // Cooked mode echoes what is typed: a password is never asked there.
      dispatcher.error(
        'a password cannot be typed hidden on a dumb terminal (TERM=dumb): join with --room and CMD_CHAT_PASSWORD or --password-file',
      );
      return Promise.resolve(undefined);
    },
    onLastClosed: (error) => void finish(error ? { kind: 'lost', error } : { kind: 'quit' }),
  });
  const modes = new TerminalModes(input, output, () => screen.redrawAfterStop());

  screen.rl.on('line', (raw: string) => {
    if (done) return;
    const warned = quitWarned;
    dispatcher.submit(rooms.current, raw);
    // Only the /quit right after the warning leaves without the pending lines.
    if (warned) quitWarned = false;
  });

  let lastCtrlC = 0;
  const onCtrlC = (): void => {
    // Ctrl-C with text typed clears the line (like a shell). On an empty line it asks first,
    // since IRC users press it casually: a second press within CTRL_C_QUIT_MS quits.
    if (screen.line !== '') {
      screen.clearLine();
      return;
    }
    const now = Date.now();
    if (now - lastCtrlC <= CTRL_C_QUIT_MS) return void finish({ kind: 'quit' });
    lastCtrlC = now;
    dispatcher.info('press Ctrl-C again to leave (or type /quit)');
  };
  screen.rl.on('SIGINT', onCtrlC);
  screen.rl.on('SIGTSTP', () => {
    if (!done) modes.suspend();
  });
  // Ctrl-D on an empty line (or the input ending) closes readline.
  screen.rl.on('close', () => void finish({ kind: 'quit' }));

  // Text goes straight into the line at the cursor; keys go through readline's decoder,
  // except the room keys and whatever a hidden question (a password) takes.
  const sink: KeySink = {
    insertText: (text) => (secret.active ? secret.insertText(text) : screen.insertText(text)),
    pressKey: (sequence) => {
      if (secret.active) return secret.pressKey(sequence);
      if (!rooms.handleKey(sequence)) screen.pressKey(sequence);
    },
  };
  const pasteFilter = new BracketedPasteFilter();
  const terminalInput = new TerminalInput(sink, notifier.focus, pasteFilter);
  // Several lines in one read are a paste from a terminal without bracketed paste: one message.
  // Plain mode: the terminal edits the line (cooked mode) and readline reads whole lines.
  const onData = plain
    ? (chunk: Buffer): void => void screen.keys.write(chunk)
    : (chunk: Buffer | string): void =>
        terminalInput.onData(secret.active || pasteFilter.pasting ? chunk : frameMultiLineRead(chunk));
  const onEnd = (): void => void screen.keys.end();

  const onSignal = (): void => void finish({ kind: 'quit' });
  // SIGHUP does not exist on Windows; Node ignores listeners for signals it cannot watch.
  process.once('SIGTERM', onSignal);
  if (process.platform !== 'win32') process.once('SIGHUP', onSignal);
  // In cooked mode Ctrl-C is a signal, not a key.
  if (plain) process.on('SIGINT', onCtrlC);

  async function finish(result: ReplOutcome): Promise<void> {
    if (done) return;
    done = true;
    terminalInput.stop();
    secret.finish(undefined);
    input.off('data', onData);
    input.off('end', onEnd);
    process.off('SIGINT', onCtrlC);
    modes.restore();
    screen.close();
    input.pause();
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    await rooms.shutdown(result.kind === 'quit');
    resolveOutcome(result);
  }

  if (!plain) modes.enter();
  input.on('data', onData);
  if (plain) input.on('end', onEnd);
  input.resume();

  for (const [i, handle] of options.rooms.entries()) rooms.add(handle, i === 0);
  if (rooms.all.some((r) => r.session.isClosed)) void finish({ kind: 'quit' });
  else screen.start();
  return outcome;
}
