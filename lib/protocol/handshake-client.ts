/**
 * The client's side of the v2 handshake: proves knowledge of the room password without
 * sending it or anything an observer could test guesses against, checks the daemon's proof,
 * and derives the channel keys and the room key. Reading and writing lines is the caller's.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  channelKeys,
  deriveMaster,
  handshakeBinding,
  roomKeyV1,
  roomKeyV2,
  srpPasswordV2,
  verifierV2,
} from '../crypto/kdf.js';
import { wipe } from '../crypto/secret.js';
import { modPow, SrpClient, SrpError } from '../crypto/srp.js';
import { isErrorCode, ProtocolError } from './errors.js';
import { b64, base64Field, PROTOCOL_VERSION, readSrpChallenge, V1_IDENTITY } from './frames.js';
import { normalizeRoomName } from './names.js';

/** How the handshake talks: plaintext frames out, the next frame in. */
export interface HandshakeIO {
  send(frame: object): void;
  next(): Promise<Record<string, unknown>>;
}

/**
 * The room password, or how to get it once it is needed: the interactive client asks for it
 * only after the daemon has answered (so it is known to be a reachable cmd-chat daemon).
 */
export type PasswordSource = string | Buffer | (() => Promise<string | Buffer>);

/** The password of `source`, asked for at most once. */
function passwordGetter(source: PasswordSource): () => Promise<string | Buffer> {
  if (typeof source !== 'function') return () => Promise.resolve(source);
  let asked: Promise<string | Buffer> | undefined;
  return () => {
    asked ??= source();
    return asked;
  };
}

export interface ClientHandshakeOptions {
  room: string;
  password: PasswordSource;
  /** Open-rooms mode: offer a salt and verifier so the daemon may create the room. */
  create?: boolean;
  /** Called when the slow part (scrypt) starts, for a spinner. */
  onDeriving?: () => void;
  /**
   * Consent to join a v2 daemon's legacy room (shared with original clients: the room key is
   * v1's HKDF of the password). The handshake stays v2 and cannot be downgraded.
   */
  legacy?: boolean;
  /**
   * Speak the original (v1) protocol, and only that: for an original daemon. Nothing is
   * sealed and the room key can be guessed offline from captured traffic. `username` is sent
   * in srp_init, as the original daemon needs it there.
   */
  original?: boolean;
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
  /** Key of the member tags on the daemon's broadcast records (empty in 'v1' mode). */
  tag: Buffer;
  /** The room key (Fernet key of message bodies). */
  roomKey: Buffer;
}

/**
 * The answer came in the original protocol (v1): an original daemon, or an on-path attacker
 * who stripped the version to downgrade us. A v2 client never continues in v1.
 */
export class LegacyDaemonError extends ProtocolError {
  constructor() {
    super(
      'unsupported_version',
      'the daemon answered in the original cmd-chat protocol (v1): an original daemon, or an attacker on the path stripping the version; not continued (only --original-protocol speaks v1, whose room keys can be guessed offline from captured traffic)',
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
  if (options.original) return originalHandshake(io, options);
  const room = normalizeRoomName(options.room);
  const password = passwordGetter(options.password);
  const a = randomBytes(32);
  const secrets: Buffer[] = [a];
  try {
    const A = modPow(GENERATOR, a);
    const init: Record<string, unknown> = { cmd: 'srp_init', v: PROTOCOL_VERSION, room, A: b64(A) };
    let created: { salt: Buffer; master: Buffer } | undefined;
    if (options.create) {
      options.onDeriving?.();
      const salt = randomBytes(16);
      const { verifier, master } = await verifierV2(room, await password(), salt);
      secrets.push(master);
      created = { salt, master };
      init.create = { salt: b64(salt), verifier: b64(verifier) };
    }
    io.send(init);

    const challengeFrame = await io.next();
    const refused = daemonError(challengeFrame);
    if (refused) throw refused;
    if (challengeFrame.v === undefined) throw new LegacyDaemonError();
    const challenge = readSrpChallenge(challengeFrame);
    if (challenge.v !== PROTOCOL_VERSION) {
      throw new ProtocolError(
        'unsupported_version',
        `the daemon speaks cmd-chat protocol v${challenge.v}, this client v${PROTOCOL_VERSION}: the daemon needs an upgrade`,
      );
    }
    if (challenge.legacy && !options.legacy) throw new ProtocolError('legacy_refused');

    let master: Buffer;
    const cache = options.masterCache;
    if (created?.salt.equals(challenge.salt)) {
      master = created.master;
    } else if (cache?.master && cache.salt?.equals(challenge.salt)) {
      master = Buffer.from(cache.master);
      secrets.push(master);
    } else {
      const typed = await password();
      options.onDeriving?.();
      master = await deriveMaster(typed, challenge.salt);
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
    // The daemon proved the password; now that it saw the same version and legacy flag.
    const context = { v: PROTOCOL_VERSION, legacy: challenge.legacy };
    const expected = handshakeBinding(srp.sessionKey, context);
    secrets.push(expected);
    const bind = proofFrame.bind === undefined ? Buffer.alloc(0) : base64Field(proofFrame, 'bind', 32, 32);
    if (bind.length !== expected.length || !timingSafeEqual(bind, expected)) {
      srp.destroy();
      throw new ProtocolError('altered');
    }
    const { c2s, s2c, tag } = channelKeys(srp.sessionKey, context);
    srp.destroy();
    // A legacy room is shared with v1 clients, who key it with HKDF of the bare password.
    const roomKey = challenge.legacy
      ? roomKeyV1(await password(), challenge.roomSalt)
      : roomKeyV2(master, challenge.roomSalt);
    return {
      mode: challenge.legacy ? 'legacy-room' : 'v2',
      room,
      userId: challenge.userId,
      c2s,
      s2c,
      tag,
      roomKey,
    };
  } finally {
    wipe(...secrets);
  }
}

/**
 * A handshake in the original protocol (v1), for an original daemon: its srp_init (name,
 * A), SRP with identity `chat` and the bare password, then plaintext. The `session_key` it
 * sends is ignored (it was sent in clear). A v2 answer is refused: this mode is asked for.
 */
async function originalHandshake(
  io: HandshakeIO,
  options: ClientHandshakeOptions,
): Promise<ClientHandshakeResult> {
  const password = await passwordGetter(options.password)();
  const srp = new SrpClient(V1_IDENTITY, password);
  try {
    io.send({ cmd: 'srp_init', username: options.username ?? '', A: b64(srp.A) });
    const challengeFrame = await io.next();
    // Our daemon in legacy mode refuses with a code; an original one with a bare text.
    const refused = challengeFrame.code === undefined ? undefined : daemonError(challengeFrame);
    if (refused) throw refused;
    if (challengeFrame.error !== undefined) {
      const text = typeof challengeFrame.error === 'string' ? challengeFrame.error : '';
      throw /taken/i.test(text)
        ? new ProtocolError('name_taken')
        : new ProtocolError('bad_request', 'the original daemon refused the handshake');
    }
    const challenge = readSrpChallenge(challengeFrame);
    if (challenge.v !== undefined) {
      throw new ProtocolError(
        'bad_request',
        'the daemon answered in protocol v2: connect without --original-protocol',
      );
    }
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
    const failed = proofFrame.code === undefined ? undefined : daemonError(proofFrame);
    if (failed) throw failed;
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
      tag: Buffer.alloc(0),
      roomKey: roomKeyV1(password, challenge.roomSalt),
    };
  } finally {
    srp.destroy();
  }
}
