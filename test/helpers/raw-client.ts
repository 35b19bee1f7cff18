/**
 * A raw protocol client for security tests: a plain net.Socket that can send arbitrary bytes
 * and lines, authenticate with the real client handshake (lib/protocol/handshake-client.ts),
 * and then speak the v3 records by hand — valid records, records with a flipped bit,
 * replayed or reordered records, or arbitrary plaintext frames inside valid records. It
 * verifies the daemon's stream like the real client (member tags, the room keys it is handed).
 * Everything it receives is kept verbatim (raw bytes, every record, every opened plaintext and
 * every room key), so a test can assert on all of it.
 */
import net from 'node:net';
import { ChannelOpener, ChannelSealer } from '../../lib/crypto/channel.js';
import { sealEnvelope } from '../../lib/crypto/envelope.js';
import { Fernet } from '../../lib/crypto/fernet.js';
import { deriveMaster, passwordRoomSalt } from '../../lib/crypto/kdf.js';
import { parseObject } from '../../lib/protocol/codec.js';
import { clientHandshake, type MasterCache } from '../../lib/protocol/handshake-client.js';
import { DaemonStreamReader, sealDirect } from '../../lib/protocol/records.js';
import { WireDecoder } from '../../lib/protocol/wire-decoder.js';

/**
 * Master keys this process derived, by room and password. A room's SRP salt stays the same
 * (lib/crypto/kdf.ts), so the same scrypt would run again for every raw handshake: 0.1-0.2 s
 * of CPU each, hundreds of them in a run (the name race alone makes 200). The handshake uses
 * such a cache as a reconnecting client does, and derives again whenever the salt differs.
 */
const masters = new Map<string, MasterCache>();

export interface RawConnectOptions {
  port: number;
  host?: string;
  /** Local address to connect from (e.g. 127.0.0.7: another "address" on loopback). */
  localAddress?: string;
}

/**
 * Waits until `check()` is true, polling every `pollMs`; throws with `what` (a function: read
 * only then, for a message that shows the state at the timeout) after `timeoutMs`.
 */
export async function waitFor(
  check: () => boolean,
  what: string | (() => string),
  timeoutMs = 15_000,
  pollMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

export class RawClient {
  /** Every byte received, as latin1 text (lossless), for "never contains X" assertions. */
  rawReceived = '';
  /** Every plaintext opened from a channel record. */
  readonly plaintexts: string[] = [];
  /** Every record received (kind | body), in order. */
  readonly records: Buffer[] = [];
  /** Every room broadcast key handed to this member: id and key, base64. */
  readonly roomKeys: Array<{ id: string; key: string }> = [];
  private readonly decoder = new WireDecoder(1 << 20);
  private waiters: Array<() => void> = [];
  closed = false;
  readonly closedPromise: Promise<void>;
  sealer: ChannelSealer | undefined;
  reader: DaemonStreamReader | undefined;
  fernet: Fernet | undefined;
  userId = '';
  /** Frames sent during the handshake (to replay them). */
  readonly handshakeSent: Array<Record<string, unknown>> = [];
  /** Lines received during the handshake, verbatim. */
  readonly handshakeLines: string[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.rawReceived += chunk.toString('latin1');
      this.decoder.push(chunk);
      this.wake();
    });
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      });
    });
  }

  static connect(options: RawConnectOptions): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({
        host: options.host ?? '127.0.0.1',
        port: options.port,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Writes bytes as they are. */
  write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** Writes one line (a newline is added). */
  sendLine(line: string): void {
    this.write(line + '\n');
  }

  sendJson(frame: unknown): void {
    this.sendLine(JSON.stringify(frame));
  }

  /** The next complete line (before the channel); rejects if the connection closes first or after `timeoutMs`. */
  async nextLine(timeoutMs = 15_000): Promise<string> {
    const unit = await this.nextUnit(timeoutMs);
    if (typeof unit !== 'string') throw new Error('a record arrived where a line was expected');
    return unit;
  }

  /** The next record (kind | body) after the handshake. */
  async nextRecord(timeoutMs = 15_000): Promise<Buffer> {
    const unit = await this.nextUnit(timeoutMs);
    if (typeof unit === 'string') throw new Error('a line arrived where a record was expected');
    this.records.push(unit);
    return unit;
  }

  private async nextUnit(timeoutMs: number): Promise<string | Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const unit = this.decoder.next();
      if (unit !== undefined) return unit;
      if (this.closed) throw new Error('connection closed before a line arrived');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a line');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async nextJson(timeoutMs?: number): Promise<Record<string, unknown>> {
    return parseObject(await this.nextLine(timeoutMs));
  }

  /** Resolves once the daemon has closed the connection (rejects after `timeoutMs`). */
  async waitClosed(timeoutMs = 15_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closedPromise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('the daemon did not close the connection')), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /**
   * Runs the real client handshake over this socket and sets up the channel. With
   * `create`, asks to create the room (open-rooms mode); `beforeVerify` runs between the
   * challenge and sending the proof (to stage races).
   */
  async handshake(
    room: string,
    password: string,
    options: { create?: boolean; legacy?: boolean; beforeVerify?: () => Promise<void> } = {},
  ): Promise<void> {
    let queue: Promise<void> = Promise.resolve();
    const result = await clientHandshake(
      {
        send: (frame) => {
          const f = frame as Record<string, unknown>;
          this.handshakeSent.push(f);
          if (f.cmd === 'srp_verify' && options.beforeVerify) {
            queue = options.beforeVerify().then(() => this.sendJson(frame));
          } else this.sendJson(frame);
        },
        next: async () => {
          const line = await this.nextLine();
          this.handshakeLines.push(line);
          return parseObject(line);
        },
      },
      {
        room,
        password,
        masterCache: cachedMaster(room, password),
        ...(options.create ? { create: true } : {}),
        ...(options.legacy ? { legacy: true } : {}),
      },
    );
    await queue;
    this.userId = result.userId;
    this.sealer = new ChannelSealer(result.c2s);
    this.reader = new DaemonStreamReader(new ChannelOpener(result.s2c), result.tag);
    this.fernet = new Fernet(result.roomKey);
    this.decoder.startRecords(1 << 26);
  }

  /** Seals `plaintext` into a direct record, length prefix included (without sending it). */
  seal(plaintext: string): Buffer {
    if (!this.sealer) throw new Error('no channel yet');
    return sealDirect(this.sealer, plaintext);
  }

  /** Seals one frame (any JSON value or raw text) and sends it. */
  sendFrame(frame: unknown): void {
    this.write(this.seal(typeof frame === 'string' ? frame : JSON.stringify(frame)));
  }

  /** Opens the next record and returns its frames (a record may batch several); room keys are taken, not returned. */
  async nextFrames(timeoutMs?: number): Promise<Array<Record<string, unknown>>> {
    const reader = this.reader;
    if (!reader) throw new Error('no channel yet');
    const plaintext = reader.open(await this.nextRecord(timeoutMs)).toString('utf8');
    this.plaintexts.push(plaintext);
    const frames: Array<Record<string, unknown>> = [];
    for (const f of plaintext.split('\n').map((part) => parseObject(part))) {
      // Taken here like the real client does: the tests see the room's frames.
      if (f.type === 'room_key' && typeof f.id === 'string' && typeof f.key === 'string') {
        this.roomKeys.push({ id: f.id, key: f.key });
        reader.setRoomKey(Buffer.from(f.id, 'base64'), Buffer.from(f.key, 'base64'));
      } else frames.push(f);
    }
    return frames;
  }

  /** Reads frames until one satisfies `match`; returns it. */
  async nextFrameWhere(
    match: (f: Record<string, unknown>) => boolean,
    timeoutMs = 15_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    const pending: Array<Record<string, unknown>> = [];
    for (;;) {
      for (const f of pending.splice(0)) if (match(f)) return f;
      pending.push(...(await this.nextFrames(Math.max(1, deadline - Date.now()))));
    }
  }

  /** Joins the room and waits for `init`; returns the first error frame instead if refused. */
  async join(username: string): Promise<Record<string, unknown>> {
    this.sendFrame({ type: 'join', username });
    return this.nextFrameWhere((f) => f.type === 'init' || f.type === 'error');
  }

  /** Sends a chat message sealed with this client's room key (or another Fernet), optionally lying in `from`. */
  sendMessage(body: string, options: { from?: string; fernet?: Fernet; username?: string } = {}): void {
    const fernet = options.fernet ?? this.fernet;
    if (!fernet) throw new Error('no room key');
    const token = sealEnvelope(fernet, { from: options.from ?? options.username ?? '', kind: 'text', body });
    this.sendFrame({ type: 'message', text: token });
  }

  destroy(): void {
    this.socket.destroy();
    this.sealer?.destroy();
    this.reader?.destroy();
    this.fernet?.destroy();
  }
}

/**
 * Derives ahead the master key a raw handshake with a password room (`serve --room`,
 * `--password`) will need: for a test whose daemon times handshakes with a limit shorter than
 * a scrypt on a loaded machine.
 */
export async function deriveAhead(room: string, password: string): Promise<void> {
  const salt = passwordRoomSalt(room);
  const cache = cachedMaster(room, password);
  if (cache.salt?.equals(salt)) return;
  cache.master = await deriveMaster(password, salt);
  cache.salt = salt;
}

function cachedMaster(room: string, password: string): MasterCache {
  const key = JSON.stringify([room, password]);
  let cache = masters.get(key);
  if (!cache) {
    cache = {};
    masters.set(key, cache);
  }
  return cache;
}

/** Connects and authenticates in one step. */
export async function rawAuthenticated(
  port: number,
  room: string,
  password: string,
  localAddress?: string,
  options: { legacy?: boolean } = {},
): Promise<RawClient> {
  const c = await RawClient.connect({ port, ...(localAddress ? { localAddress } : {}) });
  await c.handshake(room, password, options);
  return c;
}
