/**
 * Fuzz targets shared by the bounded test (fuzz.test.ts) and the long runner (run-long.ts).
 * Each target takes a seed and a time budget, runs random cases from a seeded PRNG until the
 * budget is spent, and throws a FuzzFailure naming the seed and the case on the first
 * violated property. Same seed, same cases (up to how many fit in the budget).
 */
import { randomBytes } from 'node:crypto';
import type { ChatEvent } from '../../lib/client/events.js';
import { BroadcastKey, batchDigest } from '../../lib/crypto/broadcast.js';
import { ChannelError, ChannelOpener, ChannelSealer } from '../../lib/crypto/channel.js';
import { computeVerifier, modPowBigInt } from '../../lib/crypto/srp.js';
import { LineDecoder, parseObject } from '../../lib/protocol/codec.js';
import { ProtocolError } from '../../lib/protocol/errors.js';
import { readClientFrame, readServerFrame, readSrpChallenge } from '../../lib/protocol/frames.js';
import {
  type RoomCredentials,
  type RoomDirectory,
  ServerHandshake,
} from '../../lib/protocol/handshake-server.js';
import { DaemonStreamReader, MemberStream } from '../../lib/protocol/records.js';
import { joinAs, startDaemon } from '../helpers/daemon.js';
import { RawClient, waitFor } from '../helpers/raw-client.js';

export const DEFAULT_SEED = 0x5eed_c0de;

export class FuzzFailure extends Error {
  constructor(target: string, seed: number, iteration: number, detail: string) {
    super(`fuzz target "${target}" failed with seed ${seed} (iteration ${iteration}): ${detail}`);
    this.name = 'FuzzFailure';
  }
}

/** mulberry32: small, fast, good enough to drive a fuzzer reproducibly. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const SPECIAL_STRINGS = ['', '\n', '\u0000', '\u001b[2J', '\u202e', '\ud800', 'é', '💥', '=', '==', '/', '+'];
const SPECIAL_VALUES: unknown[] = [null, true, false, 0, -1, 1e308, -0, 2 ** 53, 'x', [], {}, [1], { a: 1 }];

function randomString(rng: Rng, max: number): string {
  let s = '';
  const n = rng.int(max + 1);
  for (let i = 0; i < n; i++) {
    const r = rng.next();
    if (r < 0.6) s += String.fromCharCode(0x20 + rng.int(95));
    else if (r < 0.8) s += rng.pick(SPECIAL_STRINGS);
    else s += String.fromCharCode(rng.int(0x10000));
  }
  return s;
}

function randomValue(rng: Rng, depth = 0): unknown {
  const r = rng.int(depth > 2 ? 4 : 7);
  switch (r) {
    case 0:
      return rng.pick(SPECIAL_VALUES);
    case 1:
      return randomString(rng, 40);
    case 2:
      return rng.next() * 1e6 - 5e5;
    case 3:
      return rng.bytes(rng.int(300)).toString('base64');
    case 4:
      return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(5); i > 0; i--) o[randomString(rng, 8)] = randomValue(rng, depth + 1);
      return o;
    }
  }
}

/** Mutates an object: drop, retype or add fields, or replace it. */
function mutateObject(rng: Rng, base: Record<string, unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = { ...base };
  const keys = Object.keys(o);
  for (let i = 1 + rng.int(3); i > 0; i--) {
    const r = rng.int(5);
    const key = keys.length > 0 ? rng.pick(keys) : 'x';
    if (r === 0) delete o[key];
    else if (r === 1) o[key] = randomValue(rng);
    else if (r === 2) o[randomString(rng, 6)] = randomValue(rng);
    else if (r === 3 && typeof o[key] === 'string') o[key] = mutateText(rng, o[key] as string);
    else o[key] = rng.pick(SPECIAL_VALUES);
  }
  return o;
}

/** Mutates a string: flip, insert, delete, truncate or duplicate characters. */
export function mutateText(rng: Rng, text: string): string {
  let s = text;
  for (let i = 1 + rng.int(3); i > 0; i--) {
    const at = s.length === 0 ? 0 : rng.int(s.length);
    switch (rng.int(6)) {
      case 0:
        s = s.slice(0, at) + String.fromCharCode(s.charCodeAt(at) ^ (1 << rng.int(7))) + s.slice(at + 1);
        break;
      case 1:
        s = s.slice(0, at) + randomString(rng, 3) + s.slice(at);
        break;
      case 2:
        s = s.slice(0, at) + s.slice(at + 1 + rng.int(4));
        break;
      case 3:
        s = s.slice(0, at);
        break;
      case 4:
        s = s + s.slice(at);
        break;
      default:
        s = s.slice(0, at) + rng.pick(['=', '/', '+', 'A', '\n', ' ']) + s.slice(at + 1);
    }
  }
  return s;
}

function expectOnly(
  target: string,
  seed: number,
  i: number,
  fn: () => void,
  allowed: (err: unknown) => boolean,
  what: () => string,
): void {
  try {
    fn();
  } catch (err) {
    if (!allowed(err)) {
      throw new FuzzFailure(target, seed, i, `unexpected ${String(err)} on ${what()}`);
    }
  }
}

// ---- (1) The line decoder ----

export function fuzzLineDecoder(seed: number, budgetMs: number): number {
  const rng = new Rng(seed);
  const deadline = Date.now() + budgetMs;
  let i = 0;
  for (; Date.now() < deadline; i++) {
    const limit = 1 + rng.int(200);
    const decoder = new LineDecoder(limit);
    // Valid input: lines within the limit, no newline inside.
    const lines = Array.from({ length: rng.int(20) }, () =>
      Buffer.from(randomString(rng, 60).replace(/\n/g, ' '), 'utf8').subarray(0, limit).toString('latin1'),
    );
    const bytes = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'latin1');
    const out: string[] = [];
    let at = 0;
    while (at < bytes.length) {
      const n = 1 + rng.int(Math.max(1, bytes.length - at));
      const chunk = bytes.subarray(at, at + n);
      at += n;
      let got: string[] = [];
      expectOnly(
        'line-decoder',
        seed,
        i,
        () => {
          got = decoder.push(chunk);
        },
        () => false,
        () => `valid input ${JSON.stringify(lines)}`,
      );
      out.push(...got);
    }
    const expected = lines.map((l) => Buffer.from(l, 'latin1').toString('utf8'));
    if (JSON.stringify(out) !== JSON.stringify(expected)) {
      throw new FuzzFailure('line-decoder', seed, i, `reassembly differs for ${JSON.stringify(lines)}`);
    }
    if (decoder.pendingBytes !== 0) throw new FuzzFailure('line-decoder', seed, i, 'bytes left over');
    // Random input: only ProtocolError('too_large'), never a line over the limit.
    const wild = new LineDecoder(limit);
    for (let k = rng.int(10); k > 0; k--) {
      const chunk = rng.chance(0.5) ? rng.bytes(rng.int(300)) : Buffer.from(randomString(rng, 300), 'utf8');
      let got: string[] = [];
      expectOnly(
        'line-decoder',
        seed,
        i,
        () => {
          got = wild.push(chunk);
        },
        (err) => err instanceof ProtocolError && err.code === 'too_large',
        () => `random chunk ${chunk.toString('hex').slice(0, 80)}`,
      );
      for (const line of got) {
        // A decoded line has at most one UTF-16 unit per byte it came from.
        if (line.length > limit) {
          throw new FuzzFailure(
            'line-decoder',
            seed,
            i,
            `a line of ${line.length} chars over limit ${limit}`,
          );
        }
      }
      if (wild.pendingBytes > limit)
        throw new FuzzFailure('line-decoder', seed, i, 'holds more than the limit');
    }
  }
  return i;
}

// ---- (2) The server handshake state machine ----

let cachedCreds: RoomCredentials | undefined;
function stubDirectory(): RoomDirectory {
  if (!cachedCreds) {
    const salt = randomBytes(16);
    cachedCreds = {
      identity: Buffer.from('chat'),
      salt,
      verifier: computeVerifier('chat', 'pw', salt),
      roomSalt: randomBytes(16),
    };
  }
  const creds = cachedCreds;
  return {
    find: (room) => (room === 'chat' ? creds : undefined),
    decoy: (room) => ({ ...creds, identity: Buffer.from(room) }),
    mayCreate: (room) => room === 'open',
    legacyRoom: () => undefined,
  };
}

const A_VALID = modPowBigInt(Buffer.from([2]), Buffer.alloc(32, 3)).toString('base64');

export function fuzzServerHandshake(seed: number, budgetMs: number): number {
  const rng = new Rng(seed);
  const dir = stubDirectory();
  const deadline = Date.now() + budgetMs;
  let i = 0;
  for (; Date.now() < deadline; i++) {
    const hs = new ServerHandshake(dir);
    const init: Record<string, unknown> = {
      cmd: 'srp_init',
      v: 3,
      room: rng.pick(['chat', 'open', 'zz']),
      A: A_VALID,
    };
    if (rng.chance(0.2)) {
      init.create = {
        salt: rng.bytes(16).toString('base64'),
        verifier: rng.bytes(1 + rng.int(256)).toString('base64'),
      };
    }
    const frames: Array<Record<string, unknown>> = [rng.chance(0.3) ? init : mutateObject(rng, init)];
    let userId = 'x';
    for (let k = rng.int(3); k > 0; k--) {
      const verify = { cmd: 'srp_verify', user_id: userId, M: rng.bytes(32).toString('base64') };
      frames.push(rng.chance(0.4) ? verify : mutateObject(rng, verify));
    }
    for (const frame of frames) {
      let stop = false;
      expectOnly(
        'server-handshake',
        seed,
        i,
        () => {
          try {
            const { reply, result } = hs.handle(frame);
            const r = reply as Record<string, unknown>;
            if (typeof r.user_id === 'string') userId = r.user_id;
            if (result) throw new Error('a random proof was accepted');
          } catch (err) {
            stop = true;
            throw err;
          }
        },
        (err) => err instanceof ProtocolError,
        () => JSON.stringify(frame).slice(0, 300),
      );
      if (stop) break;
    }
    hs.destroy();
  }
  return i;
}

// ---- (3) Frame readers ----

const CLIENT_FRAMES: Array<Record<string, unknown>> = [
  { type: 'join', username: 'alice' },
  { type: 'message', text: 'gAAAAA' },
  { type: 'clear' },
  { type: 'nick', username: 'bob' },
  { type: 'ping', t: 1 },
];
const SERVER_FRAMES: Array<Record<string, unknown>> = [
  {
    type: 'init',
    you: { user_id: 'u', username: 'a' },
    room: 'chat',
    messages: [{ id: '1', text: 't', timestamp: 1, user_id: 'u', username: 'a' }],
    users: [{ user_id: 'u', username: 'a' }],
  },
  { type: 'message', data: { id: '1', text: 't', timestamp: 1, user_id: 'u', username: 'a' } },
  { type: 'cleared', by: 'a' },
  { type: 'user_renamed', user_id: 'u', old: 'a', new: 'b' },
  { type: 'pong', t: 1 },
  { type: 'user_joined', user_id: 'u', username: 'a' },
  { type: 'user_left', user_id: 'u', username: 'a' },
  { type: 'error', code: 'bad_name', message: 'm' },
  { type: 'shutdown' },
  { v: 3, user_id: 'u', B: 'AQ==', salt: 'AAAAAA==', room_salt: 'AAAAAA==' },
];

export function fuzzFrameReaders(seed: number, budgetMs: number): number {
  const rng = new Rng(seed);
  const deadline = Date.now() + budgetMs;
  let i = 0;
  for (; Date.now() < deadline; i++) {
    const useClient = rng.chance(0.5);
    const base = rng.pick(useClient ? CLIENT_FRAMES : SERVER_FRAMES);
    const frame = mutateObject(rng, base);
    // Also through the text layer: a mutated serialisation must parse or fail cleanly.
    const text = mutateText(rng, JSON.stringify(frame));
    let parsed: Record<string, unknown> | undefined;
    expectOnly(
      'frame-readers',
      seed,
      i,
      () => {
        parsed = parseObject(text);
      },
      (err) => err instanceof ProtocolError,
      () => text,
    );
    for (const obj of parsed ? [frame, parsed] : [frame]) {
      expectOnly(
        'frame-readers',
        seed,
        i,
        () => {
          if (useClient) readClientFrame(obj, 1000);
          else if (obj.type === undefined) readSrpChallenge(obj);
          else readServerFrame(obj);
        },
        (err) => err instanceof ProtocolError,
        () => JSON.stringify(obj).slice(0, 300),
      );
    }
  }
  return i;
}

// ---- (4) The v3 record reader (a member's stream: direct and broadcast records) ----

function flipBit(rng: Rng, bytes: Buffer): Buffer {
  const at = rng.int(bytes.length);
  bytes[at] = bytes[at]! ^ (1 << rng.int(8));
  return bytes;
}

export function fuzzChannel(seed: number, budgetMs: number): number {
  const rng = new Rng(seed);
  const deadline = Date.now() + budgetMs;
  const keys = new Rng(seed ^ 0xabcdef);
  const s2c = keys.bytes(32);
  const tag = keys.bytes(32);
  const room = new BroadcastKey(keys.bytes(8), keys.bytes(32));
  let i = 0;
  for (; Date.now() < deadline; i++) {
    // A member's v3 stream: direct and broadcast records in one order (kind | body units).
    const daemon = new MemberStream(new ChannelSealer(s2c), tag);
    const reader = new DaemonStreamReader(new ChannelOpener(s2c), tag);
    reader.setRoomKey(room.id, room.material());
    const n = 1 + rng.int(5);
    const records = Array.from({ length: n }, () => {
      const text = randomString(rng, 80);
      if (rng.int(2) === 0) return daemon.direct(text).subarray(4);
      const batch = room.seal(Buffer.from(text), rng.int(100));
      return Buffer.concat([daemon.broadcastHead(batch, batchDigest(batch)), batch]).subarray(4);
    });
    const bad = rng.int(n);
    for (let k = 0; k < n; k++) {
      const original = records[k]!;
      if (k < bad) {
        reader.open(original);
        continue;
      }
      const kind = rng.int(4);
      const mutated =
        kind === 0
          ? flipBit(rng, Buffer.from(original))
          : kind === 1
            ? records[rng.int(n)]! // replay or reorder (the same one only if k itself)
            : kind === 2
              ? original.subarray(0, rng.int(original.length))
              : Buffer.concat([Buffer.from([1 + rng.int(2)]), rng.bytes(rng.int(64))]);
      let opened: Buffer | undefined;
      try {
        opened = reader.open(mutated);
      } catch (err) {
        if (!(err instanceof ChannelError)) {
          throw new FuzzFailure(
            'channel',
            seed,
            i,
            `reader threw ${String(err)} on ${mutated.toString('hex')}`,
          );
        }
        // After a failure the reader is dead: even the genuine record must now fail.
        let revived = false;
        try {
          reader.open(original);
          revived = true;
        } catch {
          // expected
        }
        if (revived) throw new FuzzFailure('channel', seed, i, 'reader accepted a record after a failure');
        break;
      }
      if (!mutated.equals(original)) {
        throw new FuzzFailure(
          'channel',
          seed,
          i,
          `accepted a modified record: ${mutated.toString('hex')} (got ${opened.length} B)`,
        );
      }
    }
    daemon.destroy();
    reader.destroy();
  }
  return i;
}

// ---- (5) A live daemon under random input ----

export async function fuzzLiveDaemon(seed: number, budgetMs: number): Promise<number> {
  const rng = new Rng(seed);
  const d = await startDaemon(
    { chat: 'pw' },
    // Junk handshakes are cut after 5 s (all are closed before the stats must settle); two
    // honest joins (scrypt on a busy machine) fit well within it.
    { limits: { handshakeTimeoutMs: 5000, maxClientsPerAddress: 1000, maxRecordBytes: 8192 } },
  );
  // A daemon or member left running would keep the test file from ever ending.
  const alice = await joinAs(d, 'chat', 'pw', 'alice').catch(async (err: unknown) => {
    await d.stop();
    throw err;
  });
  const bob = await joinAs(d, 'chat', 'pw', 'bob').catch(async (err: unknown) => {
    await alice.close();
    await d.stop();
    throw err;
  });
  let received = 0;
  bob.on('event', (e: ChatEvent) => {
    if (e.type === 'message' && e.username === 'alice') received++;
  });
  let sent = 0;
  let i = 0;
  const junk: RawClient[] = [];
  try {
    const deadline = Date.now() + budgetMs;
    for (; Date.now() < deadline; i++) {
      const c = await RawClient.connect({ port: d.port });
      junk.push(c);
      for (let k = 1 + rng.int(4); k > 0; k--) {
        const r = rng.int(4);
        if (r === 0) c.write(rng.bytes(rng.int(2000)));
        else if (r === 1) c.sendLine(randomString(rng, 200));
        else if (r === 2) c.sendJson(mutateObject(rng, { cmd: 'srp_init', v: 3, room: 'chat', A: A_VALID }));
        else c.sendJson(randomValue(rng));
      }
      if (rng.chance(0.3)) c.socket.destroy();
      alice.send(`fuzz ${sent++}`);
      if (i % 8 === 7) {
        await alice.waitForEchoes();
        for (const j of junk.splice(0)) j.destroy();
      }
    }
    for (const j of junk.splice(0)) j.destroy();
    await alice.waitForEchoes();
    await waitFor(() => received === sent, `bob to receive all ${sent} messages (got ${received})`);
    await waitFor(
      () => {
        const s = d.daemon.stats();
        return s.connections === 2 && s.pendingHandshakes === 0 && s.members === 2;
      },
      `stats to settle: ${JSON.stringify(d.daemon.stats())}`,
    );
  } catch (err) {
    throw new FuzzFailure('live-daemon', seed, i, (err as Error).message);
  } finally {
    for (const j of junk) j.destroy();
    await alice.close();
    await bob.close();
    await d.stop();
  }
  return i;
}

export const syncTargets = {
  'line-decoder': fuzzLineDecoder,
  'server-handshake': fuzzServerHandshake,
  'frame-readers': fuzzFrameReaders,
  channel: fuzzChannel,
} as const;

/** The seed from FUZZ_SEED (decimal or 0x hex), or the default. */
export function seedFromEnv(fallback: number = DEFAULT_SEED): number {
  const raw = process.env.FUZZ_SEED;
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`FUZZ_SEED must be an integer, got ${raw}`);
  return n >>> 0;
}
