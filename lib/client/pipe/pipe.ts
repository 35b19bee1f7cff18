/**
 * Scripted use: when stdin is not a terminal, every non-empty line is a message, sent as it
 * is: data is data, so `/wipe` or `//x` in a log is text. Only with `commands` does a leading
 * `/` make a line a command (`//` then escapes). Records end at a newline, or at NUL with
 * `separator: 'nul'` (one message may then span lines). Events are printed as plain lines or
 * NDJSON, and at the end of input we wait until the daemon has echoed every line (the
 * delivery receipt).
 *
 * What is printed: the room's history only with `--history`; then, with `--follow`, every
 * live event; without it (a sender) only the echoes of our own lines and errors, so a script
 * that posts a line never copies other people's messages into its log. A line over the
 * message limit or not valid UTF-8 is not sent: it is reported with its number, the other
 * lines still go, and the outcome counts it (a distinct exit code), as it counts failed
 * commands. When stdout is closed under us (`| head -1`) the run ends quietly.
 */
import type { Readable, Writable } from 'node:stream';
import type { ChatEvent } from '../events.js';
import { IgnoreList } from '../ignore-list.js';
import { eventToJson, jsonLine } from '../json-events.js';
import { MAX_MESSAGE_BYTES, MessageTooLongError } from '../message-size.js';
import { renderPlain } from '../render.js';
import { sanitizeBody, sanitizeName } from '../sanitize.js';
import { SessionError } from '../session/error.js';
import type { ChatSession } from '../session/session.js';
import {
  type CommandContext,
  findCommand,
  isIgnored,
  type ParsedInput,
  parseInput,
  type RoomControl,
  runCommand,
  type ViewState,
} from '../slash-commands.js';
import { readRecords, type Separator } from './input.js';
import { PipeProgress } from './progress.js';

export interface PipeOptions {
  input: Readable;
  output: Writable;
  errors: Writable;
  json: boolean;
  /** Print every live event and keep printing after stdin ends, until the connection ends. */
  follow: boolean;
  /** Print the history the room replays on joining. */
  history?: boolean;
  /** Lines starting with `/` are commands (`//` sends a literal slash); otherwise all is text. */
  commands?: boolean;
  /** What ends an input record: a newline (the default) or NUL (`--null`). */
  separator?: Separator;
  /** Show a progress line on `errors` (when it is a terminal). */
  progress?: boolean;
  /**
   * Resolves when the reader of `output` has gone though nothing was written (reader-watch.ts):
   * the run then ends as on EPIPE.
   */
  readerGone?: Promise<void>;
  daemon: string;
}

/**
 * How a pipe run ended; `notSent` counts input records refused (too long, not UTF-8, a /msg
 * that could not go), `failedCommands` the command lines that failed. `output_closed`: stdout
 * could not be written any more (EPIPE when the reader of the pipe has gone).
 */
export type PipeOutcome =
  | { kind: 'done'; notSent: number; failedCommands: number }
  | { kind: 'lost'; error: SessionError }
  | { kind: 'quit'; notSent: number; failedCommands: number }
  | { kind: 'output_closed'; error: NodeJS.ErrnoException };

/**
 * Formats and writes a room's events as plain lines or NDJSON, skipping ignored members. In
 * plain mode the connection's status lines go to `errors`, not among the messages.
 */
function eventWriter(
  view: ViewState,
  options: PipeOptions,
  out: (text: string) => void,
  room: string | undefined,
): (ev: ChatEvent) => void {
  // With several rooms each line says which room it is from: a `[room] ` prefix, or a "room"
  // field in the JSON object (right after the schema version).
  const prefix = room === undefined ? '' : `[${sanitizeName(room)}] `;
  return (ev) => {
    if (isIgnored(view, ev)) return;
    if (options.json) out(`${eventToJson(ev, room)}\n`);
    else if (isConnectionEvent(ev)) options.errors.write(`${prefix}${renderPlain(ev)}\n`);
    else out(`${prefix}${renderPlain(ev)}\n`);
  };
}

function isConnectionEvent(ev: ChatEvent): boolean {
  return (
    ev.type === 'disconnected' ||
    ev.type === 'reconnecting' ||
    ev.type === 'reconnected' ||
    ev.type === 'gap' ||
    ev.type === 'restarted'
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
 * start); with `commands`, a `/switch ROOM` line changes it. The run ends when input ends and
 * every room has echoed what was sent to it, when any room's connection ends, or when stdout
 * is closed.
 */
export async function runPipe(rooms: readonly PipeRoom[], options: PipeOptions): Promise<PipeOutcome> {
  const several = rooms.length > 1;
  // A closed stdout (EPIPE: `| head -1` has read enough) ends the run; nothing more is written.
  let outputError: NodeJS.ErrnoException | undefined;
  const outputClosed = new Promise<'output-closed'>((resolve) => {
    const closed = (err: NodeJS.ErrnoException): void => {
      outputError ??= err;
      resolve('output-closed');
    };
    options.output.on('error', closed);
    void options.readerGone?.then(() =>
      closed(Object.assign(new Error('the reader of stdout has gone'), { code: 'EPIPE' })),
    );
  });
  // A closed stderr has nobody left to tell: its errors must not crash the run.
  options.errors.on('error', () => {});
  const out = (text: string): void => {
    if (outputError === undefined) options.output.write(text);
  };
  const states: RoomState[] = rooms.map((r) => {
    const view: ViewState = { ignored: new IgnoreList(r.session), bell: 'off', notify: 'off' };
    return { ...r, view, write: eventWriter(view, options, out, several ? r.session.room : undefined) };
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
  let failedCommands = 0;
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
        resolve(error ? { kind: 'lost', error } : { kind: quit ? 'quit' : 'done', notSent, failedCommands });
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
  const unit = options.separator === 'nul' ? 'record' : 'line';
  let recordNumber = 0;
  const contextFor = (s: RoomState): CommandContext => ({
    session: s.session,
    view: s.view,
    daemon: options.daemon,
    interactive: false,
    info: (text) => {
      if (options.json) {
        const fields = { type: 'info', time: new Date().toISOString(), text };
        out(`${jsonLine(fields, several ? s.session.room : undefined)}\n`);
      } else out(`${sanitizeBody(text)}\n`);
    },
    error: (text) => {
      failedCommands++;
      localLine('command', `${unit} ${recordNumber}: ${text}`);
    },
    clearScreen: () => {},
    quit: () => {
      quit = true;
    },
    ...(several ? { rooms: roomControl } : {}),
  });

  const anyClosed = (): boolean => states.some((s) => s.session.isClosed);
  const notSentLine = (code: string, why: string): void => {
    notSent++;
    localLine(code, `${unit} ${recordNumber} not sent: ${why}`);
  };
  const reading = (async (): Promise<void> => {
    for await (const record of readRecords(options.input, options.separator ?? 'newline')) {
      recordNumber = record.number;
      if (anyClosed() || quit || outputError) break;
      if (record.kind === 'too_long') {
        notSentLine('too_long', `${record.bytes} bytes, the limit is ${MAX_MESSAGE_BYTES} bytes`);
        continue;
      }
      if (record.kind === 'not_utf8') {
        notSentLine('not_utf8', 'not valid UTF-8 text');
        continue;
      }
      const input: ParsedInput = options.commands
        ? parseInput(record.text)
        : record.text.trim() === ''
          ? { kind: 'empty' }
          : { kind: 'message', text: record.text };
      const session = current.session;
      try {
        if (input.kind === 'message') {
          session.send(input.text);
          sent++;
        } else if (input.kind === 'command') {
          const failedBefore = failedCommands;
          await runCommand(contextFor(current), input.name, input.args);
          // The lines after a /switch that failed were meant for another room: none is sent.
          if (failedCommands > failedBefore && findCommand(input.name)?.name === 'switch') {
            localLine('command', `the ${unit}s after ${unit} ${recordNumber} are not sent`);
            break;
          }
        }
      } catch (err) {
        if (session.isClosed) break;
        if (err instanceof MessageTooLongError) {
          notSentLine('too_long', `${err.bytes} bytes, the limit is ${err.limit} bytes`);
        } else if (err instanceof SessionError && err.code === 'refused') {
          // A /msg that cannot be delivered (no such member, or one without keys).
          notSentLine('not_sent', err.message);
        } else if (input.kind === 'command') {
          failedCommands++;
          localLine('send', `${unit} ${recordNumber}: ${(err as Error).message}`);
        } else notSentLine('send', (err as Error).message);
      }
      if (quit) break;
      if (!session.writable) await session.waitWritable();
    }
  })();

  const first = await Promise.race([reading.then(() => 'input-ended' as const), ended, outputClosed]);
  if (first === 'output-closed') return outputClosedOutcome();
  if (first !== 'input-ended') {
    progress?.stop();
    return first;
  }
  await Promise.all(states.map((s) => s.session.waitForEchoes()));
  progress?.stop();
  if (anyClosed()) return ended;
  if (outputError) return outputClosedOutcome();
  if (options.follow && !quit) {
    const last = await Promise.race([ended, outputClosed]);
    return last === 'output-closed' ? outputClosedOutcome() : last;
  }
  await closeAll();
  return ended;

  /** Stdout is gone: leave every room at once; what nobody will read is not waited for. */
  async function outputClosedOutcome(): Promise<PipeOutcome> {
    progress?.stop();
    await closeAll();
    return { kind: 'output_closed', error: outputError! };
  }
}
