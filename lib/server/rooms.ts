/**
 * The daemon's room registry: static rooms (from passwords or a verifier file, read by
 * room-credentials.ts), rooms that clients create in open-rooms mode, and the decoy
 * credentials that make an unknown room look like a real one. It holds verifiers, never
 * passwords. Salts are stable for the same configuration (restarts, several daemons): a
 * password room's salt comes from its name, a rooms-file room's from its line, every
 * room_salt from the SRP salt (lib/crypto/kdf.ts).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { legacySaltFor, passwordRoomSalt, roomSaltFor } from '../crypto/kdf.js';
import { wipe } from '../crypto/secret.js';
import { N_BYTES, reduceModN } from '../crypto/srp.js';
import { ProtocolError } from '../protocol/errors.js';
import { b64 } from '../protocol/frames.js';
import type { RoomCredentials, RoomDirectory } from '../protocol/handshake-server.js';
import { DEFAULT_ROOM } from '../protocol/names.js';
import { SharedBudget } from '../rooms/budget.js';
import { MemoryRoomStore } from '../rooms/memory.js';
import type { OpenRoomEntry, RoomStore } from '../rooms/seam.js';
import { HoldQuota } from './holds.js';
import { type BackingSource, Room, type RoomLimits } from './room.js';
import { DECOY_KEY_BYTES } from './room-credentials.js';

// Callers of the registry find the credential helpers here too.
export {
  credentialsFromPassword,
  DECOY_KEY_BYTES,
  decoyKeyEntry,
  parseRoomsFile,
  type RoomEntry,
  type RoomsFile,
  roomEntry,
} from './room-credentials.js';

/** How long a room learned from another daemon is kept before it may count as empty (its creator joins meanwhile). */
const SHARED_ROOM_SETTLE_MS = 10_000;

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
  /** The resume window: events and characters of each room's log, and all logs together (0 = per room only). */
  resumeWindow?: number;
  resumeWindowBytes?: number;
  resumeWindowTotalBytes?: number;
  /** Names held for lost connections per source, daemon-wide (0 = no limit). */
  maxHoldsPerSource?: number;
  /** A member's send-queue bound: a returning member's pages are sized below it. */
  maxQueueBytes?: number;
}

/**
 * The resume window in events and characters of message text (a `RoomStore`'s `LogLimits`),
 * from the registry's options: what `serve` gives the store it chooses.
 */
export function logLimitsOf(options: Pick<RegistryOptions, 'resumeWindow' | 'resumeWindowBytes'>): {
  maxEvents: number;
  maxChars: number;
} {
  return {
    maxEvents: options.resumeWindow ?? DEFAULT_WINDOW.maxEvents,
    maxChars: options.resumeWindowBytes ?? DEFAULT_WINDOW.maxChars,
  };
}

/**
 * The key a room lives under in its store: its name and a hash of its credentials, so that
 * daemons configured alike share a room, and two rooms of one name with other passwords (open
 * rooms created on two daemons, a daemon configured differently) never share a log or names.
 */
export function roomKeyOf(name: string, creds: RoomCredentials): string {
  const digest = createHash('sha256').update(creds.salt).update(creds.verifier).digest('hex');
  return `${name}\0${digest.slice(0, 32)}`;
}

/** The resume window when the options give none. */
const DEFAULT_WINDOW = { maxEvents: 6000, maxChars: 16 * 1024 * 1024 };

export class RoomRegistry implements RoomDirectory {
  private readonly rooms = new Map<string, Room>();
  /**
   * Secret behind the decoys: a rooms file's decoy key (the same on every start), otherwise
   * per run. Never derived from a verifier: what it makes is sent to strangers.
   */
  private decoySecret: Buffer = randomBytes(DECOY_KEY_BYTES);
  /** Whether the decoy secret is a configured key (decoys then look like rooms-file rooms). */
  private decoyKeyed = false;
  /** Whether there are password rooms, whose salt is a function of their name. */
  private passwordRooms = false;
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
  /** Where the rooms live: in memory unless `serve` chose another store (`useStore`). */
  private store: RoomStore;

  constructor(private readonly options: RegistryOptions) {
    const total = options.historyTotalBytes ?? 0;
    this.roomLimits = {
      historySize: options.historySize,
      historyBytes: options.historyBytes,
      maxMembersPerRoom: options.maxMembersPerRoom,
      ...(options.presenceIntervalMs !== undefined ? { presenceIntervalMs: options.presenceIntervalMs } : {}),
      resumeGraceMs: options.resumeGraceMs ?? 0,
      ...(total > 0 ? { historyBudget: new SharedBudget(total) } : {}),
      ...(options.maxHoldsPerSource ? { holdQuota: new HoldQuota(options.maxHoldsPerSource) } : {}),
    };
    this.store = new MemoryRoomStore(logLimitsOf(options), options.resumeWindowTotalBytes ?? 0);
    // A page of base64 ciphertext with its frame around it is about 1.4 × its characters:
    // a page and what waits before it stay within the member's queue bound.
    const queue = options.maxQueueBytes;
    if (queue !== undefined && queue > 0) {
      this.roomLimits.resumePage = { maxEvents: 256, maxChars: Math.max(1, Math.floor(queue / 4)) };
      this.roomLimits.resumeQueueLowBytes = Math.floor(queue / 4);
    }
  }

  /** Where the rooms live from now on (`serve --cluster`): chosen once, before any room opens. */
  useStore(store: RoomStore): void {
    void this.store.dispose();
    this.store = store;
    // Open rooms created on other daemons are registered here too, and go when withdrawn.
    if (store.openRooms && this.options.openRooms) {
      this.stopWatchingOpenRooms = store.openRooms.watch((name, entry) => this.onSharedOpenRoom(name, entry));
    }
  }

  private stopWatchingOpenRooms: (() => void) | undefined;

  /** Another daemon recorded an open room (`entry`), or it was withdrawn (undefined). */
  private onSharedOpenRoom(name: string, entry: OpenRoomEntry | undefined): void {
    const known = this.rooms.get(name);
    if (!entry) {
      if (known && this.isIdleOpenRoom(known)) this.forget(known);
      return;
    }
    if (known || this.rooms.size >= this.options.maxRooms) return;
    const creds: RoomCredentials = {
      identity: Buffer.from(name, 'utf8'),
      salt: Buffer.from(entry.salt, 'base64'),
      verifier: Buffer.from(entry.verifier, 'base64'),
      roomSalt: Buffer.from(entry.roomSalt, 'base64'),
    };
    const room = this.openRoom(name, creds);
    // Nobody may be left in it (its daemon died): then it goes after the grace, here too. Not
    // at once: its creator may not have claimed its name yet, and an empty room's log goes.
    room.ready().then(
      () => this.releaseLater(room),
      () => this.releaseLater(room),
    );
  }

  /** Checks a room learned from another daemon once its creator has had time to join. */
  private releaseLater(room: Room): void {
    clearTimeout(this.graceTimers.get(room));
    const wait = Math.max(this.options.openRoomGraceMs ?? 0, SHARED_ROOM_SETTLE_MS);
    const timer = setTimeout(() => {
      this.graceTimers.delete(room);
      this.releaseIfEmpty(room);
    }, wait);
    timer.unref();
    this.graceTimers.set(room, timer);
  }

  /**
   * An open room in the registry, told to check itself when its names empty everywhere;
   * `before`: what its backing waits for when it first opens.
   */
  private openRoom(name: string, creds: RoomCredentials, before?: Promise<void>): Room {
    const backing = this.backingOf(name, creds);
    const source = before ? { ...backing, open: () => before.then(backing.open) } : backing;
    const room = new Room(name, creds, 'open', this.roomLimits, source);
    room.onEmptied = () => this.releaseIfEmpty(room);
    this.rooms.set(name, room);
    return room;
  }

  /** Opens every room's backing (at start: a store that cannot open a room fails the start). */
  async openAll(): Promise<void> {
    await Promise.all([...this.rooms.values()].map((room) => room.ready()));
  }

  /** A room's backing in the store, under its key (see roomKeyOf). */
  private backingOf(name: string, creds: RoomCredentials): BackingSource {
    const key = roomKeyOf(name, creds);
    return {
      open: () => this.store.open(key),
      close: () => this.store.close(key),
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
    if (this.rooms.has(name)) throw new Error('room listed twice');
    if (this.rooms.size >= this.options.maxRooms) throw new Error('more rooms than --max-rooms allows');
    if (creds.legacy) this.legacyRooms = true;
    // A password room is recognisable by its salt (the one its name gives): decoys copy that.
    if (creds.salt.equals(passwordRoomSalt(name))) this.passwordRooms = true;
    const room = new Room(name, creds, 'static', this.roomLimits, this.backingOf(name, creds));
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
    // Other daemons learn it, by compare-and-set, before its creator is answered: of two
    // daemons creating one name at once, the second adopts the first one's room, and its
    // creator fails as it would had the other creation come first on this daemon.
    const directory = this.store.openRooms;
    const entry = { salt: b64(creds.salt), verifier: b64(creds.verifier), roomSalt: b64(creds.roomSalt) };
    const recorded = directory?.announce(name, entry).then(
      (winner) => {
        if (winner === undefined) return;
        this.forget(room);
        this.onSharedOpenRoom(name, winner);
        throw new ProtocolError('auth_failed');
      },
      (err: unknown) => {
        this.forget(room); // not recorded: never withdraw a name that may be another daemon's
        throw err;
      },
    );
    const room = this.openRoom(name, creds, recorded);
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
    // A name held for a lost connection keeps the log for its resume (until the grace ends).
    if (room.heldNames === 0) room.dropHistory();
    const grace = this.options.openRoomGraceMs ?? 0;
    if (grace <= 0) {
      this.remove(room, true);
      return;
    }
    clearTimeout(this.graceTimers.get(room));
    const timer = setTimeout(() => {
      this.graceTimers.delete(room);
      if (this.isIdleOpenRoom(room)) this.remove(room, true);
    }, grace);
    timer.unref();
    this.graceTimers.set(room, timer);
  }

  private isIdleOpenRoom(room: Room): boolean {
    return (
      room.kind === 'open' &&
      room.memberCount === 0 &&
      room.pendingJoins === 0 &&
      this.rooms.get(room.name) === room &&
      // Shared with other daemons: idle only when nobody is in it (or held) on any of them.
      (this.store.openRooms === undefined || room.namesEverywhere === 0)
    );
  }

  /** Drops an open room at once (its members are gone or dropped by the caller). */
  forget(room: Room): void {
    if (this.rooms.get(room.name) !== room) return;
    clearTimeout(this.graceTimers.get(room));
    this.graceTimers.delete(room);
    this.remove(room);
  }

  /** Drops a room; `withdraw`: it went idle here, so other daemons forget it too. */
  private remove(room: Room, withdraw = false): void {
    if (withdraw && room.kind === 'open') void this.store.openRooms?.withdraw(room.name);
    this.rooms.delete(room.name);
    this.onRemoved?.(room);
    void room.dispose();
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
   * Makes the decoys stable across restarts and daemons: the secret behind them becomes a
   * rooms file's decoy key, and decoys look like rooms-file rooms (keyed salts, no legacy flag).
   */
  setDecoyKey(key: Buffer): void {
    wipe(this.decoySecret);
    this.decoySecret = Buffer.from(key);
    this.decoyKeyed = true;
  }

  /** A copy of what the decoys come from, for the workers of `serve --workers` (see adoptDecoys). */
  decoyState(): { secret: Buffer; keyed: boolean } {
    return { secret: Buffer.from(this.decoySecret), keyed: this.decoyKeyed };
  }

  /**
   * Takes another registry's decoys (its decoyState()): the workers of one port present the
   * same decoy for the same unknown name, as one daemon would.
   */
  adoptDecoys(state: { secret: Buffer; keyed: boolean }): void {
    wipe(this.decoySecret);
    this.decoySecret = Buffer.from(state.secret);
    this.decoyKeyed = state.keyed;
  }

  /**
   * Whether an unknown room's challenge is the same after a restart with the same
   * configuration: true with a decoy key, or when decoys copy password rooms (whose salts are
   * a function of the name); false with only a rooms file without a decoy key (or open rooms).
   */
  get stableDecoys(): boolean {
    return this.decoyKeyed || this.passwordRooms;
  }

  /**
   * Stand-in credentials for an unknown room, stable per name (see stableDecoys). They copy
   * one kind of room: rooms-file rooms when a decoy key is set (a keyed-hash salt, as random
   * to a stranger as a room-entry salt), else password rooms if there are any (the salt their
   * name gives, and in legacy mode the `legacy` flag), else the keyed salt with a per-run
   * secret. The verifier is a keyed hash expansion reduced mod N, never an exponentiation: the
   * handshake asks for the decoy on every srp_init (real room or not), so both paths do
   * exactly the same work and cannot be told apart by timing.
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
    const likePasswordRooms = this.passwordRooms && !this.decoyKeyed;
    const identity = Buffer.from(name, 'utf8');
    const salt = likePasswordRooms ? passwordRoomSalt(name) : derive('salt', 16);
    // 32 bytes more than N, so the reduction leaves no visible bias.
    const verifier = Buffer.from(reduceModN(derive('verifier', N_BYTES + 32)));
    const creds: RoomCredentials = { identity, salt, verifier, roomSalt: roomSaltFor(salt) };
    if (likePasswordRooms && this.legacyRooms) creds.legacy = { salt: legacySaltFor(salt), verifier };
    return creds;
  }

  /** Resolves when every room's name-table writes under way have ended (before shutting down). */
  async settle(): Promise<void> {
    await Promise.all([...this.rooms.values()].map((room) => room.settle()));
  }

  /** Zeroes every verifier and the decoy secret (shutdown); lets go of the store. */
  async destroy(): Promise<void> {
    this.stopWatchingOpenRooms?.();
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
    this.graceTimers.clear();
    for (const room of this.rooms.values()) {
      wipe(room.credentials.verifier, room.credentials.salt, room.credentials.roomSalt);
    }
    const rooms = [...this.rooms.values()];
    this.rooms.clear();
    wipe(this.decoySecret);
    await Promise.all(rooms.map((room) => room.dispose()));
    await this.store.dispose();
  }
}
