/**
 * What daemons say to each other about a room, inside sealed bus payloads: requests to the
 * room's sequencer, the numbered results it publishes, refusals, snapshots, private-message
 * routing, and on the control subject announcements and open-room lists. Parsers check every
 * field (a payload that opened is from a daemon of the cluster, but a bug there must not
 * crash this one) and return undefined for anything malformed.
 */
import type { Member, MessageData } from '../protocol/frames.js';

/** A member as the cluster tracks it: with the daemon that holds its connection. */
export interface ClusterMember extends Member {
  node: string;
}

/** A change to a room, numbered by its sequencer; every daemon applies them in order. */
export type RoomChange =
  | { k: 'join'; user_id: string; username: string; card?: string; node: string }
  | { k: 'leave'; user_id: string }
  | { k: 'msg'; data: MessageData }
  | { k: 'clear'; by: string }
  | { k: 'nick'; user_id: string; username: string };

export type RoomEvent =
  /** Requests to the sequencer (from the daemon holding the member). */
  | { t: 'join'; user_id: string; username: string; card?: string }
  | { t: 'leave'; user_id: string }
  | { t: 'msg'; user_id: string; text: string }
  | { t: 'clear'; user_id: string }
  | { t: 'nick'; user_id: string; username: string }
  /** A daemon's local members, and messages it numbered itself while it sequenced alone. */
  | { t: 'sync'; members: Member[]; orphans: MessageData[] }
  /** From the sequencer. */
  | { t: 'ev'; seq: number; ev: RoomChange }
  | { t: 'refuse'; node: string; user_id: string; code: string; kick: boolean }
  | { t: 'snap'; to: string; seq: number; members: ClusterMember[]; history: MessageData[] }
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

function clusterMember(v: unknown): ClusterMember | undefined {
  const m = member(v);
  return m && isObj(v) && typeof v.node === 'string' && NODE.test(v.node)
    ? { ...m, node: v.node }
    : undefined;
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
      return m && { k: 'join', ...m };
    }
    case 'leave':
      return str(v.user_id, MAX_ID) ? { k: 'leave', user_id: v.user_id } : undefined;
    case 'msg': {
      const data = message(v.data);
      return data && { k: 'msg', data };
    }
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
      return m && { t: 'join', ...m };
    }
    case 'leave':
    case 'clear':
      return str(v.user_id, MAX_ID) ? { t: v.t, user_id: v.user_id } : undefined;
    case 'msg':
      return str(v.user_id, MAX_ID) && str(v.text, MAX_TEXT)
        ? { t: 'msg', user_id: v.user_id, text: v.text }
        : undefined;
    case 'nick':
      return str(v.user_id, MAX_ID) && str(v.username, MAX_NAME)
        ? { t: 'nick', user_id: v.user_id, username: v.username }
        : undefined;
    case 'sync': {
      const members = list(v.members, member);
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
    case 'snap': {
      const members = list(v.members, clusterMember);
      const history = list(v.history, message);
      return members && history && typeof v.to === 'string' && seqOk(v.seq)
        ? { t: 'snap', to: v.to, seq: v.seq, members, history }
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
