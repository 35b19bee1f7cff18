/**
 * Light benchmark clients speaking the wire protocol directly, so that a client process can
 * drive hundreds of connections and the daemon stays the bottleneck:
 * - the v3 SRP handshake with the SRP password derived once per run (no scrypt per
 *   connection), v = g^x cached per room and a small pool of (a, A) pairs, so a handshake
 *   costs the client one modular exponentiation;
 * - members that join and then verify every record (direct records opened, each broadcast
 *   record's member tag checked against the member's own counter) and count the message
 *   frames in it (decrypting the Fernet bodies only where a latency probe needs them); a
 *   broadcast batch, the same bytes for every member, is hashed and opened once per client
 *   process (LightReader): a hundred real clients would each do that on their own CPU, and
 *   paying it a hundred times on one core made the client process the bottleneck;
 * - bare members for the no-crypto relay: same newline framing, no handshake, no records.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import { memberTag, openBatch } from '../../lib/crypto/broadcast.js';
import { ChannelOpener, ChannelSealer } from '../../lib/crypto/channel.js';
import { Fernet } from '../../lib/crypto/fernet.js';
import { channelKeys, roomKeyV2 } from '../../lib/crypto/kdf.js';
import { RECORD_BROADCAST, RECORD_DIRECT, sealDirect } from '../../lib/protocol/records.js';
import { WireDecoder } from '../../lib/protocol/wire-decoder.js';
import { srpMath } from '../helpers/srp-math.js';
import type { BenchSecrets } from './common.js';

const {
  N,
  g,
  k,
  toBig,
  bigToMinimal,
  modPow,
  computeA,
  computeU,
  computeX,
  computeK,
  computeM,
  computeHAMK,
} = srpMath;
const N_BIG = toBig(N);
const K_BIG = toBig(k);
const MESSAGE_TAG = Buffer.from('"type":"message"');
/** The daemon's keepalive ping; a member that does not answer is dropped after --keepalive. */
const PING_TAG = Buffer.from('{"type":"ping"');
const ROOM_KEY_TAG = Buffer.from('{"type":"room_key"');

/** Splits a byte stream into lines (Buffers without the newline); a long line is joined once. */
export class LineSplitter {
  private parts: Buffer[] = [];

  push(chunk: Buffer, onLine: (line: Buffer) => void): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) break;
      if (this.parts.length > 0) {
        this.parts.push(chunk.subarray(start, nl));
        onLine(Buffer.concat(this.parts));
        this.parts = [];
      } else {
        onLine(chunk.subarray(start, nl));
      }
      start = nl + 1;
    }
    if (start < chunk.length) this.parts.push(start === 0 ? chunk : chunk.subarray(start));
  }
}

/** Batches already hashed and opened in this process, by key id and batch counter. */
const batches = new Map<string, { digest: Buffer; plaintext: Buffer }>();

/** A member's verifier of the daemon's stream, sharing the batch work of the process (see above). */
export class LightReader {
  private roomKey: { id: Buffer; key: Buffer } | undefined;

  constructor(
    private readonly opener: ChannelOpener,
    private readonly tagKey: Buffer,
  ) {}

  setRoomKey(id: Buffer, key: Buffer): void {
    this.roomKey = { id, key };
  }

  open(record: Buffer): Buffer {
    if (record[0] === RECORD_DIRECT) return this.opener.openRecord(record.subarray(1));
    if (record[0] !== RECORD_BROADCAST || !this.roomKey) throw new Error('unexpected record');
    const counter = this.opener.skip();
    const batch = record.subarray(17);
    const id = batch.toString('latin1', 0, 16);
    let opened = batches.get(id);
    if (!opened) {
      if (batches.size > 4096) batches.clear();
      opened = {
        digest: createHash('sha256').update(batch).digest(),
        plaintext: openBatch(this.roomKey.key, this.roomKey.id, batch).plaintext,
      };
      batches.set(id, opened);
    }
    if (!timingSafeEqual(memberTag(this.tagKey, counter, opened.digest), record.subarray(1, 17))) {
      throw new Error('bad member tag');
    }
    return opened.plaintext;
  }
}

/** Counts message frames in a record's plaintext (frames never contain this text elsewhere). */
export function countMessages(plaintext: Buffer): number {
  let n = 0;
  let at = plaintext.indexOf(MESSAGE_TAG);
  while (at !== -1) {
    n++;
    at = plaintext.indexOf(MESSAGE_TAG, at + MESSAGE_TAG.length);
  }
  return n;
}

/** Client-side SRP state shared by every connection of one process to one room. */
export class SrpRoomClient {
  private readonly identity: Buffer;
  private readonly srpPassword: Buffer;
  readonly master: Buffer;
  private readonly pool: Array<{ a: Buffer; A: Buffer }> = [];
  private next = 0;
  private cached: { salt: string; x: Buffer; kv: bigint } | undefined;

  constructor(
    readonly room: string,
    secrets: BenchSecrets,
    poolSize = 64,
  ) {
    this.identity = Buffer.from(room, 'utf8');
    this.srpPassword = Buffer.from(secrets.srpPassword, 'base64');
    this.master = Buffer.from(secrets.master, 'base64');
    for (let i = 0; i < poolSize; i++) {
      const a = randomBytes(32);
      this.pool.push({ a, A: computeA(a) });
    }
  }

  /** An (a, A) pair; reused round-robin (the daemon's work does not depend on A being fresh). */
  ephemeral(): { a: Buffer; A: Buffer } {
    const e = this.pool[this.next]!;
    this.next = (this.next + 1) % this.pool.length;
    return e;
  }

  /** M, the expected H_AMK and K from the challenge: one exponentiation per call. */
  proof(a: Buffer, A: Buffer, salt: Buffer, B: Buffer): { M: Buffer; hamk: Buffer; K: Buffer } {
    const saltKey = salt.toString('base64');
    if (this.cached?.salt !== saltKey) {
      const x = computeX(salt, this.identity, this.srpPassword);
      const v = modPow(g, x);
      this.cached = { salt: saltKey, x, kv: (K_BIG * toBig(v)) % N_BIG };
    }
    const { x, kv } = this.cached;
    const u = computeU(A, B);
    let base = (toBig(B) - kv) % N_BIG;
    if (base < 0n) base += N_BIG;
    const S = modPow(bigToMinimal(base), bigToMinimal(toBig(a) + toBig(u) * toBig(x)));
    const K = computeK(S);
    const M = computeM(this.identity, salt, A, B, K);
    return { M, hamk: computeHAMK(A, M, K), K };
  }
}

/** An authenticated connection: socket, channel keys, room key, and bytes already read. */
export interface Authenticated {
  sock: net.Socket;
  userId: string;
  sealer: ChannelSealer;
  reader: LightReader;
  roomKey: Buffer;
  /** The connection's decoder, in records now (it may hold some already). */
  decoder: WireDecoder;
}

export function connect(port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({
      host: '127.0.0.1',
      port,
      noDelay: true,
      ...(localAddress ? { localAddress } : {}),
    });
    sock.once('error', reject);
    sock.once('connect', () => {
      sock.off('error', reject);
      resolve(sock);
    });
  });
}

/** Runs the v3 handshake on a fresh connection. */
export async function authenticate(
  port: number,
  srp: SrpRoomClient,
  localAddress?: string,
): Promise<Authenticated> {
  const sock = await connect(port, localAddress);
  const decoder = new WireDecoder(1 << 16);
  let waiter: (() => void) | undefined;
  let failure: Error | undefined;
  const onData = (chunk: Buffer): void => {
    decoder.push(chunk);
    waiter?.();
  };
  const onEnd = (): void => {
    failure = new Error('daemon closed the connection during the handshake');
    waiter?.();
  };
  sock.on('data', onData);
  sock.on('close', onEnd);
  sock.on('error', onEnd);
  const nextLine = async (): Promise<Record<string, unknown>> => {
    let line = decoder.next();
    while (line === undefined) {
      if (failure) throw failure;
      await new Promise<void>((resolve) => {
        waiter = resolve;
      });
      waiter = undefined;
      line = decoder.next();
    }
    const frame = JSON.parse(line as string) as Record<string, unknown>;
    if (frame.error !== undefined) throw new Error(`daemon refused: ${String(frame.code)}`);
    return frame;
  };
  try {
    const { a, A } = srp.ephemeral();
    sock.write(`${JSON.stringify({ cmd: 'srp_init', v: 3, room: srp.room, A: A.toString('base64') })}\n`);
    const ch = await nextLine();
    const salt = Buffer.from(String(ch.salt), 'base64');
    const B = Buffer.from(String(ch.B), 'base64');
    const { M, hamk, K } = srp.proof(a, A, salt, B);
    sock.write(`${JSON.stringify({ cmd: 'srp_verify', user_id: ch.user_id, M: M.toString('base64') })}\n`);
    const done = await nextLine();
    if (!hamk.equals(Buffer.from(String(done.H_AMK), 'base64'))) throw new Error('bad H_AMK');
    const { c2s, s2c, tag } = channelKeys(K, { v: 3, legacy: false });
    sock.off('data', onData);
    sock.off('close', onEnd);
    sock.off('error', onEnd);
    decoder.startRecords(1 << 26);
    return {
      sock,
      userId: String(ch.user_id),
      sealer: new ChannelSealer(c2s),
      reader: new LightReader(new ChannelOpener(s2c), tag),
      roomKey: roomKeyV2(srp.master, Buffer.from(String(ch.room_salt), 'base64')),
      decoder,
    };
  } catch (err) {
    sock.destroy();
    throw err;
  }
}

/** What the benchmark needs of a room member, secure or bare. */
export interface BenchMember {
  /** Message frames received so far. */
  count: number;
  /** Sends frames (JSON strings) as one record / one write. */
  sendFrames(frames: string[]): void;
  /** Called with each frame's text (only when set: costs a parse per frame). */
  onFrame: ((frame: string) => void) | undefined;
  /** Called after each chunk has been processed. */
  onData: (() => void) | undefined;
  close(): void;
}

/** A joined member of the real daemon: opens every record and counts message frames. */
export class SecureMember implements BenchMember {
  count = 0;
  onFrame: ((frame: string) => void) | undefined;
  onData: (() => void) | undefined;
  readonly fernet: Fernet;
  private joined: (() => void) | undefined;
  private failed: ((err: Error) => void) | undefined;

  /** The client side's port (tells which worker of `serve --workers` serves it). */
  get localPort(): number | undefined {
    return this.auth.sock.localPort;
  }

  private constructor(private readonly auth: Authenticated) {
    this.fernet = new Fernet(auth.roomKey);
    auth.sock.on('data', (chunk: Buffer) => {
      auth.decoder.push(chunk);
      this.drain();
      this.onData?.();
    });
    const lost = (): void => this.failed?.(new Error('daemon closed the connection'));
    auth.sock.on('close', lost);
    auth.sock.on('error', lost);
  }

  static async join(
    port: number,
    srp: SrpRoomClient,
    username: string,
    localAddress?: string,
  ): Promise<SecureMember> {
    const auth = await authenticate(port, srp, localAddress);
    const member = new SecureMember(auth);
    const joined = new Promise<void>((resolve, reject) => {
      member.joined = resolve;
      member.failed = reject;
    });
    member.sendFrames([JSON.stringify({ type: 'join', username })]);
    member.drain();
    await joined;
    member.failed = undefined;
    return member;
  }

  get userId(): string {
    return this.auth.userId;
  }

  /** Stops reading (a member whose backlog the daemon must hold), and reads again. */
  pause(): void {
    this.auth.sock.pause();
  }

  resume(): void {
    this.auth.sock.resume();
  }

  sendFrames(frames: string[]): void {
    const plaintext = frames.length === 1 ? frames[0]! : frames.join('\n');
    this.auth.sock.write(sealDirect(this.auth.sealer, plaintext));
  }

  private drain(): void {
    for (let record = this.auth.decoder.next(); record !== undefined; record = this.auth.decoder.next()) {
      this.onRecord(record as Buffer);
    }
  }

  private onRecord(record: Buffer): void {
    const pt = this.auth.reader.open(record);
    this.count += countMessages(pt);
    if (pt.includes(PING_TAG)) this.answerPings(pt);
    if (pt.includes(ROOM_KEY_TAG)) this.takeRoomKeys(pt);
    if (this.joined || this.onFrame) {
      for (const frame of pt.toString('utf8').split('\n')) {
        if (this.joined && frame.startsWith('{"type":"init"')) {
          const done = this.joined;
          this.joined = undefined;
          done();
        } else if (this.joined && frame.startsWith('{"type":"error"')) {
          this.failed?.(new Error(`join refused: ${frame}`));
        }
        this.onFrame?.(frame);
      }
    }
  }

  /** The room keys handed over in `plaintext`, for the broadcast records that follow. */
  private takeRoomKeys(plaintext: Buffer): void {
    for (const frame of plaintext.toString('utf8').split('\n')) {
      if (!frame.startsWith('{"type":"room_key"')) continue;
      const { id, key } = JSON.parse(frame) as { id: string; key: string };
      this.auth.reader.setRoomKey(Buffer.from(id, 'base64'), Buffer.from(key, 'base64'));
    }
  }

  /** Answers the daemon's keepalive pings in `plaintext`, as a real client does. */
  private answerPings(plaintext: Buffer): void {
    for (const frame of plaintext.toString('utf8').split('\n')) {
      if (!frame.startsWith('{"type":"ping"')) continue;
      const { t } = JSON.parse(frame) as { t: number };
      this.sendFrames([JSON.stringify({ type: 'pong', t })]);
    }
  }

  close(): void {
    this.auth.sock.destroy();
  }
}

/** A member of the bare relay: no handshake, no records; counts message frames in raw bytes. */
export class BareMember implements BenchMember {
  count = 0;
  onFrame: ((frame: string) => void) | undefined;
  onData: (() => void) | undefined;
  private readonly splitter = new LineSplitter();

  private constructor(private readonly sock: net.Socket) {}

  static async join(port: number, username: string): Promise<BareMember> {
    const sock = await connect(port);
    const member = new BareMember(sock);
    await new Promise<void>((resolve, reject) => {
      let joined = false;
      sock.on('data', (chunk: Buffer) => {
        member.splitter.push(chunk, (line) => {
          member.count += countMessages(line);
          if (joined && !member.onFrame) return;
          const frame = line.toString('utf8');
          if (!joined && frame.startsWith('{"type":"init"')) {
            joined = true;
            resolve();
          }
          member.onFrame?.(frame);
        });
        member.onData?.();
      });
      sock.once('close', () => reject(new Error('relay closed the connection')));
      member.sendFrames([JSON.stringify({ type: 'join', username })]);
    });
    return member;
  }

  sendFrames(frames: string[]): void {
    this.sock.write(`${frames.join('\n')}\n`);
  }

  close(): void {
    this.sock.destroy();
  }
}
