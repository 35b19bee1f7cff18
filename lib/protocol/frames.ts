/**
 * Frame shapes of protocol v2 and their validation. Every frame from the network goes
 * through one of the `read*` functions, which check types and sizes and throw
 * `ProtocolError('bad_request')` on anything else; the rest of the code sees typed values.
 */
import { ProtocolError } from './errors.js';

export const PROTOCOL_VERSION = 3;

/** The SRP identity of the original (v1) protocol, whatever the room. */
export const V1_IDENTITY = 'chat';

type Obj = Record<string, unknown>;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function field(obj: Obj, key: string, maxChars: number): string {
  const value = obj[key];
  if (typeof value !== 'string') throw new ProtocolError('bad_request', `"${key}" must be a string`);
  if (value.length > maxChars) throw new ProtocolError('bad_request', `"${key}" is too long`);
  return value;
}

/** A standard, padded base64 field decoded to bytes, with bounds on the decoded length. */
export function base64Field(obj: Obj, key: string, minBytes: number, maxBytes: number): Buffer {
  const text = field(obj, key, Math.ceil(maxBytes / 3) * 4);
  if (text.length % 4 !== 0 || !BASE64.test(text)) {
    throw new ProtocolError('bad_request', `"${key}" is not valid base64`);
  }
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length < minBytes || bytes.length > maxBytes) {
    throw new ProtocolError('bad_request', `"${key}" has the wrong length`);
  }
  return bytes;
}

export function b64(bytes: Buffer): string {
  return bytes.toString('base64');
}

// ---- Handshake (plaintext) ----

/** Sizes of SRP values: group elements are at most 256 bytes, salts and proofs bounded. */
export const SRP_ELEMENT_MAX = 256;
export const SALT_MIN = 4;
export const SALT_MAX = 64;

export interface SrpInit {
  v: number | undefined;
  room: string;
  /** Only in a v1 srp_init: the original sends the user name before authenticating. */
  username?: string;
  A: Buffer;
  create?: { salt: Buffer; verifier: Buffer };
}

/** Reads a client's first frame. A frame without `v` is a v1 `srp_init` (`v` undefined). */
export function readSrpInit(obj: Obj): SrpInit {
  if (obj.cmd !== 'srp_init') throw new ProtocolError('bad_request', 'expected srp_init');
  if (obj.v === undefined) {
    // Original clients send no room: a v2 init stripped of its "v" still has one (refused as
    // `altered` by the daemon, whatever else it holds).
    if (obj.room !== undefined) return { v: undefined, room: String(obj.room) || '?', A: Buffer.alloc(0) };
    return {
      v: undefined,
      room: '',
      A: base64Field(obj, 'A', 1, SRP_ELEMENT_MAX),
      username: field(obj, 'username', 256),
    };
  }
  if (typeof obj.v !== 'number' || !Number.isInteger(obj.v)) {
    throw new ProtocolError('bad_request', '"v" must be an integer');
  }
  if (obj.v !== PROTOCOL_VERSION) return { v: obj.v, room: '', A: Buffer.alloc(0) };
  const room = field(obj, 'room', 256);
  const A = base64Field(obj, 'A', 1, SRP_ELEMENT_MAX);
  const init: SrpInit = { v: obj.v, room, A };
  if (obj.create !== undefined) {
    const create = obj.create;
    if (typeof create !== 'object' || create === null || Array.isArray(create)) {
      throw new ProtocolError('bad_request', '"create" must be an object');
    }
    init.create = {
      salt: base64Field(create as Obj, 'salt', 16, SALT_MAX),
      verifier: base64Field(create as Obj, 'verifier', 1, SRP_ELEMENT_MAX),
    };
  }
  return init;
}

export interface SrpVerify {
  userId: string;
  M: Buffer;
}

export function readSrpVerify(obj: Obj): SrpVerify {
  if (obj.cmd !== 'srp_verify') throw new ProtocolError('bad_request', 'expected srp_verify');
  return { userId: field(obj, 'user_id', 64), M: base64Field(obj, 'M', 32, 32) };
}

export interface SrpChallenge {
  v: number | undefined;
  userId: string;
  B: Buffer;
  salt: Buffer;
  roomSalt: Buffer;
  legacy: boolean;
}

/** Reads the daemon's answer to srp_init (client side). */
export function readSrpChallenge(obj: Obj): SrpChallenge {
  if (obj.v !== undefined && (typeof obj.v !== 'number' || !Number.isInteger(obj.v))) {
    throw new ProtocolError('bad_request', '"v" must be an integer');
  }
  return {
    v: obj.v as number | undefined,
    userId: field(obj, 'user_id', 64),
    B: base64Field(obj, 'B', 1, SRP_ELEMENT_MAX),
    salt: base64Field(obj, 'salt', SALT_MIN, SALT_MAX),
    roomSalt: base64Field(obj, 'room_salt', SALT_MIN, SALT_MAX),
    legacy: obj.legacy === true,
  };
}

// ---- Channel frames, client to daemon ----

/** Upper bound on a member card token (a Fernet token of a small JSON object). */
export const MAX_CARD_CHARS = 1024;

/** Length of a resume secret and of a message's resend id, as unpadded base64url. */
export const RESUME_SECRET_CHARS = 43;
export const MAX_MESSAGE_ID_CHARS = 64;

/** A member's place in a room's log: the log's epoch and the last sequence number it handled. */
export interface Cursor {
  epoch: string;
  seq: number;
}

/** Longest epoch accepted (the daemon's are 16 hex digits). */
export const MAX_EPOCH_CHARS = 64;

/** A cursor field (`{"epoch":E,"seq":N}`), or `bad_request`. */
function readCursor(value: unknown): Cursor {
  if (typeof value !== 'object' || value === null) throw new ProtocolError('bad_request', 'bad cursor');
  const obj = value as Obj;
  return { epoch: field(obj, 'epoch', MAX_EPOCH_CHARS), seq: count(obj, 'seq') };
}

/** A whole number ≥ 0 field, or `bad_request`. */
function count(obj: Obj, name: string): number {
  const v = obj[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new ProtocolError('bad_request', `"${name}" must be a whole number`);
  return v;
}

/** An optional sequence number: absent from daemons that do not number events. */
function optionalSeq(obj: Obj): { seq?: number } {
  return obj.seq === undefined ? {} : { seq: count(obj, 'seq') };
}

export type ClientFrame =
  | { type: 'join'; username: string; card?: string; resume?: string; after?: Cursor }
  | { type: 'private'; to: string; text: string }
  | { type: 'message'; text: string; mid?: string }
  | { type: 'clear' }
  | { type: 'leave' }
  | { type: 'nick'; username: string }
  | { type: 'ping'; t: number }
  | { type: 'pong'; t: number };

export function readClientFrame(obj: Obj, maxMessageChars: number): ClientFrame {
  switch (obj.type) {
    case 'join': {
      const join: ClientFrame = { type: 'join', username: field(obj, 'username', 256) };
      if (obj.card !== undefined) join.card = field(obj, 'card', MAX_CARD_CHARS);
      if (obj.resume !== undefined) join.resume = field(obj, 'resume', RESUME_SECRET_CHARS);
      if (obj.after !== undefined) join.after = readCursor(obj.after);
      return join;
    }
    case 'private':
      return { type: 'private', to: field(obj, 'to', 64), text: field(obj, 'text', maxMessageChars) };
    case 'nick':
      return { type: 'nick', username: field(obj, 'username', 256) };
    case 'message':
      return obj.mid === undefined
        ? { type: 'message', text: field(obj, 'text', maxMessageChars) }
        : {
            type: 'message',
            text: field(obj, 'text', maxMessageChars),
            mid: field(obj, 'mid', MAX_MESSAGE_ID_CHARS),
          };
    case 'clear':
      return { type: 'clear' };
    case 'leave':
      return { type: 'leave' };
    case 'ping': {
      const t = obj.t;
      if (typeof t !== 'number' || !Number.isFinite(t))
        throw new ProtocolError('bad_request', '"t" must be a number');
      return { type: 'ping', t };
    }
    case 'pong': {
      const t = obj.t;
      if (typeof t !== 'number' || !Number.isFinite(t))
        throw new ProtocolError('bad_request', '"t" must be a number');
      return { type: 'pong', t };
    }
    default:
      throw new ProtocolError('bad_request', 'unknown frame type');
  }
}

// ---- Channel frames, daemon to client ----

export interface Member {
  user_id: string;
  username: string;
  /** The member's card, opaque to the daemon (sealed under the room key); absent for original clients. */
  card?: string;
}

/** A private message: routed to one member, never stored. */
export interface PrivateData {
  from: string;
  to: string;
  text: string;
  /** Seconds since the epoch. */
  timestamp: number;
}

export interface MessageData {
  id: string;
  text: string;
  /**
   * Seconds since the epoch; in legacy rooms an ISO 8601 UTC string, as the original daemon
   * sends it (its clients print the first 19 characters). Read frames always hold seconds.
   */
  timestamp: number | string;
  user_id: string;
  username: string;
  /** Legacy rooms only, for original clients: always the empty string. */
  user_ip?: '';
}

export type ServerFrame =
  | {
      type: 'init';
      you: Member;
      room: string;
      messages: MessageData[];
      users: Member[];
      /** Older messages the daemon's history no longer holds (absent: none). */
      omitted?: number;
      /** A fresh secret that lets this member take its name back after a lost connection. */
      resume?: string;
      /** The room log's epoch (absent from original daemons and legacy rooms). */
      epoch?: string;
      /** The last sequence number this init reflects; later events come numbered after it. */
      seq?: number;
      /**
       * The log's last sequence number when the init was sent (≥ `seq`): a resuming member is
       * handed the `head - seq` events after its cursor (some reported by a `gap` if the
       * window no longer holds them), then live ones. Absent from older daemons.
       */
      head?: number;
    }
  | { type: 'message'; data: MessageData; seq?: number }
  /**
   * Before the events a resuming member is handed: the log no longer holds `lost + wiped`
   * messages after its cursor (`wiped`: removed by `/wipe`; `lost`: dropped from the resume
   * window). `seq`: the last number skipped; the next event is `seq + 1`.
   */
  | { type: 'gap'; lost: number; wiped: number; seq: number }
  /** A resent message (same `mid`) the daemon already relayed: nothing is relayed again. */
  | { type: 'received'; mid: string }
  | { type: 'private'; data: PrivateData }
  | { type: 'cleared'; by: string; seq?: number }
  | { type: 'user_renamed'; user_id: string; old: string; new: string }
  | { type: 'pong'; t: number }
  | { type: 'ping'; t: number }
  | { type: 'user_joined'; user_id: string; username: string; card?: string }
  | { type: 'user_left'; user_id: string; username: string }
  | { type: 'error'; code: string; message: string }
  | { type: 'shutdown' }
  /**
   * v3, on the member's own channel only: the room broadcast key of the broadcast records
   * that follow (8-byte id, 32-byte key, base64).
   */
  | { type: 'room_key'; id: string; key: string };

function readMember(value: unknown): Member {
  if (typeof value !== 'object' || value === null) throw new ProtocolError('bad_request', 'bad member');
  const obj = value as Obj;
  const member: Member = { user_id: field(obj, 'user_id', 64), username: field(obj, 'username', 256) };
  if (obj.card !== undefined) member.card = field(obj, 'card', MAX_CARD_CHARS);
  return member;
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Seconds since the epoch of a strict ISO 8601 date-time with a zone; NaN for anything else. */
function isoSeconds(text: string): number {
  return ISO_8601.test(text) ? Date.parse(text) / 1000 : Number.NaN;
}

/**
 * A time as the original daemon writes it: Python's `datetime.now(timezone.utc).isoformat()`,
 * e.g. `2026-11-28T06:16:15.934000+00:00` (no fraction when it is zero).
 */
export function legacyTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-28T06:16:15.934Z
  const fraction = iso.slice(20, 23) === '000' ? '' : `.${iso.slice(20, 23)}000`;
  return `${iso.slice(0, 19)}${fraction}+00:00`;
}

/** Milliseconds since the epoch of a message's time (seconds, or an ISO 8601 string). */
export function messageTimeMs(timestamp: number | string): number {
  return Math.round((typeof timestamp === 'number' ? timestamp : isoSeconds(timestamp)) * 1000);
}

function readMessageData(value: unknown, v1: boolean): MessageData {
  if (typeof value !== 'object' || value === null) throw new ProtocolError('bad_request', 'bad message');
  const obj = value as Obj;
  let timestamp = obj.timestamp;
  // Legacy rooms (and v1 daemons) send the time as an ISO 8601 string; v1 daemons may omit it.
  if (typeof timestamp === 'string') timestamp = isoSeconds(timestamp);
  if (v1 && (typeof timestamp !== 'number' || !Number.isFinite(timestamp))) timestamp = Date.now() / 1000;
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
    throw new ProtocolError('bad_request', 'bad timestamp');
  }
  return {
    id: v1 ? String(obj.id ?? '').slice(0, 64) : field(obj, 'id', 64),
    text: field(obj, 'text', 1 << 24),
    timestamp,
    user_id: v1 && obj.user_id === undefined ? '' : field(obj, 'user_id', 64),
    username: field(obj, 'username', 256),
  };
}

function readArray<T>(value: unknown, read: (v: unknown) => T): T[] {
  if (!Array.isArray(value)) throw new ProtocolError('bad_request', 'expected an array');
  return value.map(read);
}

/** The optional `omitted` count of an init: a whole number, else the field is ignored. */
function readOmitted(value: unknown): { omitted?: number } {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? { omitted: value } : {};
}

/**
 * Reads a frame from the daemon (client side); unknown types are `bad_request`. With `v1`,
 * the fields an original (v1) daemon does not send are optional.
 */
export function readServerFrame(obj: Obj, v1 = false): ServerFrame {
  switch (obj.type) {
    case 'init': {
      const init: ServerFrame = {
        type: 'init',
        you: v1 && obj.you === undefined ? { user_id: '', username: '' } : readMember(obj.you),
        room: v1 && obj.room === undefined ? '' : field(obj, 'room', 256),
        messages: readArray(obj.messages, (m) => readMessageData(m, v1)),
        users: readArray(obj.users, readMember),
        ...readOmitted(obj.omitted),
      };
      if (!v1 && obj.resume !== undefined) init.resume = field(obj, 'resume', RESUME_SECRET_CHARS);
      if (!v1 && obj.epoch !== undefined) {
        init.epoch = field(obj, 'epoch', MAX_EPOCH_CHARS);
        init.seq = count(obj, 'seq');
        if (obj.head !== undefined) {
          const head = count(obj, 'head');
          if (head < init.seq) throw new ProtocolError('bad_request', 'head before seq');
          init.head = head;
        }
      }
      return init;
    }
    case 'received':
      return { type: 'received', mid: field(obj, 'mid', MAX_MESSAGE_ID_CHARS) };
    case 'message':
      return { type: 'message', data: readMessageData(obj.data, v1), ...optionalSeq(obj) };
    case 'gap':
      return { type: 'gap', lost: count(obj, 'lost'), wiped: count(obj, 'wiped'), seq: count(obj, 'seq') };
    case 'cleared':
      return {
        type: 'cleared',
        by: v1 && obj.by === undefined ? '' : field(obj, 'by', 256),
        ...optionalSeq(obj),
      };
    case 'user_renamed':
      return {
        type: 'user_renamed',
        user_id: field(obj, 'user_id', 64),
        old: field(obj, 'old', 256),
        new: field(obj, 'new', 256),
      };
    case 'pong': {
      const t = obj.t;
      if (typeof t !== 'number') throw new ProtocolError('bad_request', '"t" must be a number');
      return { type: 'pong', t };
    }
    case 'ping': {
      const t = obj.t;
      if (typeof t !== 'number' || !Number.isFinite(t))
        throw new ProtocolError('bad_request', '"t" must be a number');
      return { type: 'ping', t };
    }
    case 'user_joined':
      return { type: 'user_joined', ...readMember(obj) };
    case 'user_left':
      return {
        type: 'user_left',
        user_id: field(obj, 'user_id', 64),
        username: v1 && obj.username === undefined ? '' : field(obj, 'username', 256),
      };
    case 'error':
      return {
        type: 'error',
        code: field(obj, 'code', 64),
        message: typeof obj.message === 'string' ? obj.message.slice(0, 500) : '',
      };
    case 'shutdown':
      return { type: 'shutdown' };
    case 'room_key':
      if (v1) throw new ProtocolError('bad_request', 'unknown frame type');
      base64Field(obj, 'id', 8, 8);
      base64Field(obj, 'key', 32, 32);
      return { type: 'room_key', id: obj.id as string, key: obj.key as string };
    case 'private':
      return { type: 'private', data: readPrivateData(obj.data) };
    default:
      throw new ProtocolError('bad_request', 'unknown frame type');
  }
}

function readPrivateData(value: unknown): PrivateData {
  if (typeof value !== 'object' || value === null)
    throw new ProtocolError('bad_request', 'bad private message');
  const obj = value as Obj;
  const timestamp = obj.timestamp;
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
    throw new ProtocolError('bad_request', '"timestamp" must be a number');
  }
  return {
    from: field(obj, 'from', 64),
    to: field(obj, 'to', 64),
    text: field(obj, 'text', 1 << 20),
    timestamp,
  };
}
