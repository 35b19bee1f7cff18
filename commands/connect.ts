/**
 * `cmd-chat connect`: parse the client's options, pick the transport, authenticate (to each room) with a
 * spinner on a terminal, join (asking for another name if it is taken), then run the REPL
 * on a terminal or pipe mode otherwise, and exit with a documented code.
 */
import { createInterface } from 'node:readline/promises';
import type { Argv, CommandModule, Options, PositionalOptions } from 'yargs';
import { colorEnabled } from '../lib/client/colors.js';
import { runPipe } from '../lib/client/pipe/pipe.js';
import { type ReaderWatch, watchPipeReader } from '../lib/client/pipe/reader-watch.js';
import type { RoomHandle } from '../lib/client/repl/rooms.js';
import { isDumbTerminal, spinnerUsable } from '../lib/client/repl/terminal-caps.js';
import { ChatSession, SessionError, type SessionErrorCode } from '../lib/client/session/session.js';
import { TRUST_ENV, TrustPins } from '../lib/client/session/trust-pins.js';
import { MAX_ROOMS, ORIGINAL_PROTOCOL_WARNING } from '../lib/client/slash-commands.js';
import { ExitCode, type ExitCodeValue } from '../lib/exit-codes.js';
import { defaultClientLimits } from '../lib/protocol/limits.js';
import { DEFAULT_ROOM } from '../lib/protocol/names.js';
import { clientTransportFor } from '../lib/transport/index.js';
import type { ClientTransport } from '../lib/transport/transport.js';
import { IDENTITY_ENV, identityFromOptions } from './identity-source.js';
import { PASSWORD_ENV, passwordFromSources, promptHidden, readPasswordLines } from './password.js';

export interface ConnectArgs {
  args: Array<string | number>;
  room: string[];
  password?: string;
  passwordFile?: string;
  socket?: string;
  proxy?: string;
  json: boolean;
  follow: boolean;
  history: boolean;
  commands: boolean;
  null: boolean;
  color: boolean;
  create: boolean;
  legacy: boolean;
  originalProtocol: boolean;
  keepalive: number;
  reconnect: boolean;
  reconnectAttempts: number;
  identity: boolean;
  identityLabel?: string;
  identityFd?: number;
  trust?: string[];
}

const EXIT_FOR: Record<SessionErrorCode, number> = {
  cannot_connect: ExitCode.cannotConnect,
  auth_failed: ExitCode.authFailed,
  refused: ExitCode.refused,
  name_taken: ExitCode.refused,
  bad_name: ExitCode.refused,
  connection_lost: ExitCode.connectionLost,
  shutdown: ExitCode.connectionLost,
  protocol: ExitCode.connectionLost,
  not_cmd_chat: ExitCode.notCmdChat,
  password_refused: ExitCode.authFailed,
  fingerprint_changed: ExitCode.authFailed,
};

/** Passwords typed at the prompt one connect may try, as ssh allows. */
const PASSWORD_TRIES = 3;

function fail(message: string, code: number): never {
  process.stderr.write(`cmd-chat: ${message}\n`);
  process.exit(code);
}

/**
 * Exits once stdout and stderr have flushed what was written to them: under a slow reader a
 * pipe may still hold queued output, and process.exit() would drop it.
 */
async function exitDrained(code: number): Promise<never> {
  const flushed = (stream: NodeJS.WriteStream): Promise<void> =>
    new Promise((resolve) => {
      if (stream.destroyed || !stream.writable) return resolve();
      stream.write('', () => resolve());
    });
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

/** Options that only pipe mode reads; on a terminal we say so instead of ignoring them silently. */
function warnPipeOnly(args: ConnectArgs): void {
  const given = [
    args.json && '--json',
    args.follow && '--follow',
    args.history && '--history',
    args.commands && '--commands',
    args.null && '--null',
  ].filter((x): x is string => typeof x === 'string');
  if (given.length === 0) return;
  process.stderr.write(
    `cmd-chat: ${given.join(' and ')} appl${given.length === 1 ? 'ies' : 'y'} to pipe mode only ` +
      '(stdin is a terminal); ignored\n',
  );
}

interface Target {
  transport: ClientTransport;
  name: string;
  password: string | undefined;
}

/** `HOST:PORT` or `[IPv6]:PORT` in one argument. */
const HOST_PORT = /^(\[[^\]]+\]|[^:\s]+):([^:]*)$/;

function target(args: ConnectArgs): Target {
  const positional = args.args.map(String);
  let host = '';
  let port = 0;
  let rest = positional;
  if (args.socket === undefined) {
    const joined = HOST_PORT.exec(positional[0] ?? '');
    const [hostArg, portArg] = joined ? [joined[1]!, joined[2]!] : [positional[0], positional[1]];
    rest = positional.slice(joined ? 1 : 2);
    if (hostArg === undefined || portArg === undefined || rest.length < 1) {
      fail(
        'expected HOST PORT NAME [PASSWORD], HOST:PORT NAME [PASSWORD] or --socket PATH NAME [PASSWORD]',
        ExitCode.usage,
      );
    }
    host = hostArg.replace(/^\[(.*)\]$/, '$1');
    port = Number(portArg);
    if (!/^\d+$/.test(portArg) || port < 1 || port > 65535) fail(`invalid port ${portArg}`, ExitCode.usage);
  }
  let transport: ClientTransport;
  try {
    transport = clientTransportFor({ host, port, socket: args.socket, proxy: args.proxy });
  } catch (err) {
    fail((err as Error).message, ExitCode.usage);
  }
  if (rest.length < 1) fail('missing NAME', ExitCode.usage);
  if (rest.length > 2) fail('too many arguments', ExitCode.usage);
  return { transport, name: rest[0]!, password: rest[1] };
}

interface Spinner {
  setText(text: string): void;
  /** Stops it for a question on the terminal; `resume` starts it again. */
  pause(): void;
  resume(): void;
  stop(): void;
}

/**
 * The connecting spinner on stderr, when it can be drawn there (spinnerUsable): coloured only
 * by the project's colour decision, and stopped for good if the terminal's width drops to 0.
 */
async function startSpinner(text: string, colorFlag: boolean): Promise<Spinner | undefined> {
  const stream = process.stderr;
  if (!spinnerUsable(stream, process.env)) return undefined;
  const color = colorEnabled({ noColorFlag: !colorFlag, env: process.env, isTTY: true });
  const ora = (await import('ora')).default({ text, stream, color: color ? 'cyan' : false }).start();
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    stream.off('resize', onResize);
    ora.stop();
  };
  const onResize = (): void => {
    if (!spinnerUsable(stream, process.env)) stop();
  };
  stream.on('resize', onResize);
  return {
    setText: (t) => {
      ora.text = t;
    },
    pause: () => ora.stop(),
    resume: () => {
      if (!stopped) ora.start();
    },
    stop,
  };
}

async function askAnotherName(taken: string, reason: string): Promise<string | undefined> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${reason} ("${taken}"). Another name (empty to give up): `);
    return answer.trim() || undefined;
  } finally {
    rl.close();
  }
}

/** The rooms to join, in order (repeated --room), without duplicates. */
function roomsOf(args: ConnectArgs): string[] {
  const given = (Array.isArray(args.room) ? args.room : [args.room]).map(String);
  const rooms = [...new Set(given.length > 0 ? given : [DEFAULT_ROOM])];
  if (rooms.length > MAX_ROOMS)
    fail(`at most ${MAX_ROOMS} rooms at once (--room given ${rooms.length} times)`, ExitCode.usage);
  return rooms;
}

/**
 * The password of each room. A password from the argument, --password or the environment
 * serves every room. --password-file holds one line per room in the order of --room (a file
 * of one line serves every room). Otherwise (undefined) a terminal asks for each room, hidden,
 * once its daemon has answered.
 */
function passwordsFor(
  rooms: string[],
  args: ConnectArgs,
  positional: string | undefined,
  interactive: boolean,
): Array<string | undefined> {
  const flag = positional ?? args.password;
  if ((flag === undefined || flag === '') && args.passwordFile !== undefined) {
    const lines = readPasswordLines(args.passwordFile);
    if (lines.length === 1) return rooms.map(() => lines[0]!);
    if (lines.length < rooms.length)
      throw new Error(
        `the password file ${JSON.stringify(args.passwordFile)} has ${lines.length} lines for ${rooms.length} rooms (one line per --room, or one for all)`,
      );
    return rooms.map((_, i) => lines[i]!);
  }
  const shared = passwordFromSources({ password: flag });
  if (shared !== undefined) return rooms.map(() => shared);
  if (!interactive)
    throw new Error(`no password: give it as an argument, --password-file or ${PASSWORD_ENV}`);
  return rooms.map(() => undefined);
}

export async function runConnect(args: ConnectArgs): Promise<void> {
  const interactive = process.stdin.isTTY === true;
  if (interactive) warnPipeOnly(args);
  if (typeof args.keepalive !== 'number' || !Number.isFinite(args.keepalive) || args.keepalive < 0)
    fail('--keepalive must be a number of seconds (0 = never)', ExitCode.usage);
  const keepaliveMs = Math.round(args.keepalive * 1000);
  if (args.originalProtocol && args.legacy) {
    fail(
      '--original-protocol and --legacy exclude each other (--legacy joins a legacy room over v2)',
      ExitCode.usage,
    );
  }
  if (args.originalProtocol) process.stderr.write(`cmd-chat: warning: ${ORIGINAL_PROTOCOL_WARNING}\n`);
  const { transport, name, password: positionalPassword } = target(args);
  const roomNames = roomsOf(args);
  let passwords: Array<string | undefined> = [];
  try {
    passwords = passwordsFor(roomNames, args, positionalPassword, interactive);
  } catch (err) {
    fail((err as Error).message, ExitCode.usage);
  }

  let pins: TrustPins;
  try {
    pins = new TrustPins([...TrustPins.entriesOf(process.env[TRUST_ENV]), ...(args.trust ?? []).map(String)]);
  } catch (err) {
    fail((err as Error).message, ExitCode.usage);
  }
  let identitySeed: Buffer | undefined;
  try {
    identitySeed = await identityFromOptions({
      enabled: args.identity,
      label: args.identityLabel ?? name,
      fd: args.identityFd,
      interactive,
    });
  } catch (err) {
    fail(
      (err as Error).message,
      (err as { code?: string }).code === 'interrupted' ? ExitCode.interrupted : ExitCode.usage,
    );
  }

  const attempts = args.reconnectAttempts;
  if (!Number.isInteger(attempts) || attempts < 0) {
    fail(`--reconnect-attempts must be a whole number (0 = never give up), not ${attempts}`, ExitCode.usage);
  }
  const spinner = interactive
    ? await startSpinner(`connecting to ${transport.description}`, args.color)
    : undefined;
  // Load the REPL before joining: no await may separate the join from the UI's listener, or
  // the events that arrive in between would be lost (the session holds them until then).
  const repl = interactive ? await import('../lib/client/repl/repl.js') : undefined;

  /**
   * Opens a session to `room`; without a password it is asked for (hidden) once the daemon
   * has answered, and asked again after a refusal, PASSWORD_TRIES times in all. Rejects with
   * a SessionError.
   */
  const connectRoom = async (
    room: string,
    username: string,
    password: string | undefined,
  ): Promise<ChatSession> => {
    for (let attempt = 1; ; attempt++) {
      const ask = async (): Promise<string> => {
        spinner?.pause();
        try {
          return await promptHidden(`Password for room ${room}: `);
        } catch (err) {
          // Ctrl-C at the prompt: exit at once, as before the daemon was asked anything.
          fail((err as Error).message, ExitCode.interrupted);
        } finally {
          spinner?.resume();
        }
      };
      try {
        return await openSession(room, username, password ?? ask);
      } catch (err) {
        const retry = password === undefined && attempt < PASSWORD_TRIES;
        if (!(retry && err instanceof SessionError && err.code === 'auth_failed')) throw err;
        spinner?.pause();
        process.stderr.write(`cmd-chat: ${err.message}; try again\n`);
      }
    }
  };

  const openSession = (
    room: string,
    username: string,
    password: string | (() => Promise<string>),
  ): Promise<ChatSession> =>
    ChatSession.open({
      transport,
      room,
      password,
      create: args.create,
      legacy: args.legacy,
      original: args.originalProtocol,
      username,
      limits: { keepaliveMs },
      reconnect: args.reconnect ? { maxAttempts: attempts } : false,
      ...(identitySeed ? { identitySeed } : {}),
      trust: pins,
      onStage: (stage) => {
        if (!spinner) return;
        if (stage === 'deriving')
          spinner.setText(roomNames.length > 1 ? `deriving keys for #${room}` : 'deriving keys');
        else if (stage === 'verifying')
          spinner.setText(roomNames.length > 1 ? `joining #${room}` : 'joining');
      },
    });

  /** Opens a session to `room` and joins it; rejects with a SessionError. */
  const openRoom = async (
    room: string,
    password: string | undefined,
    username: string,
    askName: boolean,
  ): Promise<RoomHandle> => {
    const session = await connectRoom(room, username, password);
    let wanted = username;
    for (;;) {
      try {
        return { session, history: await session.join(wanted) };
      } catch (err) {
        const e = err instanceof SessionError ? err : new SessionError('protocol', String(err));
        if ((e.code === 'name_taken' || e.code === 'bad_name') && askName) {
          spinner?.stop();
          const next = await askAnotherName(wanted, e.message);
          if (next !== undefined) {
            wanted = next;
            continue;
          }
        }
        await session.close();
        throw e;
      }
    }
  };

  const handles: RoomHandle[] = [];
  let username = name;
  for (const [i, room] of roomNames.entries()) {
    try {
      const handle = await openRoom(room, passwords[i], username, interactive);
      username = handle.session.me.username;
      handles.push(handle);
    } catch (err) {
      spinner?.stop();
      await Promise.all(handles.map((h) => h.session.close()));
      const e = err instanceof SessionError ? err : new SessionError('protocol', String(err));
      fail(roomNames.length > 1 ? `#${room}: ${e.message}` : e.message, EXIT_FOR[e.code] ?? ExitCode.refused);
    }
  }
  passwords = [];
  spinner?.stop();

  const color = colorEnabled({
    noColorFlag: !args.color,
    env: process.env,
    isTTY: interactive ? process.stdout.isTTY === true : false,
  });
  let interrupted = false;
  if (!interactive) {
    process.once('SIGINT', () => {
      interrupted = true;
      for (const h of handles) void h.session.close();
    });
  }
  // A --follow reader may have nothing to write for long: the end of its reader is watched.
  let readerWatch: ReaderWatch | undefined;
  const readerGone =
    !repl && args.follow
      ? new Promise<void>((resolve) => {
          readerWatch = watchPipeReader(1, resolve);
        })
      : undefined;
  const outcome = repl
    ? await repl.runRepl({
        rooms: handles,
        openRoom: (room, password, as) => openRoom(room, password, as, false),
        input: process.stdin,
        output: process.stdout,
        color,
        daemon: transport.description,
        plain: isDumbTerminal(process.env),
      })
    : await runPipe(handles, {
        readerGone,
        input: process.stdin,
        output: process.stdout,
        errors: process.stderr,
        json: args.json,
        follow: args.follow,
        history: args.history,
        commands: args.commands,
        separator: args.null ? 'nul' : 'newline',
        progress: process.stderr.isTTY === true && !args.follow,
        daemon: transport.description,
      });
  readerWatch?.stop();
  // A --follow reader told of lost messages says so whatever else ended it (0, 6, 7, 130).
  const lost = !repl && args.follow ? handles.reduce((n, h) => n + h.session.messagesLost, 0) : 0;
  const exit = (code: number): Promise<never> =>
    exitDrained(lost > 0 && OUTRANKED_BY_LOSS.has(code as ExitCodeValue) ? ExitCode.messagesLost : code);
  if (lost > 0)
    process.stderr.write(`cmd-chat: ${lost} message${lost === 1 ? ' was' : 's were'} lost while away\n`);
  if (outcome.kind === 'lost') {
    // The REPL has shown the daemon's shutdown as a line of the chat already.
    if (!(repl && outcome.error.code === 'shutdown'))
      process.stderr.write(`cmd-chat: ${outcome.error.message}\n`);
    return exit(EXIT_FOR[outcome.error.code]);
  }
  if (outcome.kind === 'output_closed') {
    // The reader of our stdout has gone (`| head -1`): that is how a pipeline ends, not an error.
    if (outcome.error.code === 'EPIPE') return exit(ExitCode.ok);
    process.stderr.write(`cmd-chat: cannot write to stdout: ${outcome.error.message}\n`);
    return exit(ExitCode.internal);
  }
  if (interrupted && !args.follow) return exit(ExitCode.interrupted);
  const notSent = 'notSent' in outcome ? outcome.notSent : 0;
  const failed = 'failedCommands' in outcome ? outcome.failedCommands : 0;
  const unit = args.null ? 'record' : 'line';
  if (notSent > 0) process.stderr.write(`cmd-chat: ${notSent} ${unit}${notSent === 1 ? '' : 's'} not sent\n`);
  if (failed > 0) {
    process.stderr.write(`cmd-chat: ${failed} command${failed === 1 ? '' : 's'} failed\n`);
    return exit(ExitCode.commandFailed);
  }
  return exit(notSent > 0 ? ExitCode.notSent : ExitCode.ok);
}

/** The exit codes a reported loss of messages replaces (see ExitCode.messagesLost). */
const OUTRANKED_BY_LOSS = new Set<ExitCodeValue>([
  ExitCode.ok,
  ExitCode.connectionLost,
  ExitCode.notSent,
  ExitCode.commandFailed,
  ExitCode.interrupted,
]);

/** connect's options, in the order `connect --help` lists them; yargs and connect-fast.ts read them. */
export const CONNECT_OPTIONS = {
  room: {
    type: 'string',
    array: true,
    default: [DEFAULT_ROOM],
    describe: `room to join; repeat it to join several (at most ${MAX_ROOMS}; Alt+number switches)`,
  },
  password: {
    type: 'string',
    describe: 'the room password (visible in `ps`: prefer the alternatives)',
  },
  'password-file': {
    type: 'string',
    describe: 'read the password from a file: one line per --room in order, or one line for all',
  },
  socket: { type: 'string', describe: 'connect to a daemon on a Unix domain socket' },
  proxy: {
    type: 'string',
    describe: 'connect through SOCKS5, e.g. socks5h://127.0.0.1:9050 (Tor)',
  },
  create: {
    type: 'boolean',
    default: false,
    describe: 'create the room if the daemon runs with --open-rooms',
  },
  legacy: {
    type: 'boolean',
    default: false,
    describe:
      "join a legacy room of a v2 daemon, shared with original clients (weaker: the room key can be guessed offline from the room's traffic); the handshake stays v2",
  },
  'original-protocol': {
    type: 'boolean',
    default: false,
    describe:
      'speak the original cmd-chat protocol (v1), for an original daemon only: nothing is sealed, names and events travel in clear, the room key can be guessed offline',
  },
  identity: {
    type: 'boolean',
    default: false,
    describe: `a long-term identity from a personal passphrase (hidden prompt, --identity-fd or ${IDENTITY_ENV}): the same fingerprint in every session, room and daemon; nothing is stored`,
  },
  'identity-label': {
    type: 'string',
    describe:
      'with --identity: the label mixed into the derivation (default: NAME); the same passphrase and label give the same key',
  },
  'identity-fd': {
    type: 'number',
    describe:
      'with --identity: read the passphrase from this open file descriptor (first line), e.g. 3 with 3<file',
  },
  trust: {
    type: 'string',
    array: true,
    describe: `pin a person: NAME=FINGERPRINT (repeatable; also ${TRUST_ENV}, space-separated). Another key under that name (or a look-alike) is flagged and /msg to it refused`,
  },
  keepalive: {
    type: 'number',
    default: defaultClientLimits.keepaliveMs / 1000,
    describe:
      'seconds of silence from the daemon after which the connection counts as lost (it is pinged after a third of it; 0 = never)',
  },
  reconnect: {
    type: 'boolean',
    default: true,
    describe:
      'reconnect by itself when the connection is lost (--no-reconnect: exit at once, code 6; original-protocol sessions never reconnect)',
  },
  'reconnect-attempts': {
    type: 'number',
    default: 30,
    describe: 'attempts before giving up (exit code 6); 0 = never give up',
  },
  json: {
    type: 'boolean',
    default: false,
    describe: 'pipe mode: print NDJSON events instead of text lines',
  },
  follow: {
    type: 'boolean',
    default: false,
    describe: "pipe mode: print everyone's messages and keep printing after stdin ends",
  },
  history: {
    type: 'boolean',
    default: false,
    describe: "pipe mode: print the room's recent history first",
  },
  commands: {
    type: 'boolean',
    default: false,
    describe:
      'pipe mode: a line starting with / is a command (/me, /msg, /switch, /quit …; //text sends /text). ' +
      'Without it every line is sent as text. A failed command exits 10',
  },
  null: {
    alias: '0',
    type: 'boolean',
    default: false,
    describe:
      'pipe mode: input messages end with a NUL byte, not a newline, so one message may span lines ' +
      "(printf '%s\\0', find -print0, jq -j)",
  },
  color: {
    type: 'boolean',
    default: true,
    describe: 'colours (--no-color or NO_COLOR turn them off)',
  },
} satisfies Record<string, Options>;

/** connect's one positional: HOST PORT NAME [PASSWORD] (or HOST:PORT, or with --socket PATH). */
export const CONNECT_POSITIONAL: PositionalOptions = {
  type: 'string',
  array: true,
  describe: 'HOST PORT NAME [PASSWORD]',
};

export const connectCommand: CommandModule<object, ConnectArgs> = {
  command: 'connect [args..]',
  describe: 'join a room: HOST PORT NAME [PASSWORD] (or HOST:PORT), or --socket PATH NAME [PASSWORD]',
  builder: (y: Argv) =>
    y
      .usage(
        '$0 connect HOST PORT NAME [PASSWORD] [options]\n$0 connect HOST:PORT NAME [PASSWORD] [options]\n' +
          '$0 connect --socket PATH NAME [PASSWORD] [options]\n\n' +
          'On a terminal: an interactive chat (type /help). Otherwise each stdin line is a message, sent as it is ' +
          '(a leading / too: commands only with --commands), and what arrives is printed on stdout; the command ' +
          'exits when stdin ends and every line has been delivered.\n\n' +
          `A password given as an argument shows in \`ps\` and in shell history: prefer ${PASSWORD_ENV}, --password-file ` +
          'or the hidden prompt (on a terminal).',
      )
      .positional('args', CONNECT_POSITIONAL)
      .options(CONNECT_OPTIONS)
      // Examples as an epilogue, one command per line: yargs' example table gives a command at
      // most half the width and would break it mid-command.
      .epilogue(
        'Examples:\n' +
          '  cmd-chat connect 192.168.1.5 3000 alice\n' +
          '      ask the password, then chat\n' +
          '  cmd-chat connect 192.168.1.5 3000 alice --room team --room ops\n' +
          "      two rooms: asks each room's password; Alt+1, Alt+2 switch\n" +
          `  echo "build done" | ${PASSWORD_ENV}=… cmd-chat connect host 3000 ci\n` +
          '      send one line from a script\n' +
          `  printf '%s\\0' "$(git log -1)" | cmd-chat connect host 3000 ci -0\n` +
          '      send a text of several lines as one message (ends at NUL: --null)\n' +
          '  cmd-chat connect host 3000 bot --json --follow < /dev/null\n' +
          `      a bot reading the room as NDJSON (password from ${PASSWORD_ENV})`,
      ) as unknown as Argv<ConnectArgs>,
  handler: runConnect,
};
