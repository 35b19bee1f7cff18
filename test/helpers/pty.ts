/**
 * Drives the interactive client in a real pseudo-terminal (node-pty) for end-to-end tests:
 * spawns the compiled CLI, keeps the raw output, and feeds it to a small screen model that
 * interprets what readline and our REPL write (text, CR/LF, wrapping, scrolling, cursor
 * moves, line/screen erases; SGR and OSC are ignored), so tests assert on what a person
 * would see rather than on bytes. `replRoom` is the fixture of a describe's REPL tests: a real
 * daemon, and REPLs started through it at their prompt, stopped after the suite.
 */
import { after, before } from 'node:test';
import { type IPty, spawn } from '@lydell/node-pty';
import stringWidth from 'string-width';
import { builtCli } from './paths.js';
import { ARRIVAL_MS } from './patience.js';
import {
  type DaemonProcess,
  type JsonReader,
  startDaemonProcess,
  startJsonReader as startSharedJsonReader,
} from './processes.js';

export const COLS = 100;
export const ROWS = 30;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function isOneCluster(s: string): boolean {
  const it = graphemes.segment(s)[Symbol.iterator]();
  return !it.next().done && it.next().done === true;
}

/** A minimal VT100-style screen: enough for readline's output, not a full emulator. */
export class Screen {
  private grid: string[][];
  private x = 0;
  private y = 0;
  private saved: [number, number] = [0, 0];
  private state: 'text' | 'esc' | 'csi' | 'osc' | 'osc-esc' | 'esc-intermediate' = 'text';
  private params = '';

  /** Rows that scrolled off the top (the terminal's scrollback), oldest first. */
  private scrolled: string[] = [];

  /** The cell written last, which the next code point may join (one grapheme cluster). */
  private lastPut: { row: string[]; y: number; x: number; width: number } | undefined;

  /** Rows the text ran past the end of (soft-wrapped): they continue on the next row. */
  private readonly wrappedRows = new WeakSet<string[]>();

  /**
   * `reflow`: resize like tmux, VTE, kitty and most terminals today (soft-wrapped lines are
   * wrapped again to the new width, the cursor keeps its place in its line); otherwise like
   * xterm (rows cut or padded).
   */
  constructor(
    public cols: number,
    public rows: number,
    private readonly reflow = false,
  ) {
    this.grid = Array.from({ length: rows }, () => this.blankRow());
  }

  /**
   * The window is resized. As xterm does it: no reflow; rows are cut or padded to the new
   * width; when there are fewer rows, rows above the cursor go to the scrollback first.
   */
  resize(cols: number, rows: number): void {
    if (this.reflow) {
      this.reflowTo(cols, rows);
      return;
    }
    this.grid = this.grid.map((r) =>
      r.length >= cols ? r.slice(0, cols) : [...r, ...new Array<string>(cols - r.length).fill(' ')],
    );
    this.cols = cols;
    while (this.grid.length > rows) {
      if (this.y > 0) {
        this.scrolled.push(this.grid.shift()!.join('').trimEnd());
        this.y--;
      } else this.grid.pop();
    }
    while (this.grid.length < rows) this.grid.push(this.blankRow());
    this.rows = rows;
    this.clamp();
  }

  /**
   * The reflowing resize: the screen's logical lines (rows joined where the text wrapped)
   * are wrapped again at `cols`; the cursor keeps its offset in its line. Blank rows below
   * the cursor go first when rows are short, then rows from the top go to the scrollback.
   */
  private reflowTo(cols: number, rows: number): void {
    const lines: string[][] = [];
    let cursorLine = 0;
    let cursorOffset = 0;
    let cur: string[] = [];
    this.grid.forEach((row, r) => {
      if (r === this.y) {
        cursorLine = lines.length;
        cursorOffset = cur.length + Math.min(this.x, this.cols);
      }
      if (this.wrappedRows.has(row) && r < this.grid.length - 1) {
        cur.push(...row);
        return;
      }
      const text = [...row];
      while (text.length > 0 && text[text.length - 1] === ' ') text.pop();
      cur.push(...text);
      lines.push(cur);
      cur = [];
    });
    const grid: string[][] = [];
    let cy = 0;
    let cx = 0;
    lines.forEach((line, i) => {
      const chars = [...line];
      if (i === cursorLine) while (chars.length < cursorOffset) chars.push(' ');
      const count = Math.max(1, Math.ceil(chars.length / cols));
      const start = grid.length;
      for (let k = 0; k < count; k++) {
        const row = chars.slice(k * cols, (k + 1) * cols);
        while (row.length < cols) row.push(' ');
        if (k < count - 1) this.wrappedRows.add(row);
        grid.push(row);
      }
      if (i !== cursorLine) return;
      if (cursorOffset > 0 && cursorOffset % cols === 0 && cursorOffset === chars.length) {
        cy = start + cursorOffset / cols - 1;
        cx = cols; // deferred wrap
      } else {
        cy = start + Math.floor(cursorOffset / cols);
        cx = cursorOffset % cols;
      }
    });
    while (grid.length > cy + 1 && grid.length > rows && grid[grid.length - 1]!.every((c) => c === ' '))
      grid.pop();
    while (grid.length > rows) {
      this.scrolled.push(grid.shift()!.join('').trimEnd());
      cy--;
    }
    while (grid.length < rows) grid.push(new Array<string>(cols).fill(' '));
    this.grid = grid;
    this.cols = cols;
    this.rows = rows;
    this.x = cx;
    this.y = cy;
  }

  /** What scrolled off the top, then what is on screen. */
  history(): string[] {
    return [...this.scrolled, ...this.lines()];
  }

  private blankRow(): string[] {
    return new Array<string>(this.cols).fill(' ');
  }

  private lineFeed(): void {
    if (this.y === this.rows - 1) {
      this.scrolled.push(this.grid.shift()!.join('').trimEnd());
      this.grid.push(this.blankRow());
    } else {
      this.y++;
    }
  }

  /**
   * Writes one code point. Like a terminal that draws grapheme clusters: a code point that
   * continues the cluster just written (a ZWJ sequence, a flag, a combining mark) joins its
   * cell, and a cluster string-width counts as wide takes two cells (the second one empty).
   */
  private put(ch: string): void {
    const last = this.lastPut;
    if (last && last.row === this.grid[last.y] && last.y === this.y && last.x + last.width === this.x) {
      const joined = last.row[last.x]! + ch;
      if (isOneCluster(joined)) {
        last.row[last.x] = joined;
        if (stringWidth(joined) > last.width && last.x + 1 < this.cols) {
          last.row[last.x + 1] = '';
          last.width = 2;
          this.x = last.x + 2;
        }
        return;
      }
    }
    const width = Math.max(1, Math.min(2, stringWidth(ch)));
    if (this.x + width > this.cols) {
      // Deferred wrap, as xterm does: the cursor sits past the last column until more text.
      this.wrappedRows.add(this.grid[this.y]!);
      this.x = 0;
      this.lineFeed();
    }
    const row = this.grid[this.y]!;
    row[this.x] = ch;
    if (width === 2) row[this.x + 1] = '';
    this.lastPut = { row, y: this.y, x: this.x, width };
    this.x += width;
  }

  private clamp(): void {
    this.x = Math.max(0, Math.min(this.cols - 1, this.x));
    this.y = Math.max(0, Math.min(this.rows - 1, this.y));
  }

  private eraseInLine(mode: number): void {
    const row = this.grid[this.y]!;
    const x = Math.min(this.x, this.cols - 1);
    const [from, to] = mode === 0 ? [x, this.cols] : mode === 1 ? [0, x + 1] : [0, this.cols];
    for (let i = from; i < to; i++) row[i] = ' ';
    // The end of the row is erased: it no longer runs on to the next one.
    if (mode !== 1) this.wrappedRows.delete(row);
  }

  private eraseInDisplay(mode: number): void {
    if (mode === 2 || mode === 3) {
      this.grid = Array.from({ length: this.rows }, () => this.blankRow());
      return;
    }
    this.eraseInLine(mode);
    if (mode === 0) for (let r = this.y + 1; r < this.rows; r++) this.grid[r] = this.blankRow();
    else for (let r = 0; r < this.y; r++) this.grid[r] = this.blankRow();
  }

  private csi(final: string): void {
    const priv = this.params.startsWith('?');
    const nums = (priv ? this.params.slice(1) : this.params)
      .split(';')
      .map((p) => (p === '' ? 0 : Number(p)));
    const n = Math.max(1, nums[0] ?? 0);
    if (priv) return; // mode switches (?2004h, ?1004h, ?25l …) do not change the picture
    switch (final) {
      case 'A':
        this.y -= n;
        break;
      case 'B':
        this.y += n;
        break;
      case 'C':
        this.x = Math.min(this.x, this.cols - 1) + n;
        break;
      case 'D':
        this.x = Math.min(this.x, this.cols - 1) - n;
        break;
      case 'G':
        this.x = n - 1;
        break;
      case 'H':
      case 'f':
        this.y = n - 1;
        this.x = Math.max(1, nums[1] ?? 0) - 1;
        break;
      case 'J':
        this.eraseInDisplay(nums[0] ?? 0);
        return;
      case 'K':
        this.eraseInLine(nums[0] ?? 0);
        return;
      default:
        return; // SGR (m), window ops (t) and the rest: no effect on the text
    }
    this.clamp();
  }

  feed(data: string): void {
    for (const ch of data) {
      switch (this.state) {
        case 'text':
          if (ch === '\x1b') this.state = 'esc';
          else if (ch === '\r') this.x = 0;
          else if (ch === '\n') this.lineFeed();
          else if (ch === '\b') this.x = Math.max(0, Math.min(this.x, this.cols - 1) - 1);
          else if (ch === '\t') this.x = Math.min(this.cols - 1, (Math.floor(this.x / 8) + 1) * 8);
          else if (ch >= ' ' && ch !== '\x7f') this.put(ch);
          break;
        case 'esc':
          if (ch === '[') {
            this.state = 'csi';
            this.params = '';
          } else if (ch === ']') {
            this.state = 'osc';
          } else if (ch === 'c') {
            this.grid = Array.from({ length: this.rows }, () => this.blankRow());
            this.x = 0;
            this.y = 0;
            this.state = 'text';
          } else if (ch === '7') {
            this.saved = [this.x, this.y];
            this.state = 'text';
          } else if (ch === '8') {
            [this.x, this.y] = this.saved;
            this.state = 'text';
          } else if (ch >= ' ' && ch <= '/') {
            this.state = 'esc-intermediate';
          } else {
            this.state = 'text';
          }
          break;
        case 'esc-intermediate':
          if (ch < ' ' || ch > '/') this.state = 'text';
          break;
        case 'csi':
          if (ch >= '@' && ch <= '~') {
            this.csi(ch);
            this.state = 'text';
          } else {
            this.params += ch;
          }
          break;
        case 'osc':
          if (ch === '\x07') this.state = 'text';
          else if (ch === '\x1b') this.state = 'osc-esc';
          break;
        case 'osc-esc':
          this.state = ch === '\\' ? 'text' : 'osc';
          break;
      }
    }
  }

  /** The screen's rows, trailing spaces trimmed. */
  lines(): string[] {
    return this.grid.map((r) => r.join('').trimEnd());
  }

  text(): string {
    return this.lines().join('\n');
  }

  /** The row the cursor is on. */
  cursorLine(): string {
    return this.grid[this.y]!.join('').trimEnd();
  }
}

export interface PtyClient {
  readonly pty: IPty;
  readonly screen: Screen;
  /** Everything the client wrote to the terminal, escapes included. */
  raw(): string;
  write(data: string): void;
  /** Resizes the terminal (the screen model first, then the pty, which signals the client). */
  resize(cols: number, rows: number): void;
  /** Polls the screen until `predicate` holds; fails with the screen's content on timeout. */
  waitForScreen(predicate: (screen: Screen) => boolean, what: string, timeoutMs?: number): Promise<void>;
  waitForText(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  exitCode(): number | undefined;
  kill(): void;
}

export async function waitFor(
  check: () => boolean,
  describe: () => string,
  timeoutMs = ARRIVAL_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${describe()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Starts `cmd-chat connect 127.0.0.1 PORT NAME ...extra` in a pty (100×30), with the password
 * in CMD_CHAT_PASSWORD and NO_COLOR=1 unless `env` says otherwise.
 */
/**
 * This process's environment for a program in a pty: an xterm without colour and with a clean
 * terminal identity (so the notifier choice does not depend on where tests run), then `extra`.
 */
export function terminalEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const k of ['TMUX', 'STY', 'TERM_PROGRAM', 'VTE_VERSION', 'KITTY_WINDOW_ID']) delete env[k];
  // A person at a terminal, not a CI job: under CI the spinner library never animates.
  delete env['CI'];
  // XTERM_VERSION: the client resizes like xterm (no reflow), as the screen model does.
  return Object.assign(env, { TERM: 'xterm-256color', XTERM_VERSION: 'XTerm(390)', NO_COLOR: '1', ...extra });
}

export interface PtyClientOptions {
  /**
   * The terminal reflows on a resize (screen model and client environment): tmux, VTE,
   * kitty … Otherwise it resizes like xterm, and the client is told so (XTERM_VERSION).
   */
  reflow?: boolean;
  password?: string;
  env?: Record<string, string>;
  extraArgs?: string[];
  cols?: number;
  rows?: number;
}

export function startPtyClient(port: number, name: string, options: PtyClientOptions = {}): PtyClient {
  const env = terminalEnv({ CMD_CHAT_PASSWORD: options.password ?? 'pw', ...options.env });
  if (options.reflow) delete env['XTERM_VERSION'];
  const pty = spawn(
    process.execPath,
    [builtCli, 'connect', '127.0.0.1', String(port), name, ...(options.extraArgs ?? [])],
    { name: env['TERM'] ?? 'xterm-256color', cols: options.cols ?? COLS, rows: options.rows ?? ROWS, env },
  );
  const screen = new Screen(options.cols ?? COLS, options.rows ?? ROWS, options.reflow === true);
  let raw = '';
  let code: number | undefined;
  pty.onData((d) => {
    raw += d;
    screen.feed(d);
  });
  const exited = new Promise<number>((resolve) => {
    pty.onExit((e) => {
      code = e.exitCode;
      resolve(e.exitCode);
    });
  });
  const client: PtyClient = {
    pty,
    screen,
    raw: () => raw,
    write: (data) => pty.write(data),
    resize: (cols, rows) => {
      screen.resize(cols, rows);
      pty.resize(cols, rows);
    },
    waitForScreen: (predicate, what, timeoutMs = ARRIVAL_MS) =>
      waitFor(
        () => predicate(screen),
        () => `${what}; screen:\n${screen.text()}`,
        timeoutMs,
      ),
    waitForText: (text, timeoutMs) =>
      client.waitForScreen((s) => s.text().includes(text), JSON.stringify(text), timeoutMs),
    exited,
    exitCode: () => code,
    kill: () => {
      if (code === undefined) pty.kill();
    },
  };
  return client;
}

export type { JsonReader } from './processes.js';

/** A pipe-mode `--json --follow` member on 127.0.0.1 that records what the room says. */
export function startJsonReader(port: number, name: string, password = 'pw'): Promise<JsonReader> {
  return startSharedJsonReader(['127.0.0.1', String(port), name], { CMD_CHAT_PASSWORD: password });
}

/**
 * `startPtyClient`, then waits for the empty prompt `[room] name>` (up to 20 s: the CLI's
 * start and the handshake's scrypt on a loaded machine).
 */
export async function startPtyClientAtPrompt(
  port: number,
  name: string,
  options: PtyClientOptions = {},
  room = 'chat',
): Promise<PtyClient> {
  const client = startPtyClient(port, name, options);
  try {
    await client.waitForScreen((s) => s.cursorLine() === `[${room}] ${name}>`, `${name}'s prompt`, 20_000);
  } catch (err) {
    client.kill();
    throw err;
  }
  return client;
}

export interface ReplRoomOptions {
  /** The room password (default `pw`). */
  password?: string;
  /** More `serve` arguments after `--password`. */
  daemonArgs?: string[];
  /** Start a `--json --follow` member named `reader` (before alice). */
  reader?: boolean;
  /** Start alice's REPL and wait for its prompt. */
  alice?: boolean;
}

export interface ReplRoom {
  readonly daemon: DaemonProcess;
  /** The `--json --follow` member `reader` (with `reader: true`). */
  readonly reader: JsonReader;
  /** alice's REPL at its prompt (with `alice: true`). */
  readonly alice: PtyClient;
  /** Starts another REPL in the room (the room's password unless `options` say otherwise) at its prompt. */
  join(name: string, options?: PtyClientOptions): Promise<PtyClient>;
}

/**
 * A real daemon for the REPL tests of one `describe` (call it in the describe's body): its
 * `before` starts the daemon, then the reader and alice when asked for; its `after` kills every
 * REPL started through it and stops the reader and the daemon.
 */
export function replRoom(options: ReplRoomOptions = {}): ReplRoom {
  const password = options.password ?? 'pw';
  let daemon: DaemonProcess | undefined;
  let reader: JsonReader | undefined;
  let alice: PtyClient | undefined;
  const ptys: PtyClient[] = [];
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not started (see the replRoom options)`);
    return value;
  };
  const room: ReplRoom = {
    get daemon() {
      return started(daemon, 'the daemon');
    },
    get reader() {
      return started(reader, 'the reader');
    },
    get alice() {
      return started(alice, 'alice');
    },
    join: async (name, ptyOptions = {}) => {
      const port = started(daemon, 'the daemon').port;
      const client = await startPtyClientAtPrompt(port, name, { password, ...ptyOptions });
      ptys.push(client);
      return client;
    },
  };
  before(async () => {
    daemon = await startDaemonProcess(['--password', password, ...(options.daemonArgs ?? [])]);
    if (options.reader) reader = await startJsonReader(daemon.port, 'reader', password);
    if (options.alice) alice = await room.join('alice');
  });
  after(async () => {
    for (const p of ptys) p.kill();
    await reader?.stop();
    await daemon?.stop();
  });
  return room;
}
