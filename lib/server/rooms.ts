/**
 * The daemon's room registry: static rooms (from passwords or a verifier file), rooms that
 * clients create in open-rooms mode, and the decoy credentials that make an unknown room
 * look like a real one. It holds verifiers, never passwords.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { verifierV2 } from '../crypto/kdf.js';
import { wipe } from '../crypto/secret.js';
import { computeVerifier, N_BYTES, reduceModN } from '../crypto/srp.js';
import { ProtocolError } from '../protocol/errors.js';
import { b64, V1_IDENTITY } from '../protocol/frames.js';
import type { RoomCredentials, RoomDirectory } from '../protocol/handshake-server.js';
import { DEFAULT_ROOM, normalizeRoomName } from '../protocol/names.js';
import { HistoryBudget, Room, type RoomLimits } from './room.js';

export interface RegistryOptions extends RoomLimits {
  /** Clients may create rooms (`serve --open-rooms`). */
  openRooms: boolean;
  maxRooms: number;
  /** Open rooms that exist at once per creating source (address); 0 = no per-source cap. */
  maxRoomsPerSource?: number;
  /** Characters of all room histories together (daemon-wide); 0 = per-room bounds only. */
  historyTotalBytes?: number;
  /** How long an emptied open room keeps its name and password (ms); 0 = it goes at once. */
  openRoomGraceMs?: number;
}

/**
 * Computes a room's credentials from its password, as a daemon with `--room NAME=PASSWORD`
 * does. With `legacy`, also the v1 credentials original clients authenticate against.
 */
export async function credentialsFromPassword(
  room: string,
  password: string | Buffer,
  legacy = false,
): Promise<RoomCredentials> {
  const name = normalizeRoomName(room);
  const salt = randomBytes(16);
  const { verifier, master } = await verifierV2(name, password, salt);
  wipe(master);
  const creds: RoomCredentials = {
    identity: Buffer.from(name, 'utf8'),
    salt,
    verifier,
    roomSalt: randomBytes(16),
  };
  if (legacy) {
    // The original's layout: a 4-byte salt, identity `chat`, the bare password.
    const v1Salt = randomBytes(4);
    creds.legacy = { salt: v1Salt, verifier: computeVerifier(V1_IDENTITY, password, v1Salt) };
  }
  return creds;
}

/** One line of a rooms file: `{"room":NAME,"salt":b64,"verifier":b64}`. */
export interface RoomEntry {
  room: string;
  salt: string;
  verifier: string;
}

/** Produces a rooms-file entry from a password (the `room-entry` subcommand). */
export async function roomEntry(room: string, password: string | Buffer): Promise<RoomEntry> {
  const creds = await credentialsFromPassword(room, password);
  return { room: normalizeRoomName(room), salt: b64(creds.salt), verifier: b64(creds.verifier) };
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Parses a rooms file: one JSON entry per line; blank lines and lines starting with `#` are
 * ignored. Throws an Error naming the line number (never its content) on anything wrong.
 */
export function parseRoomsFile(text: string): Map<string, RoomCredentials> {
  const rooms = new Map<string, RoomCredentials>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `rooms file line ${i + 1}`;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      throw new Error(`${where}: not valid JSON`);
    }
    const e = entry as Partial<RoomEntry>;
    if (typeof e !== 'object' || e === null || typeof e.room !== 'string') {
      throw new Error(`${where}: expected {"room","salt","verifier"}`);
    }
    if (
      typeof e.salt !== 'string' ||
      !BASE64.test(e.salt) ||
      typeof e.verifier !== 'string' ||
      !BASE64.test(e.verifier)
    ) {
      throw new Error(`${where}: salt and verifier must be base64`);
    }
    let name: string;
    try {
      name = normalizeRoomName(e.room);
    } catch {
      throw new Error(`${where}: invalid room name`);
    }
    if (rooms.has(name)) throw new Error(`${where}: room listed twice`);
    const salt = Buffer.from(e.salt, 'base64');
    const verifier = Buffer.from(e.verifier, 'base64');
    if (salt.length < 16 || salt.length > 64) throw new Error(`${where}: salt must be 16 to 64 bytes`);
    if (verifier.length < 1 || verifier.length > 256)
      throw new Error(`${where}: verifier has the wrong length`);
    rooms.set(name, { identity: Buffer.from(name, 'utf8'), salt, verifier, roomSalt: randomBytes(16) });
  }
  return rooms;
}

export class RoomRegistry implements RoomDirectory {
  private readonly rooms = new Map<string, Room>();
  /** Per-run secret behind the decoys: the same unknown name gets the same salt within a run. */
  private readonly decoySecret = randomBytes(32);
  /** Whether password rooms are legacy rooms (legacy mode): decoys then look like them. */
  private legacyRooms = false;
  private readonly roomLimits: RoomLimits;
  /** Who created each open room (its source key) and how many rooms each source holds. */
  private readonly creatorOf = new Map<Room, string>();
  private readonly createdBy = new Map<string, number>();
  /** Emptied open rooms in their grace period, and the timer that ends it. */
  private readonly graceTimers = new Map<Room, NodeJS.Timeout>();
  /** Told when a room goes (an open room that emptied, or one forgotten). */
  onRemoved: ((room: Room) => void) | undefined;

  constructor(private readonly options: RegistryOptions) {
    const total = options.historyTotalBytes ?? 0;
    this.roomLimits = {
      historySize: options.historySize,
      historyBytes: options.historyBytes,
      maxMembersPerRoom: options.maxMembersPerRoom,
      ...(total > 0 ? { historyBudget: new HistoryBudget(total) } : {}),
    };
  }

  get size(): number {
    return this.rooms.size;
  }

  /** Messages each room's history keeps. */
  get historySize(): number {
    return this.roomLimits.historySize;
  }

  /** All rooms (for shutdown and statistics). */
  all(): IterableIterator<Room> {
    return this.rooms.values();
  }

  addStatic(name: string, creds: RoomCredentials): Room {
    if (creds.legacy) this.legacyRooms = true;
    if (this.rooms.has(name)) throw new Error('room listed twice');
    if (this.rooms.size >= this.options.maxRooms) throw new Error('more rooms than --max-rooms allows');
    const room = new Room(name, creds, 'static', this.roomLimits);
    this.rooms.set(name, room);
    return room;
  }

  get(name: string): Room | undefined {
    return this.rooms.get(name);
  }

  find(name: string): RoomCredentials | undefined {
    return this.rooms.get(name)?.credentials;
  }

  /** Original clients have no notion of rooms: they land in the default room, if it is legacy. */
  legacyRoom(): { name: string; credentials: RoomCredentials } | undefined {
    const room = this.rooms.get(DEFAULT_ROOM);
    return room?.credentials.legacy ? { name: room.name, credentials: room.credentials } : undefined;
  }

  mayCreate(name: string): boolean {
    return this.options.openRooms && !this.rooms.has(name) && this.rooms.size < this.options.maxRooms;
  }

  /**
   * Registers a room created by an authenticated client from `source` (undefined: not keyed
   * by address). If another client created the same name meanwhile, the later one fails like
   * a wrong password; a source at its room cap, or a full daemon, gets `busy`.
   */
  registerCreated(name: string, creds: RoomCredentials, source?: string): Room {
    if (this.rooms.has(name)) throw new ProtocolError('auth_failed');
    if (this.rooms.size >= this.options.maxRooms) throw new ProtocolError('busy');
    const perSource = this.options.maxRoomsPerSource ?? 0;
    const held = source === undefined ? 0 : (this.createdBy.get(source) ?? 0);
    if (source !== undefined && perSource > 0 && held >= perSource) throw new ProtocolError('busy');
    const room = new Room(name, creds, 'open', this.roomLimits);
    this.rooms.set(name, room);
    if (source !== undefined) {
      this.creatorOf.set(room, source);
      this.createdBy.set(source, held + 1);
    }
    return room;
  }

  /**
   * Called when a member leaves or an unjoined client goes: an open room with nobody left
   * forgets its history at once, keeps its name and password for the grace period (so that
   * nobody else can claim the name while its members reconnect), then goes.
   */
  releaseIfEmpty(room: Room): void {
    if (!this.isIdleOpenRoom(room)) return;
    room.dropHistory();
    const grace = this.options.openRoomGraceMs ?? 0;
    if (grace <= 0) {
      this.remove(room);
      return;
    }
    clearTimeout(this.graceTimers.get(room));
    const timer = setTimeout(() => {
      this.graceTimers.delete(room);
      if (this.isIdleOpenRoom(room)) this.remove(room);
    }, grace);
    timer.unref();
    this.graceTimers.set(room, timer);
  }

  private isIdleOpenRoom(room: Room): boolean {
    return (
      room.kind === 'open' &&
      room.memberCount === 0 &&
      room.pendingJoins === 0 &&
      this.rooms.get(room.name) === room
    );
  }

  /** Drops an open room at once (its members are gone or dropped by the caller). */
  forget(room: Room): void {
    if (this.rooms.get(room.name) !== room) return;
    clearTimeout(this.graceTimers.get(room));
    this.graceTimers.delete(room);
    this.remove(room);
  }

  private remove(room: Room): void {
    this.rooms.delete(room.name);
    this.onRemoved?.(room);
    room.dispose();
    const source = this.creatorOf.get(room);
    if (source !== undefined) {
      this.creatorOf.delete(room);
      const left = (this.createdBy.get(source) ?? 1) - 1;
      if (left <= 0) this.createdBy.delete(source);
      else this.createdBy.set(source, left);
    }
    wipe(room.credentials.verifier, room.credentials.salt, room.credentials.roomSalt);
  }

  /**
   * Stand-in credentials for an unknown room, stable per name within a run. The verifier is a
   * keyed hash expansion reduced mod N, never an exponentiation: the handshake asks for the
   * decoy on every srp_init (real room or not), so both paths do exactly the same work and
   * cannot be told apart by timing. In legacy mode a decoy looks like a password room (those
   * are legacy rooms there), `legacy` flag included.
   */
  decoy(name: string): RoomCredentials {
    const derive = (label: string, bytes = 32): Buffer => {
      const blocks: Buffer[] = [];
      for (let i = 0; blocks.length * 32 < bytes; i++) {
        blocks.push(
          createHmac('sha256', this.decoySecret).update(`${label}\0${i}\0`).update(name, 'utf8').digest(),
        );
      }
      return Buffer.concat(blocks).subarray(0, bytes);
    };
    const identity = Buffer.from(name, 'utf8');
    const salt = derive('salt', 16);
    // 32 bytes more than N, so the reduction leaves no visible bias.
    const verifier = Buffer.from(reduceModN(derive('verifier', N_BYTES + 32)));
    const creds: RoomCredentials = { identity, salt, verifier, roomSalt: derive('room_salt', 16) };
    if (this.legacyRooms) creds.legacy = { salt: derive('v1_salt', 4), verifier };
    return creds;
  }

  /** Zeroes every verifier and the decoy secret (shutdown). */
  destroy(): void {
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
    this.graceTimers.clear();
    for (const room of this.rooms.values()) {
      wipe(room.credentials.verifier, room.credentials.salt, room.credentials.roomSalt);
    }
    this.rooms.clear();
    wipe(this.decoySecret);
  }
}
