/**
 * What daemons say to each other about a room, inside sealed bus payloads: requests to the
 * room's sequencer, the numbered results it publishes, refusals, snapshots, private-message
 * routing, and on the control subject announcements and open-room lists. Parsers check every
 * field (a payload that opened is from a daemon of the cluster, but a bug there must not
 * crash this one) and return undefined for anything malformed.
 */
import type { Member, MessageData } from '../protocol/frames.js';

/**
 * What lets a member resume, as replicas know it: `rh`, the SHA-256 of its resume secret
 * (base64; the secret itself never leaves the daemon that issued it), and `mids`, the ids
 * of the messages it sent last, oldest first.
 */
export interface Resumable {
  rh?: string;
  mids?: string[];
}

/** A member as the cluster tracks it: with the daemon that holds its connection. */
export interface ClusterMember extends Member, Resumable {
  node: string;
}

/** A member of a daemon (its sync), with what lets it resume. */
export type SyncMember = Member & Resumable;

/** A name held for a member whose connection was lost: released by the sequencer after `ms`. */
export interface HeldEntry {
  user_id: string;
  username: string;
  rh: string;
  mids: string[];
  ms: number;
}

/** A change to a room, numbered by its sequencer; every daemon applies them in order. */
export type RoomChange =
  /** `rh`: see Resumable; `resumes`: the member's earlier user id whose name it takes back. */
  | {
      k: 'join';
      user_id: string;
      username: string;
      card?: string;
      node: string;
      rh?: string;
      resumes?: string;
    }
  /** `hold_ms`: the name stays held for its reconnect that long. */
  | { k: 'leave'; user_id: string; hold_ms?: number }
  | { k: 'msg'; data: MessageData; mid?: string }
  | { k: 'clear'; by: string }
  | { k: 'nick'; user_id: string; username: string }
  /** The name held for `user_id` is free again. */
  | { k: 'release'; user_id: string };

export type RoomEvent =
  /**
   * Requests to the sequencer (from the daemon holding the member). A join's `rh` is the
   * hash of the secret issued for it, `offer` the hash of the secret the client offered.
   */
  | { t: 'join'; user_id: string; username: string; card?: string; rh?: string; offer?: string }
  | { t: 'leave'; user_id: string; hold?: boolean }
  | { t: 'msg'; user_id: string; text: string; mid?: string }
  | { t: 'clear'; user_id: string }
  | { t: 'nick'; user_id: string; username: string }
  /** A daemon's local members, and messages it numbered itself while it sequenced alone. */
  | { t: 'sync'; members: SyncMember[]; orphans: MessageData[] }
  /** From the sequencer. */
  | { t: 'ev'; seq: number; ev: RoomChange }
  | { t: 'refuse'; node: string; user_id: string; code: string; kick: boolean }
  /** A resend (a `mid` the member sent before): only the sender is told. */
  | { t: 'received'; node: string; user_id: string; mid: string }
  | {
      t: 'snap';
      to: string;
      seq: number;
      members: ClusterMember[];
      history: MessageData[];
      held: HeldEntry[];
    }
  /** A private message for a member of daemon `node`: the serialised frame. */
  | { t: 'pm'; node: string; to: string; json: string };

/** An open room's credentials as they cross the bus (base64), with the daemon that created it. */
export interface SharedRoom {
  name: string;
  salt: string;
  verifier: string;
  room_salt: string;
  creator: string;
}

export type ControlEvent =
  /** `config`: a digest of the daemon's static rooms (equal configurations, equal digests). */
  | { t: 'hello'; started: number; want: boolean; config: string }
  | { t: 'bye' }
  | { t: 'rooms'; rooms: SharedRoom[] };

type Obj = Record<string, unknown>;

const NODE = /^[0-9a-f]{32}$/;
/** Generous bounds: the daemons' own limits are far lower. */
const MAX_ID = 128;
const MAX_NAME = 256;
const MAX_TEXT = 1024 * 1024;
const MAX_CARD = 4096;
const MAX_LIST = 100_000;
/** As the protocol bounds a message's `mid` (MAX_MESSAGE_ID_CHARS). */
const MAX_MID = 64;
const MAX_MIDS = 512;
/** Longer than any --resume-grace a daemon accepts. */
const MAX_HOLD_MS = 7 * 24 * 3600 * 1000;

const str = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function optCard(o: Obj): { card?: string } | undefined {
  if (o.card === undefined) return {};
  return str(o.card, MAX_CARD) ? { card: o.card } : undefined;
}

function member(v: unknown): Member | undefined {
  if (!isObj(v) || !str(v.user_id, MAX_ID) || !str(v.username, MAX_NAME)) return undefined;
  const card = optCard(v);
  return card && { user_id: v.user_id, username: v.username, ...card };
}

/** A SHA-256 hash in base64. */
const isHash = (v: unknown): v is string =>
  typeof v === 'string' && v.length === 44 && Buffer.from(v, 'base64').length === 32;
const isMid = (v: unknown): v is string => str(v, MAX_MID) && v.length > 0;

function mids(v: unknown): string[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_MIDS) return undefined;
  return v.every(isMid) ? (v as string[]) : undefined;
}

/** The optional resume fields of `o`; undefined when one is malformed. */
function resumable(o: Obj): Resumable | undefined {
  const out: Resumable = {};
  if (o.rh !== undefined) {
    if (!isHash(o.rh)) return undefined;
    out.rh = o.rh;
  }
  if (o.mids !== undefined) {
    const list = mids(o.mids);
    if (!list) return undefined;
    out.mids = list;
  }
  return out;
}

function syncMember(v: unknown): SyncMember | undefined {
  const m = member(v);
  const r = m && isObj(v) ? resumable(v) : undefined;
  return m && r && { ...m, ...r };
}

function clusterMember(v: unknown): ClusterMember | undefined {
  const m = syncMember(v);
  return m && isObj(v) && typeof v.node === 'string' && NODE.test(v.node)
    ? { ...m, node: v.node }
    : undefined;
}

function heldEntry(v: unknown): HeldEntry | undefined {
  if (!isObj(v) || !str(v.user_id, MAX_ID) || !str(v.username, MAX_NAME) || !isHash(v.rh)) return undefined;
  const list = mids(v.mids);
  const ms = v.ms;
  if (!list || typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_HOLD_MS) return undefined;
  return { user_id: v.user_id, username: v.username, rh: v.rh, mids: list, ms };
}

function message(v: unknown): MessageData | undefined {
  if (!isObj(v) || !str(v.id, MAX_ID) || !str(v.text, MAX_TEXT) || !str(v.user_id, MAX_ID)) return undefined;
  if (!str(v.username, MAX_NAME)) return undefined;
  const ts = v.timestamp;
  if (!(typeof ts === 'number' && Number.isFinite(ts)) && !str(ts, 64)) return undefined;
  const data: MessageData = {
    id: v.id,
    text: v.text,
    timestamp: ts,
    user_id: v.user_id,
    username: v.username,
  };
  if (v.user_ip === '') data.user_ip = '';
  return data;
}

function list<T>(v: unknown, item: (x: unknown) => T | undefined): T[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_LIST) return undefined;
  const out: T[] = [];
  for (const x of v) {
    const parsed = item(x);
    if (parsed === undefined) return undefined;
    out.push(parsed);
  }
  return out;
}

function change(v: unknown): RoomChange | undefined {
  if (!isObj(v)) return undefined;
  switch (v.k) {
    case 'join': {
      const m = clusterMember(v);
      if (!m || m.mids !== undefined) return undefined;
      if (v.resumes === undefined) return { k: 'join', ...m };
      return str(v.resumes, MAX_ID) ? { k: 'join', ...m, resumes: v.resumes } : undefined;
    }
    case 'leave': {
      if (!str(v.user_id, MAX_ID)) return undefined;
      const ms = v.hold_ms;
      if (ms === undefined) return { k: 'leave', user_id: v.user_id };
      return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 && ms <= MAX_HOLD_MS
        ? { k: 'leave', user_id: v.user_id, hold_ms: ms }
        : undefined;
    }
    case 'msg': {
      const data = message(v.data);
      if (!data) return undefined;
      if (v.mid === undefined) return { k: 'msg', data };
      return isMid(v.mid) ? { k: 'msg', data, mid: v.mid } : undefined;
    }
    case 'release':
      return str(v.user_id, MAX_ID) ? { k: 'release', user_id: v.user_id } : undefined;
    case 'clear':
      return str(v.by, MAX_NAME) ? { k: 'clear', by: v.by } : undefined;
    case 'nick':
      return str(v.user_id, MAX_ID) && str(v.username, MAX_NAME)
        ? { k: 'nick', user_id: v.user_id, username: v.username }
        : undefined;
    default:
      return undefined;
  }
}

const seqOk = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function parseRoomEvent(v: Obj): RoomEvent | undefined {
  switch (v.t) {
    case 'join': {
      const m = member(v);
      if (!m) return undefined;
      if (v.rh !== undefined && !isHash(v.rh)) return undefined;
      if (v.offer !== undefined && !isHash(v.offer)) return undefined;
      return {
        t: 'join',
        ...m,
        ...(v.rh !== undefined ? { rh: v.rh } : {}),
        ...(v.offer !== undefined ? { offer: v.offer } : {}),
      };
    }
    case 'leave':
      return str(v.user_id, MAX_ID) ? { t: 'leave', user_id: v.user_id, hold: v.hold === true } : undefined;
    case 'clear':
      return str(v.user_id, MAX_ID) ? { t: v.t, user_id: v.user_id } : undefined;
    case 'msg':
      if (!str(v.user_id, MAX_ID) || !str(v.text, MAX_TEXT)) return undefined;
      if (v.mid === undefined) return { t: 'msg', user_id: v.user_id, text: v.text };
      return isMid(v.mid) ? { t: 'msg', user_id: v.user_id, text: v.text, mid: v.mid } : undefined;
    case 'nick':
      return str(v.user_id, MAX_ID) && str(v.username, MAX_NAME)
        ? { t: 'nick', user_id: v.user_id, username: v.username }
        : undefined;
    case 'sync': {
      const members = list(v.members, syncMember);
      const orphans = list(v.orphans, message);
      return members && orphans && { t: 'sync', members, orphans };
    }
    case 'ev': {
      const ev = change(v.ev);
      return ev && seqOk(v.seq) ? { t: 'ev', seq: v.seq, ev } : undefined;
    }
    case 'refuse':
      return typeof v.node === 'string' && NODE.test(v.node) && str(v.user_id, MAX_ID) && str(v.code, 32)
        ? { t: 'refuse', node: v.node, user_id: v.user_id, code: v.code, kick: v.kick === true }
        : undefined;
    case 'received':
      return typeof v.node === 'string' && NODE.test(v.node) && str(v.user_id, MAX_ID) && isMid(v.mid)
        ? { t: 'received', node: v.node, user_id: v.user_id, mid: v.mid }
        : undefined;
    case 'snap': {
      const members = list(v.members, clusterMember);
      const history = list(v.history, message);
      const held = v.held === undefined ? [] : list(v.held, heldEntry);
      return members && history && held && typeof v.to === 'string' && seqOk(v.seq)
        ? { t: 'snap', to: v.to, seq: v.seq, members, history, held }
        : undefined;
    }
    case 'pm':
      return typeof v.node === 'string' && str(v.to, MAX_ID) && str(v.json, MAX_TEXT)
        ? { t: 'pm', node: v.node, to: v.to, json: v.json }
        : undefined;
    default:
      return undefined;
  }
}

function sharedRoom(v: unknown): SharedRoom | undefined {
  if (!isObj(v) || !str(v.name, MAX_NAME) || !str(v.salt, 256) || !str(v.verifier, 1024)) return undefined;
  if (!str(v.room_salt, 256) || typeof v.creator !== 'string' || !NODE.test(v.creator)) return undefined;
  return { name: v.name, salt: v.salt, verifier: v.verifier, room_salt: v.room_salt, creator: v.creator };
}

export function parseControlEvent(v: Obj): ControlEvent | undefined {
  switch (v.t) {
    case 'hello':
      return typeof v.started === 'number' && Number.isFinite(v.started) && str(v.config, 64)
        ? { t: 'hello', started: v.started, want: v.want === true, config: v.config }
        : undefined;
    case 'bye':
      return { t: 'bye' };
    case 'rooms': {
      const rooms = list(v.rooms, sharedRoom);
      return rooms && { t: 'rooms', rooms };
    }
    default:
      return undefined;
  }
}

/**
 * The newest entries of a history whose JSON fits in `maxBytes` (a bus payload is bounded):
 * older entries are left out first.
 */
export function newestThatFit(items: readonly MessageData[], maxBytes: number): MessageData[] {
  let bytes = 0;
  let i = items.length;
  while (i > 0) {
    const size = Buffer.byteLength(JSON.stringify(items[i - 1])) + 1;
    if (bytes + size > maxBytes) break;
    bytes += size;
    i--;
  }
  return items.slice(i);
}
