/**
 * The interactive client: a readline REPL on a terminal. This module only wires the parts
 * together and decides when the REPL ends:
 *
 *   repl-terminal.ts   terminal modes (raw, bracketed paste, focus reporting, title), Ctrl-Z
 *   repl-input.ts      raw input → focus / paste / key filters → the line editor
 *   repl-screen.ts     the line editor and printing above it without losing the typed line
 *   repl-room.ts       a room's view state, scrollback and event rendering; the welcome
 *   repl-dispatch.ts   a submitted line → message or slash command (commands.ts)
 *   repl-notifier.ts   focus, unread count in the title, desktop notifications
 *
 * Terminal safety: text from the network reaches the terminal only through renderEvent or
 * the sanitisers (command output, prompt, welcome lines, completion candidates); the only
 * escape sequences we write ourselves are fixed ones (modes, title, notifications, colours).
 */
import { createColors } from './colors.js';
import { complete } from './completer.js';
import type { ChatEvent } from './events.js';
import { highlightFences, loadHighlighter } from './highlight.js';
import { BracketedPasteFilter } from './paste.js';
import { LineDispatcher } from './repl-dispatch.js';
import { TerminalInput } from './repl-input.js';
import { AwayNotifier } from './repl-notifier.js';
import { ReplRoom, welcomeLines } from './repl-room.js';
import { ReplScreen } from './repl-screen.js';
import { TerminalModes } from './repl-terminal.js';
import type { ChatSession, SessionError } from './session.js';

export { promptFor } from './repl-room.js';
export { HISTORY_SIZE } from './repl-screen.js';

export interface ReplOptions {
  session: ChatSession;
  /** The room's history as replayed when we joined (oldest first), shown after the welcome. */
  history?: readonly ChatEvent[];
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
  color: boolean;
  daemon: string;
}

export type ReplOutcome = { kind: 'quit' } | { kind: 'lost'; error: SessionError };

/** A second Ctrl-C on an empty line within this time quits. */
export const CTRL_C_QUIT_MS = 2000;

export function runRepl(options: ReplOptions): Promise<ReplOutcome> {
  const { session, input, output, color, daemon } = options;
  const c = createColors(color);
  const highlight = color ? (body: string): string => highlightFences(body, true) : undefined;
  if (color) void loadHighlighter().catch(() => {});

  let done = false;
  let resolveOutcome: (outcome: ReplOutcome) => void = () => {};
  const outcome = new Promise<ReplOutcome>((resolve) => {
    resolveOutcome = resolve;
  });

  const screen = new ReplScreen({
    input,
    output,
    prompt: '',
    completer: (line: string) =>
      complete(
        line,
        session
          .memberList()
          .filter((m) => m.user_id !== session.me.user_id)
          .map((m) => m.username),
      ),
  });
  const notifier = new AwayNotifier(`cmd-chat #${session.room}`, (sequence) => screen.writeRaw(sequence));
  const room = new ReplRoom(session, { screen, notifier, color, highlight });
  screen.setPrompt(room.prompt());
  const dispatcher = new LineDispatcher({ screen, color, daemon, quit: () => void finish({ kind: 'quit' }) });
  const modes = new TerminalModes(input, output);

  screen.rl.on('line', (raw: string) => {
    if (!done) dispatcher.submit(room, raw);
  });

  let lastCtrlC = 0;
  screen.rl.on('SIGINT', () => {
    // Ctrl-C with text typed clears the line (like a shell). On an empty line it asks first,
    // since IRC users press it casually: a second press within CTRL_C_QUIT_MS quits.
    if (screen.line !== '') return screen.clearLine();
    const now = Date.now();
    if (now - lastCtrlC <= CTRL_C_QUIT_MS) return void finish({ kind: 'quit' });
    lastCtrlC = now;
    dispatcher.info('press Ctrl-C again to leave (or type /quit)');
  });
  screen.rl.on('SIGTSTP', () => {
    if (!done) modes.suspend(() => screen.redraw());
  });
  // Ctrl-D on an empty line (or the input ending) closes readline.
  screen.rl.on('close', () => void finish({ kind: 'quit' }));

  session.on('event', room.onEvent);
  session.once('close', (error) => void finish(error ? { kind: 'lost', error } : { kind: 'quit' }));

  // Text goes straight into the line at the cursor; keys go through readline's decoder.
  const terminalInput = new TerminalInput(screen, notifier.focus, new BracketedPasteFilter());
  const onData = terminalInput.onData;

  const onSignal = (): void => void finish({ kind: 'quit' });
  // SIGHUP does not exist on Windows; Node ignores listeners for signals it cannot watch.
  process.once('SIGTERM', onSignal);
  if (process.platform !== 'win32') process.once('SIGHUP', onSignal);

  async function finish(result: ReplOutcome): Promise<void> {
    if (done) return;
    done = true;
    terminalInput.stop();
    session.off('event', room.onEvent);
    input.off('data', onData);
    modes.restore();
    screen.close();
    input.pause();
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    if (result.kind === 'quit') await session.close();
    resolveOutcome(result);
  }

  modes.enter();
  input.on('data', onData);
  input.resume();

  screen.printAbove(c.dim(welcomeLines(session, daemon).join('\n')));
  // Replayed history is set apart from what happens from now on.
  const history = options.history ?? [];
  if (history.length > 0) {
    screen.printAbove(c.dim(`-- ${history.length} earlier message${history.length === 1 ? '' : 's'} --`));
    for (const ev of history) room.onEvent(ev);
    screen.printAbove(c.dim('-- now --'));
  }

  if (session.isClosed) void finish({ kind: 'quit' });
  else screen.start();
  return outcome;
}
