/**
 * The client's side of the v2 handshake: proves knowledge of the room password without
 * sending it or anything an observer could test guesses against, checks the daemon's proof,
 * and derives the channel keys and the room key. Reading and writing lines is the caller's.
 */
import { randomBytes } from 'node:crypto';
import { channelKeys, deriveMaster, roomKeyV1, roomKeyV2, srpPasswordV2, verifierV2 } from '../crypto/kdf.js';
import { wipe } from '../crypto/secret.js';
import { modPowBigInt, SrpClient, SrpError, warmUp } from '../crypto/srp.js';
import { isErrorCode, ProtocolError } from './errors.js';
import { b64, base64Field, PROTOCOL_VERSION, readSrpChallenge, V1_IDENTITY } from './frames.js';
import { normalizeRoomName } from './names.js';

/** How the handshake talks: plaintext frames out, the next frame in. */
export interface HandshakeIO {
  send(frame: object): void;
  next(): Promise<Record<string, unknown>>;
}

export interface ClientHandshakeOptions {
  room: string;
  password: string | Buffer;
  /** Open-rooms mode: offer a salt and verifier so the daemon may create the room. */
  create?: boolean;
  /** Called when the slow part (scrypt) starts, for a spinner. */
  onDeriving?: () => void;
  /**
   * Consent to legacy mode: talk to an original (v1) daemon, or join a v2 daemon's legacy
   * room. Then `username` is also sent in srp_init, because a v1 daemon needs it there.
   */
  legacy?: boolean;
  username?: string;
  /**
   * The master key of an earlier handshake with this room and the SRP salt it was derived
   * for: when the daemon sends the same salt again (a reconnect), scrypt is not run again.
   * Filled in by a handshake that derives a new one. The caller wipes it.
   */
  masterCache?: MasterCache;
}

/** See ClientHandshakeOptions.masterCache. */
export interface MasterCache {
  salt?: Buffer;
  master?: Buffer;
}

/**
 * How the room is protected after the handshake:
 * - 'v2': sealed channel, room key from scrypt, message envelopes;
 * - 'legacy-room': sealed channel to a v2 daemon, but the room is shared with v1 clients, so
 *   the room key is v1's HKDF of the password and bodies are bare text;
 * - 'v1': an original daemon: no channel (plaintext frames), v1 room key, bare text.
 */
export type ProtocolMode = 'v2' | 'legacy-room' | 'v1';

export interface ClientHandshakeResult {
  mode: ProtocolMode;
  room: string;
  userId: string;
  /** Key of records the client seals (empty in 'v1' mode: there is no channel). */
  c2s: Buffer;
  /** Key of records the client opens (empty in 'v1' mode). */
  s2c: Buffer;
  /** The room key (Fernet key of message bodies). */
  roomKey: Buffer;
}

/** A v1 (original cmd-chat) daemon answered: its room keys can be guessed offline. */
export class LegacyDaemonError extends ProtocolError {
  constructor() {
    super(
      'unsupported_version',
      'the daemon speaks the original cmd-chat protocol (v1), whose room keys can be guessed offline from captured traffic; refusing to connect (--legacy accepts this)',
    );
  }
}

/** Turns a daemon's `{"error","code"}` frame into a ProtocolError with our own text for known codes. */
export function daemonError(frame: Record<string, unknown>): ProtocolError | undefined {
  if (frame.error === undefined && frame.code === undefined) return undefined;
  // v1 daemons send errors without a code; a v2 init (no username) typically gets one.
  if (frame.code === undefined) return new LegacyDaemonError();
  const code = isErrorCode(frame.code) ? frame.code : undefined;
  if (code) return new ProtocolError(code);
  if (typeof frame.error === 'string' && /auth|password|proof/i.test(frame.error))
    return new ProtocolError('auth_failed');
  return new ProtocolError('bad_request', 'the daemon refused the handshake');
}

const GENERATOR = Buffer.from([2]);

export async function clientHandshake(
  io: HandshakeIO,
  options: ClientHandshakeOptions,
): Promise<ClientHandshakeResult> {
  const room = normalizeRoomName(options.room);
  const a = randomBytes(32);
  const secrets: Buffer[] = [a];
  try {
    // A = g^a with BigInt (a few ms): OpenSSL's context costs ~300 ms to set up (a primality
    // check of N), which we rather pay while scrypt runs on the thread pool below.
    const A = modPowBigInt(GENERATOR, a);
    const init: Record<string, unknown> = { cmd: 'srp_init', v: PROTOCOL_VERSION, room, A: b64(A) };
    if (options.legacy && options.username !== undefined) init.username = options.username;
    let created: { salt: Buffer; master: Buffer } | undefined;
    if (options.create) {
      options.onDeriving?.();
      const salt = randomBytes(16);
      const { verifier, master } = await verifierV2(room, options.password, salt);
      secrets.push(master);
      created = { salt, master };
      init.create = { salt: b64(salt), verifier: b64(verifier) };
    }
    io.send(init);

    const challengeFrame = await io.next();
    const refused = daemonError(challengeFrame);
    if (refused && !(refused instanceof LegacyDaemonError && options.legacy)) throw refused;
    if (refused) {
      const text = typeof challengeFrame.error === 'string' ? challengeFrame.error : '';
      throw /taken/i.test(text)
        ? new ProtocolError('name_taken')
        : new ProtocolError('bad_request', 'the v1 daemon refused the handshake');
    }
    if (challengeFrame.v === undefined) {
      if (!options.legacy) throw new LegacyDaemonError();
      return await v1Handshake(io, options.password, a, readSrpChallenge(challengeFrame));
    }
    const challenge = readSrpChallenge(challengeFrame);
    if (challenge.v !== PROTOCOL_VERSION) throw new ProtocolError('unsupported_version');
    if (challenge.legacy && !options.legacy) throw new ProtocolError('legacy_refused');

    let master: Buffer;
    const cache = options.masterCache;
    if (created?.salt.equals(challenge.salt)) {
      master = created.master;
    } else if (cache?.master && cache.salt?.equals(challenge.salt)) {
      master = Buffer.from(cache.master);
      secrets.push(master);
    } else {
      options.onDeriving?.();
      const deriving = deriveMaster(options.password, challenge.salt);
      warmUp();
      master = await deriving;
      secrets.push(master);
    }
    if (cache && !(cache.master && cache.salt?.equals(challenge.salt))) {
      wipe(cache.master);
      cache.master = Buffer.from(master);
      cache.salt = Buffer.from(challenge.salt);
    }
    const srpPassword = srpPasswordV2(master);
    secrets.push(srpPassword);
    const srp = new SrpClient(room, srpPassword, a);
    let M: Buffer;
    try {
      M = srp.processChallenge(challenge.salt, challenge.B);
    } catch (err) {
      srp.destroy();
      if (err instanceof SrpError)
        throw new ProtocolError('bad_request', 'the daemon sent an invalid SRP challenge');
      throw err;
    }
    io.send({ cmd: 'srp_verify', user_id: challenge.userId, M: b64(M) });

    const proofFrame = await io.next();
    const failed = daemonError(proofFrame);
    if (failed) {
      srp.destroy();
      throw failed;
    }
    const hamk = base64Field(proofFrame, 'H_AMK', 32, 32);
    if (!srp.verifySession(hamk)) {
      srp.destroy();
      throw new ProtocolError('auth_failed', 'the daemon could not prove that it knows the room password');
    }
    const { c2s, s2c } = channelKeys(srp.sessionKey);
    srp.destroy();
    // A legacy room is shared with v1 clients, who key it with HKDF of the bare password.
    const roomKey = challenge.legacy
      ? roomKeyV1(options.password, challenge.roomSalt)
      : roomKeyV2(master, challenge.roomSalt);
    return {
      mode: challenge.legacy ? 'legacy-room' : 'v2',
      room,
      userId: challenge.userId,
      c2s,
      s2c,
      roomKey,
    };
  } finally {
    wipe(...secrets);
  }
}

/**
 * The rest of a handshake with an original (v1) daemon: SRP with identity `chat` and the bare
 * password, then plaintext. The `session_key` it sends is ignored (it was sent in clear).
 */
async function v1Handshake(
  io: HandshakeIO,
  password: string | Buffer,
  a: Buffer,
  challenge: { userId: string; B: Buffer; salt: Buffer; roomSalt: Buffer },
): Promise<ClientHandshakeResult> {
  const srp = new SrpClient(V1_IDENTITY, password, a);
  try {
    let M: Buffer;
    try {
      M = srp.processChallenge(challenge.salt, challenge.B);
    } catch (err) {
      if (err instanceof SrpError)
        throw new ProtocolError('bad_request', 'the daemon sent an invalid SRP challenge');
      throw err;
    }
    io.send({ cmd: 'srp_verify', user_id: challenge.userId, M: b64(M) });
    const proofFrame = await io.next();
    if (proofFrame.error !== undefined) {
      const text = typeof proofFrame.error === 'string' ? proofFrame.error : '';
      throw /taken/i.test(text) ? new ProtocolError('name_taken') : new ProtocolError('auth_failed');
    }
    const hamk = base64Field(proofFrame, 'H_AMK', 32, 32);
    if (!srp.verifySession(hamk)) {
      throw new ProtocolError('auth_failed', 'the daemon could not prove that it knows the room password');
    }
    return {
      mode: 'v1',
      room: V1_IDENTITY,
      userId: challenge.userId,
      c2s: Buffer.alloc(0),
      s2c: Buffer.alloc(0),
      roomKey: roomKeyV1(password, challenge.roomSalt),
    };
  } finally {
    srp.destroy();
  }
}
