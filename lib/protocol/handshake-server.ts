/**
 * The daemon's side of the v2 handshake as a state machine with no I/O: it is given the
 * client's frames and returns the frames to send. It never reveals whether a room exists:
 * an unknown room gets a decoy (deterministic salt and verifier) and fails at verify with
 * the same `auth_failed` as a wrong password. A room's room_salt is derived from its SRP salt.
 */
import { randomUUID } from 'node:crypto';
import { Fernet } from '../crypto/fernet.js';
import { channelKeys, handshakeBinding, roomSaltFor } from '../crypto/kdf.js';
import { wipe } from '../crypto/secret.js';
import { SrpError, SrpServer } from '../crypto/srp.js';
import { ProtocolError } from './errors.js';
import { b64, PROTOCOL_VERSION, readSrpInit, readSrpVerify, type SrpInit, V1_IDENTITY } from './frames.js';
import { normalizeName, normalizeRoomName } from './names.js';

/** What the daemon knows of a room for authentication: never a password. */
export interface RoomCredentials {
  /** SRP identity: UTF-8 of the normalised room name. */
  identity: Buffer;
  salt: Buffer;
  verifier: Buffer;
  /** Salt of the room key; sent to clients, who derive the key from their password. */
  roomSalt: Buffer;
  /**
   * Legacy mode only: v1 SRP credentials (identity `chat`, the bare password, a 4-byte salt),
   * so original clients can join. A room with these is a legacy room: every member keys it
   * with v1's HKDF of the password.
   */
  legacy?: { salt: Buffer; verifier: Buffer };
}

/** How the handshake finds rooms; implemented by the daemon's room registry. */
export interface RoomDirectory {
  /** The credentials of an existing room, or undefined. */
  find(room: string): RoomCredentials | undefined;
  /** Indistinguishable stand-in credentials for a room that does not exist (stable per name). */
  decoy(room: string): RoomCredentials;
  /**
   * Whether a client may create `room` with its own salt and verifier (open-rooms mode, under
   * the room limit). The room is only registered once the creator has authenticated.
   */
  mayCreate(room: string): boolean;
  /** The room original (v1) clients land in, when the daemon accepts them (legacy mode). */
  legacyRoom(): { name: string; credentials: RoomCredentials } | undefined;
}

/** The outcome of a successful handshake. */
export interface HandshakeResult {
  /** 1 for an original client (no channel: plaintext frames follow), 3 otherwise. */
  version: 1 | 3;
  room: string;
  userId: string;
  /** v1 only: the name it gave in srp_init, to join under right away. */
  username?: string;
  /** Key of records the daemon opens (client to server). */
  c2s: Buffer;
  /** Key of records the daemon seals (server to client). */
  s2c: Buffer;
  /** Key of the member tags on broadcast records (empty for v1). */
  tag: Buffer;
  /**
   * The credentials the client proved its password for, the very object the directory gave
   * at srp_init: the daemon admits it only to the room that holds this object.
   */
  credentials: RoomCredentials;
  /** Set when the client created the room (open-rooms mode): register these credentials. */
  created?: RoomCredentials;
}

type State = 'init' | 'verify' | 'done';

export class ServerHandshake {
  private state: State = 'init';
  private srp: SrpServer | undefined;
  private room = '';
  private userId = '';
  private real = false;
  private created: RoomCredentials | undefined;
  private credentials: RoomCredentials | undefined;
  private v1Username: string | undefined;

  constructor(private readonly directory: RoomDirectory) {}

  /**
   * Handles one frame; returns the reply and, after srp_verify succeeds, the result.
   * Throws ProtocolError on anything wrong; the connection is then closed.
   */
  handle(frame: Record<string, unknown>): { reply: object; result?: HandshakeResult } {
    if (this.state === 'init') return { reply: this.onInit(readSrpInit(frame)) };
    if (this.state === 'verify') return this.onVerify(frame);
    throw new ProtocolError('bad_request', 'handshake already complete');
  }

  private onInit(init: SrpInit): object {
    // The version switch, in one place.
    if (init.v === undefined) {
      // Only v2 clients name a room: a v2 init whose "v" was stripped on the way.
      if (init.room !== '') throw new ProtocolError('altered');
      const legacy = this.directory.legacyRoom();
      if (legacy?.credentials.legacy) return this.onV1Init(init, legacy.name, legacy.credentials);
    }
    if (init.v !== PROTOCOL_VERSION) throw new ProtocolError('unsupported_version');
    const room = normalizeRoomName(init.room);
    // The decoy is made on both paths (and dropped for a real room): same work, same time.
    const decoy = this.directory.decoy(room);
    let creds = this.directory.find(room);
    this.real = creds !== undefined;
    if (!creds && init.create && this.directory.mayCreate(room)) {
      creds = {
        identity: Buffer.from(room, 'utf8'),
        salt: init.create.salt,
        verifier: init.create.verifier,
        roomSalt: roomSaltFor(init.create.salt),
      };
      this.created = creds;
      this.real = true;
    }
    creds ??= decoy;
    const srp = this.startSrp(room, creds, creds, init.A);
    const reply: Record<string, unknown> = {
      v: PROTOCOL_VERSION,
      user_id: this.userId,
      B: b64(srp.B),
      salt: b64(creds.salt),
      room_salt: b64(creds.roomSalt),
    };
    // Tell a v2 client the room is shared with v1 clients: it joins only with its own consent.
    if (creds.legacy) reply.legacy = true;
    return reply;
  }

  /** The server side of SRP for `room` with `srp`'s identity, salt and verifier; on to `verify`. */
  private startSrp(
    room: string,
    creds: RoomCredentials,
    srp: { identity: Buffer | string; salt: Buffer; verifier: Buffer },
    A: Buffer,
  ): SrpServer {
    try {
      this.srp = new SrpServer({ identity: srp.identity, salt: srp.salt, verifier: srp.verifier, A });
    } catch (err) {
      if (err instanceof SrpError) throw new ProtocolError('bad_request', 'invalid SRP value A');
      throw err;
    }
    this.room = room;
    this.credentials = creds;
    this.userId = randomUUID();
    this.state = 'verify';
    return this.srp;
  }

  /** An original client: SRP with identity `chat`, the bare password and the v1 salt. */
  private onV1Init(init: SrpInit, room: string, creds: RoomCredentials): object {
    const legacy = creds.legacy!;
    this.v1Username = normalizeName(init.username);
    const srp = this.startSrp(
      room,
      creds,
      { identity: V1_IDENTITY, salt: legacy.salt, verifier: legacy.verifier },
      init.A,
    );
    this.real = true;
    return {
      user_id: this.userId,
      B: b64(srp.B),
      salt: b64(legacy.salt),
      room_salt: b64(creds.roomSalt),
    };
  }

  private onVerify(frame: Record<string, unknown>): { reply: object; result: HandshakeResult } {
    const verify = readSrpVerify(frame);
    const srp = this.srp!;
    if (verify.userId !== this.userId) throw new ProtocolError('bad_request', 'unknown user_id');
    const hamk = srp.verify(verify.M);
    if (!hamk || !this.real) {
      this.destroy();
      throw new ProtocolError('auth_failed');
    }
    if (this.v1Username !== undefined) {
      // The original client does Fernet(base64.b64decode(session_key)) and never uses the key:
      // send a random, unrelated Fernet key (never the SRP session key) in the original's
      // encoding, its url-safe base64 text base64-encoded once more.
      const reply = {
        H_AMK: b64(hamk),
        session_key: Buffer.from(Fernet.generateKey(), 'latin1').toString('base64'),
      };
      const result: HandshakeResult = {
        version: 1,
        room: this.room,
        userId: this.userId,
        username: this.v1Username,
        credentials: this.credentials!,
        c2s: Buffer.alloc(0),
        s2c: Buffer.alloc(0),
        tag: Buffer.alloc(0),
      };
      this.state = 'done';
      this.destroy();
      return { reply, result };
    }
    // Bound to what this end sent: a client that saw another "v" or "legacy" cannot match it.
    const context = { v: PROTOCOL_VERSION, legacy: this.credentials?.legacy !== undefined };
    const { c2s, s2c, tag } = channelKeys(srp.sessionKey, context);
    const bind = handshakeBinding(srp.sessionKey, context);
    const result: HandshakeResult = {
      version: PROTOCOL_VERSION,
      room: this.room,
      userId: this.userId,
      credentials: this.credentials!,
      c2s,
      s2c,
      tag,
    };
    if (this.created) result.created = this.created;
    const reply = { H_AMK: b64(hamk), bind: b64(bind) };
    this.state = 'done';
    this.destroy();
    return { reply, result };
  }

  /** Zeroes the SRP secrets; safe to call more than once. */
  destroy(): void {
    this.srp?.destroy();
    this.srp = undefined;
  }
}

/** Zeroes the channel keys of a result once they have been handed to the channel. */
export function wipeResult(result: HandshakeResult): void {
  wipe(result.c2s, result.s2c, result.tag);
}
