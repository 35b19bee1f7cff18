/**
 * Peers that speak the original cmd-chat protocol ("v1"), modelled line by line on the
 * original's client (cmd_chat/client/client.py) and daemon (cmd_chat/server/server.py):
 * - `V1Client` decodes every field the way the original client does, with Python's own
 *   rules (`base64.b64decode` without validation, `Fernet(key)`'s key check, `str(x)[:19]`,
 *   `dict.get` defaults) and fails where it fails: a failed handshake rejects with what the
 *   original would print, and a frame that would raise in its receive loop ends the loop
 *   (the original then shows "Disconnected").
 * - `V1Server` answers like the original daemon: its handshake replies, `session_key` as a
 *   Fernet key base64-encoded once more, ISO 8601 timestamps, `user_left` without a name.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { Fernet } from '../../lib/crypto/fernet.js';
import { roomKeyV1 } from '../../lib/crypto/kdf.js';
import { computeVerifier, SrpClient, SrpServer } from '../../lib/crypto/srp.js';
import { LineDecoder } from '../../lib/protocol/codec.js';
import { legacyTimestamp } from '../../lib/protocol/frames.js';
import { ARRIVAL_MS } from './patience.js';

type Frame = Record<string, unknown>;

/** A Python exception the original would raise: its type and message. */
export class PyError extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message);
  }
}

const isDict = (v: unknown): v is Frame => typeof v === 'object' && v !== null && !Array.isArray(v);

function pyTypeName(v: unknown): string {
  if (v === null) return 'NoneType';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'dict';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'boolean') return 'bool';
  return 'str';
}

/** Python's `key in value` for what JSON can hold. */
function pyIn(key: string, value: unknown): boolean {
  if (isDict(value)) return Object.hasOwn(value, key);
  if (Array.isArray(value)) return value.includes(key);
  if (typeof value === 'string') return value.includes(key);
  throw new PyError('TypeError', `argument of type '${pyTypeName(value)}' is not iterable`);
}

/** Python's `d[key]` on a JSON value. */
function pyIndex(value: unknown, key: string): unknown {
  if (isDict(value)) {
    if (!Object.hasOwn(value, key)) throw new PyError('KeyError', `'${key}'`);
    return value[key];
  }
  throw new PyError('TypeError', `${pyTypeName(value)} indices must be integers or slices, not str`);
}

/** Python's `d.get(key, default)` on a JSON value. */
function pyGet(value: unknown, key: string, fallback: unknown): unknown {
  if (!isDict(value))
    throw new PyError('AttributeError', `'${pyTypeName(value)}' object has no attribute 'get'`);
  return Object.hasOwn(value, key) ? value[key] : fallback;
}

/** Python's truthiness of a JSON value. */
function pyTruthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (isDict(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

/** Python's `str(x)` of a JSON value (what an f-string prints). */
function pyStr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return JSON.stringify(v);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Python's `base64.b64decode(s)` (validate=False, i.e. binascii.a2b_base64 non-strict):
 * characters outside the alphabet are skipped, a complete pad ends the input, and an
 * incomplete last quantum raises binascii.Error.
 */
export function pyB64decode(value: unknown): Buffer {
  let bytes: Buffer;
  if (typeof value === 'string') {
    if (!/^[\0-\x7f]*$/.test(value))
      throw new PyError('ValueError', 'string argument should contain only ASCII characters');
    bytes = Buffer.from(value, 'latin1');
  } else if (Buffer.isBuffer(value)) {
    bytes = value;
  } else {
    throw new PyError(
      'TypeError',
      `argument should be a bytes-like object or ASCII string, not '${pyTypeName(value)}'`,
    );
  }
  const out: number[] = [];
  let quad = 0;
  let pads = 0;
  let left = 0;
  for (const byte of bytes) {
    if (byte === 0x3d) {
      if (quad >= 2 && quad + ++pads >= 4) return Buffer.from(out);
      continue;
    }
    const v = B64.indexOf(String.fromCharCode(byte));
    if (v < 0) continue;
    pads = 0;
    if (quad === 1) out.push(((left << 2) | (v >> 4)) & 0xff);
    else if (quad === 2) out.push(((left << 4) | (v >> 2)) & 0xff);
    else if (quad === 3) out.push(((left << 6) | v) & 0xff);
    left = v & [0x3f, 0x0f, 0x03, 0][quad]!;
    quad = (quad + 1) % 4;
  }
  if (quad === 1)
    throw new PyError(
      'binascii.Error',
      `Invalid base64-encoded string: number of data characters (${Math.floor(out.length / 3) * 4 + 1}) cannot be 1 more than a multiple of 4`,
    );
  if (quad !== 0) throw new PyError('binascii.Error', 'Incorrect padding');
  return Buffer.from(out);
}

/** `cryptography.fernet.Fernet(key)`: the key must be 32 bytes of url-safe base64. */
export function pyFernet(key: Buffer): Fernet {
  const bad = (): PyError =>
    new PyError('ValueError', 'Fernet key must be 32 url-safe base64-encoded bytes.');
  let raw: Buffer;
  try {
    raw = pyB64decode(
      Buffer.from(key.toString('latin1').replaceAll('-', '+').replaceAll('_', '/'), 'latin1'),
    );
  } catch {
    throw bad();
  }
  if (raw.length !== 32) throw bad();
  return new Fernet(raw);
}

/** Python's `json.dumps(obj)`: ", " and ": " separators, non-ASCII escaped. */
function pyJsonDumps(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pyJsonDumps).join(', ')}]`;
  if (isDict(value))
    return `{${Object.entries(value)
      .map(([k, v]) => `${pyJsonDumps(k)}: ${pyJsonDumps(v)}`)
      .join(', ')}}`;
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Python's `json.loads(line.decode())`: strict UTF-8, then JSON. */
function pyJsonLoads(line: Buffer): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(line);
  } catch {
    throw new PyError('UnicodeDecodeError', "'utf-8' codec can't decode the line");
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PyError('json.decoder.JSONDecodeError', (err as Error).message);
  }
}

/** Lines of a socket, as `await reader.readline()` returns them (raw bytes, no newline). */
class Lines {
  private readonly decoder = new LineDecoder(1 << 26);
  private readonly queue: Buffer[] = [];
  private waiter: ((line: Buffer | undefined) => void) | undefined;
  /** Every line received, parsed when it parses (for assertions on what crossed the wire). */
  readonly all: unknown[] = [];
  closed = false;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const line of this.decoder.push(chunk)) {
        const raw = Buffer.from(line, 'utf8');
        try {
          this.all.push(JSON.parse(line));
        } catch {
          this.all.push(line);
        }
        this.deliver(raw);
      }
    });
    socket.on('close', () => {
      this.closed = true;
      this.deliver(undefined);
    });
    socket.on('error', () => {});
  }

  private deliver(line: Buffer | undefined): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter(line);
    else if (line) this.queue.push(line);
  }

  send(frame: Frame): void {
    this.socket.write(`${pyJsonDumps(frame)}\n`);
  }

  /** The next line, or undefined at the end of the stream (Python's empty readline()). */
  readline(timeoutMs = ARRIVAL_MS): Promise<Buffer | undefined> {
    const line = this.queue.shift();
    if (line) return Promise.resolve(line);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error('v1 peer: no line in time'));
      }, timeoutMs);
      this.waiter = (l) => {
        clearTimeout(timer);
        resolve(l);
      };
    });
  }
}

/** A message as the original client keeps it (the dict from the wire, `text` decrypted). */
type ShownMessage = unknown;

/**
 * An original client. `connect()` runs its `srp_authenticate()` and resolves once the first
 * `init` is on its screen; then its receive loop runs until the connection ends or a frame
 * makes it raise (`failure`).
 */
export class V1Client {
  messages: ShownMessage[] = [];
  users: unknown[] = [];
  connected = false;
  /** What the last render printed: the "Online:" line, then one line per shown message. */
  screen: string[] = [];
  /** The exception that ended the receive loop, if one did. */
  failure: PyError | undefined;
  /** The last `init` frame received. */
  init: Frame = {};
  private readonly changed = new Set<() => void>();
  private loopDone = false;

  private constructor(
    readonly lines: Lines,
    readonly username: string,
    readonly roomFernet: Fernet,
    readonly userId: unknown,
    readonly verifyReply: Frame,
  ) {}

  /**
   * Connects and authenticates as the original client does; rejects with a PyError whose
   * message is the daemon's error text or the exception the original would raise.
   */
  static async connect(port: number, username: string, password: string): Promise<V1Client> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const lines = new Lines(socket);
    try {
      const client = await V1Client.authenticate(lines, username, password);
      void client.receiveLoop();
      await client.until(() => client.connected, 'init');
      return client;
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  private static async recvJson(lines: Lines): Promise<unknown> {
    const line = await lines.readline();
    if (!line) throw new PyError('ConnectionError', 'Connection closed');
    return pyJsonLoads(line);
  }

  private static async authenticate(lines: Lines, username: string, password: string): Promise<V1Client> {
    const usr = new SrpClient('chat', password);
    lines.send({ cmd: 'srp_init', username, A: usr.A.toString('base64') });
    const initData = await V1Client.recvJson(lines);
    if (pyIn('error', initData)) throw new PyError('ValueError', pyStr(pyIndex(initData, 'error')));
    const userId = pyIndex(initData, 'user_id');
    const B = pyB64decode(pyIndex(initData, 'B'));
    const salt = pyB64decode(pyIndex(initData, 'salt'));
    const roomSalt = pyB64decode(pyIndex(initData, 'room_salt'));
    const roomFernet = new Fernet(roomKeyV1(password, roomSalt));
    let M: Buffer | undefined;
    try {
      M = usr.processChallenge(salt, B);
    } catch {
      M = undefined; // pysrp returns None for an invalid B
    }
    if (M === undefined) throw new PyError('ValueError', 'SRP challenge processing failed');
    lines.send({ cmd: 'srp_verify', user_id: userId, M: M.toString('base64') });
    const verifyData = await V1Client.recvJson(lines);
    if (pyIn('error', verifyData)) throw new PyError('ValueError', pyStr(pyIndex(verifyData, 'error')));
    const hamk = pyB64decode(pyIndex(verifyData, 'H_AMK'));
    usr.verifySession(hamk);
    if (!usr.authenticated) throw new PyError('ValueError', 'Server authentication failed');
    const sessionKey = pyB64decode(pyIndex(verifyData, 'session_key'));
    pyFernet(sessionKey); // self.fernet: built, never used
    if (typeof userId !== 'string')
      throw new PyError('TypeError', `'${pyTypeName(userId)}' object is not subscriptable`);
    return new V1Client(lines, username, roomFernet, userId, verifyData as Frame);
  }

  private decryptMessage(msg: unknown): unknown {
    if (!pyIn('text', msg)) return msg;
    if (!isDict(msg)) throw new PyError('TypeError', 'indices must be integers or slices, not str');
    if (pyTruthy(msg.text)) {
      let shown: string;
      try {
        if (typeof msg.text !== 'string') throw new Error('no encode()');
        shown = new TextDecoder('utf-8', { fatal: true }).decode(this.roomFernet.decrypt(msg.text));
      } catch {
        shown = '[decrypt failed]';
      }
      msg.text = shown;
    }
    return msg;
  }

  private render(): void {
    const names = this.users.map((u) => {
      const name = pyGet(u, 'username', '?');
      if (typeof name !== 'string')
        throw new PyError('TypeError', `sequence item: expected str instance, ${pyTypeName(name)} found`);
      return name;
    });
    const screen = [`Online: ${names.join(', ') || 'none'}`];
    for (const msg of this.messages.slice(-15)) {
      const username = pyStr(pyGet(msg, 'username', 'unknown'));
      const text = pyStr(pyGet(msg, 'text', ''));
      const timestamp = Array.from(pyStr(pyGet(msg, 'timestamp', '')))
        .slice(0, 19)
        .join('')
        .replaceAll('T', ' ');
      screen.push(`${timestamp} ${username}: ${text}`);
    }
    this.screen = screen;
  }

  private handle(data: unknown): void {
    const type = pyGet(data, 'type', '');
    if (type === 'init') {
      const messages = pyGet(data, 'messages', []);
      if (!Array.isArray(messages))
        throw new PyError('TypeError', `'${pyTypeName(messages)}' object is not iterable`);
      this.messages = messages.map((m) => this.decryptMessage(m));
      const users = pyGet(data, 'users', []);
      this.users = Array.isArray(users) ? users : [];
      if (!Array.isArray(users))
        throw new PyError('TypeError', `'${pyTypeName(users)}' object is not iterable`);
      this.init = data as Frame;
      this.connected = true;
      this.render();
    } else if (type === 'message') {
      this.messages.push(this.decryptMessage(pyGet(data, 'data', {})));
      this.render();
    } else if (type === 'user_joined') {
      this.users.push({ user_id: pyGet(data, 'user_id', null), username: pyGet(data, 'username', null) });
      this.render();
    } else if (type === 'user_left') {
      const left = pyGet(data, 'user_id', null);
      this.users = this.users.filter((u) => !pyEqual(pyGet(u, 'user_id', null), left));
      this.render();
    } else if (type === 'cleared') {
      this.messages = [];
      this.render();
    }
  }

  private async receiveLoop(): Promise<void> {
    try {
      for (;;) {
        const line = await this.lines.readline(3_600_000);
        if (!line) break;
        this.handle(pyJsonLoads(line));
        this.notify();
      }
    } catch (err) {
      this.failure = err instanceof PyError ? err : new PyError('Exception', String(err));
      this.connected = false;
    }
    this.loopDone = true;
    this.notify();
  }

  private notify(): void {
    for (const f of [...this.changed]) f();
  }

  /** Resolves when `pred` holds; rejects if the receive loop ends first or after `timeoutMs`. */
  until(pred: () => boolean, what: string, timeoutMs = ARRIVAL_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (pred()) done(undefined);
        else if (this.loopDone)
          done(
            new Error(
              `v1 client ended (${this.failure ? `${this.failure.pyType}: ${this.failure.message}` : 'Disconnected'}) before ${what}`,
            ),
          );
      };
      const timer = setTimeout(() => done(new Error(`v1 client: no ${what} in time`)), timeoutMs);
      const done = (err: Error | undefined): void => {
        clearTimeout(timer);
        this.changed.delete(check);
        if (err) reject(err);
        else resolve();
      };
      this.changed.add(check);
      check();
    });
  }

  /** What the original client's input loop sends for a typed line. */
  say(text: string): void {
    this.lines.send({ type: 'message', text: this.roomFernet.encrypt(text) });
  }

  /**
   * A `clear` frame. The original client has no command for it; its daemon accepts it, so
   * the frame is sent raw here.
   */
  clear(): void {
    this.lines.send({ type: 'clear' });
  }

  /** Waits until a message with this (decrypted) text is shown; returns the line printed for it. */
  async waitForText(text: string): Promise<string> {
    let found: string | undefined;
    await this.until(
      () => {
        found = this.screen.find((l) => l.endsWith(`: ${text}`));
        return found !== undefined;
      },
      `message ${JSON.stringify(text)}`,
    );
    return found!;
  }

  /** The names on the "Online:" line. */
  onlineNames(): string[] {
    return this.users.map((u) => String(pyGet(u, 'username', '?')));
  }

  close(): void {
    this.lines.socket.end();
  }
}

function pyEqual(a: unknown, b: unknown): boolean {
  return a === b || (a === null && b === undefined) || (a === undefined && b === null);
}

/** Newline-delimited JSON over a socket, one queue of parsed objects (the daemon's side). */
class JsonLines {
  private readonly decoder = new LineDecoder(1 << 24);
  private readonly queue: Frame[] = [];
  private waiters: Array<{ resolve: (f: Frame) => void; reject: (e: Error) => void }> = [];
  readonly all: Frame[] = [];
  closed = false;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const line of this.decoder.push(chunk)) {
        const frame = JSON.parse(line) as Frame;
        this.all.push(frame);
        const waiter = this.waiters.shift();
        if (waiter) waiter.resolve(frame);
        else this.queue.push(frame);
      }
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error('v1 peer: connection closed'));
    });
    socket.on('error', () => {});
  }

  send(frame: Frame): void {
    this.socket.write(`${JSON.stringify(frame)}\n`);
  }

  next(timeoutMs = ARRIVAL_MS): Promise<Frame> {
    const frame = this.queue.shift();
    if (frame) return Promise.resolve(frame);
    if (this.closed) return Promise.reject(new Error('v1 peer: connection closed'));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (f: Frame): void => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e: Error): void => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error('v1 peer: no frame in time'));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Waits for a frame matching `pred`, skipping others (they stay recorded in `all`). */
  async waitFor(pred: (f: Frame) => boolean, timeoutMs = ARRIVAL_MS): Promise<Frame> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const f = await this.next(Math.max(1, end - Date.now()));
      if (pred(f)) return f;
    }
  }
}

const b64 = (b: Buffer): string => b.toString('base64');
const unb64 = (s: unknown): Buffer => Buffer.from(String(s), 'base64');

/** Raw: sends a v1 srp_init and returns the daemon's first answer. */
export async function v1Probe(port: number): Promise<Frame> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const lines = new JsonLines(socket);
  const srp = new SrpClient('chat', 'whatever');
  lines.send({ cmd: 'srp_init', username: 'old', A: b64(srp.A) });
  const answer = await lines.next();
  socket.destroy();
  return answer;
}

interface V1Member {
  userId: string;
  username: string;
  lines: JsonLines;
}

/**
 * An original-style daemon with one room. `strictUsername`: answer an srp_init without a
 * username with an error (as a server indexing the field would), else carry on without one.
 */
export class V1Server {
  private readonly server: net.Server;
  private readonly salt = randomBytes(4);
  private readonly roomSalt = randomBytes(16);
  private readonly verifier: Buffer;
  private readonly members = new Map<string, V1Member>();
  readonly history: Frame[] = [];
  /** Every srp_init received (to check what clients reveal before authenticating). */
  readonly inits: Frame[] = [];
  port = 0;

  constructor(
    password: string,
    private readonly strictUsername = true,
  ) {
    this.verifier = computeVerifier('chat', password, this.salt);
    this.server = net.createServer((socket) => void this.serve(socket));
  }

  async start(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  async stop(): Promise<void> {
    for (const m of this.members.values()) m.lines.socket.destroy();
    this.server.close();
    await once(this.server, 'close');
  }

  private broadcast(frame: Frame): void {
    for (const m of this.members.values()) m.lines.send(frame);
  }

  private async serve(socket: net.Socket): Promise<void> {
    const lines = new JsonLines(socket);
    try {
      const init = await lines.next();
      this.inits.push(init);
      if (init.cmd !== 'srp_init') return void socket.destroy();
      if (typeof init.username !== 'string') {
        if (this.strictUsername) {
          lines.send({ error: "'username'" });
          socket.end();
          return;
        }
      }
      const username = typeof init.username === 'string' ? init.username : 'anonymous';
      if ([...this.members.values()].some((m) => m.username === username)) {
        lines.send({ error: 'Username taken' });
        socket.end();
        return;
      }
      const srp = new SrpServer({
        identity: 'chat',
        salt: this.salt,
        verifier: this.verifier,
        A: unb64(init.A),
      });
      const userId = randomUUID();
      lines.send({ user_id: userId, B: b64(srp.B), salt: b64(this.salt), room_salt: b64(this.roomSalt) });
      const verify = await lines.next();
      const hamk = srp.verify(unb64(verify.M));
      if (!hamk) {
        lines.send({ error: 'Authentication failed' });
        socket.end();
        return;
      }
      // The original sends its Fernet key (from the SRP session key) in clear, base64-encoded
      // once more; clients must ignore it.
      const fernetKey = srp.sessionKey.subarray(0, 32).toString('base64url') + '=';
      lines.send({ H_AMK: b64(hamk), session_key: Buffer.from(fernetKey, 'latin1').toString('base64') });
      const users = [...this.members.values()].map((m) => ({ user_id: m.userId, username: m.username }));
      users.push({ user_id: userId, username });
      lines.send({ type: 'init', messages: this.history, users });
      this.broadcast({ type: 'user_joined', user_id: userId, username });
      this.members.set(userId, { userId, username, lines });
      socket.on('close', () => {
        this.members.delete(userId);
        this.broadcast({ type: 'user_left', user_id: userId });
      });
      for (;;) {
        const frame = await lines.next(600_000);
        if (frame.type === 'message') {
          const data = {
            id: randomUUID(),
            text: frame.text,
            timestamp: legacyTimestamp(Date.now()),
            user_ip: socket.remoteAddress ?? '',
            username,
          };
          this.history.push(data);
          this.broadcast({ type: 'message', data });
        } else if (frame.type === 'clear') {
          this.history.length = 0;
          this.broadcast({ type: 'cleared' });
        }
      }
    } catch {
      socket.destroy();
    }
  }
}
