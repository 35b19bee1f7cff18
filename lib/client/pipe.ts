/**
 * Scripted use: when stdin is not a terminal, each non-empty line is a message (a leading
 * `/` makes it a command, `//` escapes), events are printed as plain lines or NDJSON, and at
 * the end of input we wait until the daemon has echoed every line (the delivery receipt).
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { type CommandContext, parseInput, runCommand, type ViewState } from './commands.js';
import type { ChatEvent } from './events.js';
import { eventToJson } from './json-events.js';
import { renderPlain } from './render.js';
import { sanitizeBody } from './sanitize.js';
import type { ChatSession, SessionError } from './session.js';

export interface PipeOptions {
  input: Readable;
  output: Writable;
  errors: Writable;
  json: boolean;
  /** Keep printing after stdin ends, until the connection ends. */
  follow: boolean;
  daemon: string;
}

/** How a pipe run ended. */
export type PipeOutcome = { kind: 'done' } | { kind: 'lost'; error: SessionError } | { kind: 'quit' };

/** Formats and writes events as plain lines or NDJSON, skipping ignored members. */
function eventWriter(view: ViewState, options: PipeOptions): (ev: ChatEvent) => void {
  return (ev) => {
    if (ev.type === 'message' && view.ignored.has(ev.username.toLowerCase()) && !ev.mine) return;
    options.output.write(`${options.json ? eventToJson(ev) : renderPlain(ev)}\n`);
  };
}

export async function runPipe(
  session: ChatSession,
  history: ChatEvent[],
  options: PipeOptions,
): Promise<PipeOutcome> {
  const view: ViewState = { ignored: new Set(), bell: 'off', notify: 'off' };
  const write = eventWriter(view, options);
  for (const event of history) write(event);
  session.on('event', write);
  let quit = false;
  const ended = new Promise<PipeOutcome>((resolve) => {
    session.once('close', (error) => {
      resolve(error ? { kind: 'lost', error } : quit ? { kind: 'quit' } : { kind: 'done' });
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
  const reading = (async (): Promise<void> => {
    for await (const line of lines) {
      if (session.isClosed || quit) break;
      const input = parseInput(line);
      try {
        if (input.kind === 'message') session.send(input.text);
        else if (input.kind === 'command') await runCommand(ctx, input.name, input.args);
      } catch (err) {
        if (session.isClosed) break;
        localLine('send', (err as Error).message);
      }
      if (!session.writable) await session.waitWritable();
    }
  })();

  const first = await Promise.race([reading.then(() => 'input-ended' as const), ended]);
  if (first !== 'input-ended') {
    lines.close();
    return first;
  }
  lines.close();
  await session.waitForEchoes();
  if (session.isClosed) return ended;
  if (options.follow && !quit) return ended;
  await session.close();
  return ended;
}
