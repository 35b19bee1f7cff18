/**
 * Peers that speak the original cmd-chat protocol ("v1"), written from the protocol
 * description (../shared/brief/PROTOCOL.md, "What the original does") and the vectors: SRP
 * with identity `chat`, the bare password and a 4-byte salt; `session_key` in the verify
 * reply; plaintext frames after it; bare Fernet text bodies keyed by HKDF of the password.
 * A client to drive our daemon in legacy mode, and a one-room server for our client.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { Fernet } from '../../lib/crypto/fernet.js';
import { roomKeyV1 } from '../../lib/crypto/kdf.js';
import { computeVerifier, SrpClient, SrpServer } from '../../lib/crypto/srp.js';
import { LineDecoder } from '../../lib/protocol/codec.js';

type Frame = Record<string, unknown>;

/** Newline-delimited JSON over a socket, one queue of parsed objects. */
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

  next(timeoutMs = 10_000): Promise<Frame> {
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
  async waitFor(pred: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const f = await this.next(Math.max(1, end - Date.now()));
      if (pred(f)) return f;
    }
  }
}

const b64 = (b: Buffer): string => b.toString('base64');
const unb64 = (s: unknown): Buffer => Buffer.from(String(s), 'base64');

/** An original client: authenticates, then talks plaintext JSON. */
export class V1Client {
  private constructor(
    readonly lines: JsonLines,
    readonly fernet: Fernet,
    readonly verifyReply: Frame,
    readonly init: Frame,
  ) {}

  /** Connects and authenticates; rejects with the daemon's error frame text. */
  static async connect(port: number, username: string, password: string): Promise<V1Client> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const lines = new JsonLines(socket);
    const srp = new SrpClient('chat', password);
    lines.send({ cmd: 'srp_init', username, A: b64(srp.A) });
    const challenge = await lines.next();
    if (challenge.error !== undefined)
      throw Object.assign(new Error(String(challenge.error)), { frame: challenge });
    const M = srp.processChallenge(unb64(challenge.salt), unb64(challenge.B));
    lines.send({ cmd: 'srp_verify', user_id: challenge.user_id, M: b64(M) });
    const verified = await lines.next();
    if (verified.error !== undefined)
      throw Object.assign(new Error(String(verified.error)), { frame: verified });
    if (!srp.verifySession(unb64(verified.H_AMK))) throw new Error('bad H_AMK');
    const init = await lines.next();
    if (init.error !== undefined) throw Object.assign(new Error(String(init.error)), { frame: init });
    const fernet = new Fernet(roomKeyV1(password, unb64(challenge.room_salt)));
    return new V1Client(lines, fernet, verified, init);
  }

  say(text: string): void {
    this.lines.send({ type: 'message', text: this.fernet.encrypt(text) });
  }

  clear(): void {
    this.lines.send({ type: 'clear' });
  }

  /** Waits for a message whose decrypted text is `text`; returns its data. */
  async waitForText(text: string): Promise<Frame> {
    const frame = await this.lines.waitFor(
      (f) => f.type === 'message' && this.decrypt((f.data as Frame).text) === text,
    );
    return frame.data as Frame;
  }

  decrypt(token: unknown): string | undefined {
    try {
      return this.fernet.decryptText(String(token));
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.lines.socket.end();
  }
}

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
      // The original sends the session key in clear; clients must ignore it.
      lines.send({ H_AMK: b64(hamk), session_key: b64(srp.sessionKey) });
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
            timestamp: new Date().toISOString(),
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
