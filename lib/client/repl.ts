/**
 * The interactive client: a readline REPL on a terminal. Incoming events are printed above
 * the input line without destroying what is being typed; typed lines become messages or
 * slash commands (from the registry in commands.ts); Tab completes commands and member
 * names; history stays in RAM. Raw input passes through two filters before readline sees
 * it: focus reports (for desktop notifications and the unread count in the title) and
 * bracketed paste (a pasted block becomes one message).
 *
 * Terminal safety: text from the network reaches the terminal only through renderEvent or
 * the sanitisers (command output, prompt, welcome lines, completion candidates); the only
 * escape sequences we write ourselves are fixed ones (modes, title, notifications, colours).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { clearScreenDown, createInterface, cursorTo, moveCursor } from 'node:readline';
import { PassThrough } from 'node:stream';
import { createColors } from './colors.js';
import { type CommandContext, isIgnored, parseInput, runCommand, type ViewState } from './commands.js';
import { complete } from './completer.js';
import type { ChatEvent, MessageEvent } from './events.js';
import { highlightFences, loadHighlighter } from './highlight.js';
import { IgnoreList } from './ignore-list.js';
import {
  FOCUS_REPORTING_OFF,
  FOCUS_REPORTING_ON,
  FocusTracker,
  type Notifier,
  notificationSequence,
  notifySendArgs,
  pickNotifier,
  setTitle,
  UnreadCounter,
} from './notify.js';
import { BRACKETED_PASTE_OFF, BRACKETED_PASTE_ON, BracketedPasteFilter, fromInputLine } from './paste.js';
import { mentionsMe, renderEvent } from './render.js';
import { TerminalInput } from './repl-input.js';
import { sanitizeBody, sanitizeName } from './sanitize.js';
import { Scrollback } from './scrollback.js';
import type { ChatSession, SessionError } from './session.js';
import { columnsOf, terminalLayout } from './wrap.js';

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

/** Input lines remembered for ↑/↓ (RAM only, never written anywhere). */
export const HISTORY_SIZE = 500;

/** A second Ctrl-C on an empty line within this time quits. */
export const CTRL_C_QUIT_MS = 2000;

// xterm's title stack: save the user's title at start and restore it at exit, since we may
// change it to show the unread count. Terminals without the stack ignore these.
const TITLE_PUSH = '\x1b[22;0t';
const TITLE_POP = '\x1b[23;0t';
const CLEAR_SCREEN = '\x1b[2J\x1b[H';

/** The prompt: room and name, both sanitised (the daemon tells us our name). */
export function promptFor(room: string, name: string): string {
  return `[${sanitizeName(room)}] ${sanitizeName(name)}> `;
}

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

export function runRepl(options: ReplOptions): Promise<ReplOutcome> {
  const { session, input, output, color, daemon } = options;
  const c = createColors(color);
  const view: ViewState = { ignored: new IgnoreList(session), bell: 'mentions', notify: 'mentions' };
  const highlight = color ? (body: string): string => highlightFences(body, true) : undefined;
  if (color) void loadHighlighter().catch(() => {});

  const titleBase = (): string => `cmd-chat #${session.room}`;
  const unread = new UnreadCounter(titleBase());
  let notifier: Notifier | undefined;
  const focus = new FocusTracker((focused) => {
    if (unread.setFocused(focused)) output.write(setTitle(unread.title()));
  });
  const paste = new BracketedPasteFilter();

  // readline reads from this stream, fed with the filtered terminal input; raw mode requests
  // go to the real terminal.
  const keys = Object.assign(new PassThrough(), {
    isTTY: true,
    setRawMode(mode: boolean): PassThrough {
      if (input.isTTY) input.setRawMode(mode);
      return keys;
    },
  });

  const rl = createInterface({
    input: keys,
    output,
    terminal: true,
    prompt: promptFor(session.room, session.me.username),
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
    tabSize: 4,
    completer: (line: string) =>
      complete(
        line,
        session
          .memberList()
          .filter((m) => m.user_id !== session.me.user_id)
          .map((m) => m.username),
      ),
  });

  let active = false; // the prompt is on screen and must be kept below printed lines
  let done = false;
  let resolveOutcome: (outcome: ReplOutcome) => void = () => {};
  const outcome = new Promise<ReplOutcome>((resolve) => {
    resolveOutcome = resolve;
  });

  // --- writing above the input line -------------------------------------------------------

  /** Clears the prompt and input (which may wrap over several rows); cursor at its start. */
  function clearInputArea(): number {
    const rows = active ? rl.getCursorPos().rows : 0;
    cursorTo(output, 0);
    if (rows > 0) moveCursor(output, 0, -rows);
    clearScreenDown(output);
    return rows;
  }

  /** Prints finished text above the input line, then redraws prompt, input and cursor. */
  function printAbove(text: string): void {
    if (done) return;
    const rows = clearInputArea();
    // The redraw below first moves up by the rows readline believes the cursor was on when it
    // last drew the line (its undocumented `prevRows`; it lags behind when typed text wraps
    // without a redraw). Newlines of the same count balance that move, so the redraw starts
    // right below what we printed.
    const prev = (rl as unknown as { prevRows?: unknown }).prevRows;
    const up = active ? (typeof prev === 'number' && prev >= 0 ? prev : rows) : 0;
    output.write(text.replace(/\r?\n/g, '\r\n') + '\r\n' + '\n'.repeat(up));
    if (active) rl.prompt(true);
  }

  /** Removes a just-submitted input line from the screen (its echo will show it). */
  function eraseSubmitted(line: string): void {
    const cols = output.columns || 80;
    const rows = Math.floor(columnsOf(rl.getPrompt() + line) / cols) + 1;
    moveCursor(output, 0, -rows);
    cursorTo(output, 0);
    clearScreenDown(output);
  }

  // --- notifications ----------------------------------------------------------------------

  function notifyIfAway(ev: MessageEvent, mention: boolean): void {
    if (focus.focused || ev.undecryptable) return;
    // The title counts every unread message; notifications follow /notify.
    if (unread.record(mention)) output.write(setTitle(unread.title()));
    if (view.notify === 'off' || (view.notify === 'mentions' && !mention)) return;
    notifier ??= detectNotifier();
    const title = `${ev.username} in #${session.room}`;
    const body = ev.kind === 'me' ? `* ${ev.username} ${ev.body}` : ev.body;
    if (notifier === 'osc9' || notifier === 'osc777') {
      output.write(notificationSequence(title, body, notifier));
    } else if (notifier === 'notify-send') {
      try {
        const child = spawn('notify-send', notifySendArgs(title, body), { stdio: 'ignore' });
        child.on('error', () => {});
        child.unref();
      } catch {
        // a missing or failing notify-send must never disturb the chat
      }
    }
  }

  // --- events from the room ---------------------------------------------------------------

  const scrollback = new Scrollback();

  function onEvent(ev: ChatEvent): void {
    scrollback.add(ev);
    view.ignored.observe(ev);
    if (isIgnored(view, ev)) return;
    if (ev.type === 'rename' && ev.userId === session.me.user_id) {
      rl.setPrompt(promptFor(session.room, session.me.username));
    }
    const me = session.me.username;
    let text = renderEvent(ev, { color, me, highlight, layout: terminalLayout(output.columns || 80) });
    if (ev.type === 'message' && !ev.mine && !ev.history) {
      const mention = mentionsMe(ev, me);
      if (view.bell === 'on' || (view.bell === 'mentions' && mention)) text += '\x07';
      notifyIfAway(ev, mention);
    }
    printAbove(text);
  }

  // --- commands ----------------------------------------------------------------------------

  const ctx: CommandContext = {
    session,
    view,
    daemon,
    interactive: true,
    info: (text) => printAbove(c.dim(sanitizeBody(text))),
    error: (text) => printAbove(c.red(sanitizeBody(text))),
    clearScreen: () => {
      if (!done) output.write(CLEAR_SCREEN);
    },
    quit: () => void finish({ kind: 'quit' }),
    scrollback,
    showEvents: (events, mark) => {
      const me = session.me.username;
      for (const ev of events) {
        if (isIgnored(view, ev)) continue;
        const layout = terminalLayout(output.columns || 80);
        printAbove(
          renderEvent(ev, { color, me, highlight, layout, ...(mark !== undefined ? { mark } : {}) }),
        );
      }
    },
  };

  rl.on('line', (raw: string) => {
    if (done) return;
    const text = fromInputLine(raw);
    const parsed = parseInput(text);
    // A message (and /me, which is one) is erased: the daemon's echo shows it.
    if (parsed.kind !== 'command' || parsed.name.toLowerCase() === 'me') eraseSubmitted(raw);
    if (parsed.kind === 'message') {
      try {
        // Not printed now: the daemon's echo is the receipt and is shown when it arrives.
        session.send(parsed.text);
      } catch (err) {
        ctx.error((err as Error).message);
      }
    } else if (parsed.kind === 'command') {
      runCommand(ctx, parsed.name, parsed.args).catch((err: unknown) => {
        ctx.error(err instanceof Error ? err.message : String(err));
      });
    }
    if (!done) rl.prompt();
  });

  let lastCtrlC = 0;
  rl.on('SIGINT', () => {
    // Ctrl-C with text typed clears the line (like a shell). On an empty line it asks first,
    // since IRC users press it casually: a second press within CTRL_C_QUIT_MS quits.
    if (rl.line !== '') {
      rl.write(null, { ctrl: true, name: 'e' });
      rl.write(null, { ctrl: true, name: 'u' });
      return;
    }
    const now = Date.now();
    if (now - lastCtrlC <= CTRL_C_QUIT_MS) return void finish({ kind: 'quit' });
    lastCtrlC = now;
    ctx.info('press Ctrl-C again to leave (or type /quit)');
  });
  // Ctrl-Z: give the terminal back as we found it (modes off, title restored), stop, and
  // take it again on `fg`. Job control does not exist on Windows.
  if (process.platform !== 'win32') {
    rl.on('SIGTSTP', () => {
      if (done) return;
      output.write(`\r\n${BRACKETED_PASTE_OFF}${FOCUS_REPORTING_OFF}${TITLE_POP}`);
      if (input.isTTY) input.setRawMode(false);
      process.once('SIGCONT', () => {
        if (done) return;
        if (input.isTTY) input.setRawMode(true);
        output.write(TITLE_PUSH + BRACKETED_PASTE_ON + FOCUS_REPORTING_ON);
        if (active) rl.prompt(true);
      });
      process.kill(process.pid, 'SIGTSTP');
    });
  }
  // Ctrl-D on an empty line (or the input ending) closes readline.
  rl.on('close', () => void finish({ kind: 'quit' }));

  session.on('event', onEvent);
  session.once('close', (error) => void finish(error ? { kind: 'lost', error } : { kind: 'quit' }));

  // --- raw terminal input ------------------------------------------------------------------

  // Text goes straight into the line at the cursor; keys go through readline's decoder.
  const terminalInput = new TerminalInput(
    {
      insertText: (text) => {
        if (!done) rl.write(text);
      },
      pressKey: (sequence) => {
        if (!done) keys.write(sequence);
      },
    },
    focus,
    paste,
  );
  const onData = terminalInput.onData;

  // --- terminal modes ----------------------------------------------------------------------

  let restored = false;
  const restoreTerminal = (): void => {
    if (restored) return;
    restored = true;
    output.write(BRACKETED_PASTE_OFF + FOCUS_REPORTING_OFF + TITLE_POP);
    if (input.isTTY) input.setRawMode(false);
  };
  // Last resort if the process exits some other way (TTY writes are synchronous).
  process.once('exit', restoreTerminal);
  const onSignal = (): void => void finish({ kind: 'quit' });
  // SIGHUP does not exist on Windows; Node ignores listeners for signals it cannot watch.
  process.once('SIGTERM', onSignal);
  if (process.platform !== 'win32') process.once('SIGHUP', onSignal);

  async function finish(result: ReplOutcome): Promise<void> {
    if (done) return;
    if (active) clearInputArea();
    done = true;
    active = false;
    terminalInput.stop();
    session.off('event', onEvent);
    input.off('data', onData);
    restoreTerminal();
    rl.close();
    input.pause();
    process.off('exit', restoreTerminal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    if (result.kind === 'quit') await session.close();
    resolveOutcome(result);
  }

  output.write(TITLE_PUSH + BRACKETED_PASTE_ON + FOCUS_REPORTING_ON);
  if (input.isTTY) input.setRawMode(true);
  input.on('data', onData);
  input.resume();

  // --- welcome -----------------------------------------------------------------------------

  const members = session.memberList();
  const names = members.map((m) =>
    m.user_id === session.me.user_id ? `${sanitizeName(m.username)} (you)` : sanitizeName(m.username),
  );
  const welcome = [
    `-- joined #${sanitizeName(session.room)} on ${sanitizeName(daemon)} as ${sanitizeName(session.me.username)}`,
    `-- ${members.length} member${members.length === 1 ? '' : 's'}: ${names.join(', ')}`,
    `-- room fingerprint ${session.fingerprint}: compare it with the others out of band`,
    '-- type /help for the commands, /quit to leave',
  ];
  printAbove(c.dim(welcome.join('\n')));
  // Replayed history is set apart from what happens from now on.
  const history = options.history ?? [];
  if (history.length > 0) {
    printAbove(c.dim(`-- ${history.length} earlier message${history.length === 1 ? '' : 's'} --`));
    for (const ev of history) onEvent(ev);
    printAbove(c.dim('-- now --'));
  }

  if (session.isClosed) {
    void finish({ kind: 'quit' });
  } else {
    active = true;
    rl.prompt();
  }
  return outcome;
}
