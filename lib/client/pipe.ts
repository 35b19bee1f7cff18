/**
 * Scripted use: when stdin is not a terminal, each non-empty line is a message (a leading
 * `/` makes it a command, `//` escapes), events are printed as plain lines or NDJSON, and at
 * the end of input we wait until the daemon has echoed every line (the delivery receipt).
 *
 * What is printed: the room's history only with `--history`; then, with `--follow`, every
 * live event; without it (a sender) only the echoes of our own lines and errors, so a script
 * that posts a line never copies other people's messages into its log. A line over the
 * message limit is not sent: it is reported with its line number, the other lines still go,
 * and the outcome counts it (a distinct exit code).
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { type CommandContext, isIgnored, parseInput, runCommand, type ViewState } from './commands.js';
import type { ChatEvent } from './events.js';
import { IgnoreList } from './ignore-list.js';
import { eventToJson } from './json-events.js';
import { MessageTooLongError } from './message-size.js';
import { PipeProgress } from './pipe-progress.js';
import { renderPlain } from './render.js';
import { sanitizeBody } from './sanitize.js';
import type { ChatSession } from './session.js';
import { SessionError } from './session-error.js';

export interface PipeOptions {
  input: Readable;
  output: Writable;
  errors: Writable;
  json: boolean;
  /** Print every live event and keep printing after stdin ends, until the connection ends. */
  follow: boolean;
  /** Print the history the room replays on joining. */
  history?: boolean;
  /** Show a progress line on `errors` (when it is a terminal). */
  progress?: boolean;
  daemon: string;
}

/** How a pipe run ended; `notSent` counts input lines refused as too long. */
export type PipeOutcome =
  | { kind: 'done'; notSent: number }
  | { kind: 'lost'; error: SessionError }
  | { kind: 'quit'; notSent: number };

/** Formats and writes events as plain lines or NDJSON, skipping ignored members. */
function eventWriter(view: ViewState, options: PipeOptions): (ev: ChatEvent) => void {
  return (ev) => {
    if (isIgnored(view, ev)) return;
    options.output.write(`${options.json ? eventToJson(ev) : renderPlain(ev)}\n`);
  };
}

/** Without --follow only our own echoes (the receipts) and errors are printed. */
function wantedLive(ev: ChatEvent, follow: boolean): boolean {
  return follow || ev.type === 'error' || ((ev.type === 'message' || ev.type === 'private') && ev.mine);
}

export async function runPipe(
  session: ChatSession,
  history: ChatEvent[],
  options: PipeOptions,
): Promise<PipeOutcome> {
  const view: ViewState = { ignored: new IgnoreList(session), bell: 'off', notify: 'off' };
  const write = eventWriter(view, options);
  if (options.history) for (const event of history) write(event);
  const onEvent = (ev: ChatEvent): void => {
    view.ignored.observe(ev);
    if (wantedLive(ev, options.follow)) write(ev);
  };
  session.on('event', onEvent);
  let quit = false;
  let sent = 0;
  let notSent = 0;
  const progress = options.progress
    ? new PipeProgress(options.errors, () => ({ sent, delivered: sent - session.unechoedCount }))
    : undefined;
  const ended = new Promise<PipeOutcome>((resolve) => {
    session.once('close', (error) => {
      progress?.stop();
      resolve(error ? { kind: 'lost', error } : { kind: quit ? 'quit' : 'done', notSent });
    });
  });
  const localLine = (code: string, text: string): void => {
    if (options.json) write({ type: 'error', at: Date.now(), code, message: text });
    else options.errors.write(`cmd-chat: ${sanitizeBody(text)}\n`);
  };
  const ctx: CommandContext = {
    session,
    view,
    daemon: options.daemon,
    interactive: false,
    info: (text) => {
      if (options.json)
        options.output.write(`${JSON.stringify({ type: 'info', time: new Date().toISOString(), text })}\n`);
      else options.output.write(`${sanitizeBody(text)}\n`);
    },
    error: (text) => localLine('command', text),
    clearScreen: () => {},
    quit: () => {
      quit = true;
    },
  };

  const lines = createInterface({
    input: options.input,
    crlfDelay: Number.POSITIVE_INFINITY,
    terminal: false,
  });
  let lineNumber = 0;
  const reading = (async (): Promise<void> => {
    for await (const line of lines) {
      lineNumber++;
      if (session.isClosed || quit) break;
      const input = parseInput(line);
      try {
        if (input.kind === 'message') {
          session.send(input.text);
          sent++;
        } else if (input.kind === 'command') await runCommand(ctx, input.name, input.args);
      } catch (err) {
        if (session.isClosed) break;
        if (err instanceof MessageTooLongError) {
          notSent++;
          localLine(
            'too_long',
            `line ${lineNumber} not sent: ${err.bytes} bytes, the limit is ${err.limit} bytes`,
          );
        } else if (err instanceof SessionError && err.code === 'refused') {
          // A /msg that cannot be delivered (no such member, or one without keys).
          notSent++;
          localLine('not_sent', `line ${lineNumber} not sent: ${err.message}`);
        } else {
          localLine('send', (err as Error).message);
        }
      }
      if (!session.writable) await session.waitWritable();
    }
  })();

  const first = await Promise.race([reading.then(() => 'input-ended' as const), ended]);
  if (first !== 'input-ended') {
    lines.close();
    progress?.stop();
    return first;
  }
  lines.close();
  await session.waitForEchoes();
  progress?.stop();
  if (session.isClosed) return ended;
  if (options.follow && !quit) return ended;
  await session.close();
  return ended;
}
