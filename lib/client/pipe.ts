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
import {
  type CommandContext,
  isIgnored,
  parseInput,
  type RoomControl,
  runCommand,
  type ViewState,
} from './commands.js';
import type { ChatEvent } from './events.js';
import { IgnoreList } from './ignore-list.js';
import { eventToJson } from './json-events.js';
import { MessageTooLongError } from './message-size.js';
import { PipeProgress } from './pipe-progress.js';
import { renderPlain } from './render.js';
import { sanitizeBody, sanitizeName } from './sanitize.js';
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

/**
 * Formats and writes a room's events as plain lines or NDJSON, skipping ignored members. In
 * plain mode the connection's status lines go to `errors`, not among the messages.
 */
function eventWriter(
  view: ViewState,
  options: PipeOptions,
  room: string | undefined,
): (ev: ChatEvent) => void {
  // With several rooms each line says which room it is from: a `[room] ` prefix, or a "room"
  // field first in the JSON object.
  const prefix = room === undefined ? '' : `[${sanitizeName(room)}] `;
  const field = room === undefined ? '' : `"room":${JSON.stringify(room)},`;
  return (ev) => {
    if (isIgnored(view, ev)) return;
    if (options.json) options.output.write(`{${field}${eventToJson(ev).slice(1)}\n`);
    else if (isConnectionEvent(ev)) options.errors.write(`${prefix}${renderPlain(ev)}\n`);
    else options.output.write(`${prefix}${renderPlain(ev)}\n`);
  };
}

function isConnectionEvent(ev: ChatEvent): boolean {
  return (
    ev.type === 'disconnected' || ev.type === 'reconnecting' || ev.type === 'reconnected' || ev.type === 'gap'
  );
}

/** Without --follow only our own echoes (the receipts), errors and the connection's status are printed. */
function wantedLive(ev: ChatEvent, follow: boolean): boolean {
  return (
    follow ||
    ev.type === 'error' ||
    ev.type === 'shutdown' ||
    isConnectionEvent(ev) ||
    ((ev.type === 'message' || ev.type === 'private') && ev.mine)
  );
}

/** A joined room: its session and the history it replayed. */
export interface PipeRoom {
  session: ChatSession;
  history: readonly ChatEvent[];
}

interface RoomState extends PipeRoom {
  view: ViewState;
  write(ev: ChatEvent): void;
}

/**
 * Runs pipe mode over one or several rooms. Lines go to the current room (the first at the
 * start); a `/switch ROOM` line changes it. The run ends when input ends and every room has
 * echoed what was sent to it, or when any room's connection ends.
 */
export async function runPipe(rooms: readonly PipeRoom[], options: PipeOptions): Promise<PipeOutcome> {
  const several = rooms.length > 1;
  const states: RoomState[] = rooms.map((r) => {
    const view: ViewState = { ignored: new IgnoreList(r.session), bell: 'off', notify: 'off' };
    return { ...r, view, write: eventWriter(view, options, several ? r.session.room : undefined) };
  });
  let current = states[0]!;
  if (options.history) for (const s of states) for (const event of s.history) s.write(event);
  for (const s of states) {
    const onEvent = (ev: ChatEvent): void => {
      s.view.ignored.observe(ev);
      if (wantedLive(ev, options.follow)) s.write(ev);
    };
    s.session.on('event', onEvent);
  }
  let quit = false;
  let sent = 0;
  let notSent = 0;
  const unechoed = (): number => states.reduce((n, s) => n + s.session.unechoedCount, 0);
  const progress = options.progress
    ? new PipeProgress(options.errors, () => ({ sent, delivered: sent - unechoed() }))
    : undefined;
  const closeAll = async (): Promise<void> => {
    await Promise.all(states.map((s) => s.session.close()));
  };
  // The run is over when the first room's connection ends (the others are then closed).
  const ended = new Promise<PipeOutcome>((resolve) => {
    for (const s of states) {
      s.session.once('close', (error) => {
        progress?.stop();
        if (error) void closeAll();
        resolve(error ? { kind: 'lost', error } : { kind: quit ? 'quit' : 'done', notSent });
      });
    }
  });
  const localLine = (code: string, text: string): void => {
    if (options.json) current.write({ type: 'error', at: Date.now(), code, message: text });
    else options.errors.write(`cmd-chat: ${sanitizeBody(text)}\n`);
  };
  const roomControl: RoomControl = {
    list: () => states.map((s) => ({ name: s.session.room, current: s === current, unread: 0, mentions: 0 })),
    switchTo: (wanted) => {
      const bare = wanted.replace(/^#/, '');
      const found =
        states.find((s) => s.session.room === wanted || s.session.room === bare) ??
        (/^[0-9]+$/.test(bare) ? states[Number(bare) - 1] : undefined);
      if (!found) return false;
      current = found;
      return true;
    },
  };
  const contextFor = (s: RoomState): CommandContext => ({
    session: s.session,
    view: s.view,
    daemon: options.daemon,
    interactive: false,
    info: (text) => {
      if (options.json) {
        const room = several ? { room: s.session.room } : {};
        options.output.write(
          `${JSON.stringify({ ...room, type: 'info', time: new Date().toISOString(), text })}\n`,
        );
      } else options.output.write(`${sanitizeBody(text)}\n`);
    },
    error: (text) => localLine('command', text),
    clearScreen: () => {},
    quit: () => {
      quit = true;
    },
    ...(several ? { rooms: roomControl } : {}),
  });

  const lines = createInterface({
    input: options.input,
    crlfDelay: Number.POSITIVE_INFINITY,
    terminal: false,
  });
  let lineNumber = 0;
  const anyClosed = (): boolean => states.some((s) => s.session.isClosed);
  const reading = (async (): Promise<void> => {
    for await (const line of lines) {
      lineNumber++;
      if (anyClosed() || quit) break;
      const input = parseInput(line);
      const session = current.session;
      try {
        if (input.kind === 'message') {
          session.send(input.text);
          sent++;
        } else if (input.kind === 'command') await runCommand(contextFor(current), input.name, input.args);
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
  lines.close();
  if (first !== 'input-ended') {
    progress?.stop();
    return first;
  }
  await Promise.all(states.map((s) => s.session.waitForEchoes()));
  progress?.stop();
  if (anyClosed()) return ended;
  if (options.follow && !quit) return ended;
  await closeAll();
  return ended;
}
