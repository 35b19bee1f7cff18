/**
 * Key derivation for protocol v2 (and the v1 room key), all on node:crypto:
 *   master    = scrypt(password, srp_salt, N=2^15, r=8, p=1, 32 bytes)
 *   p'        = base64(HKDF-SHA256(master, salt="", info="cmd-chat/v2 srp", 32))   (UTF-8 bytes)
 *   room key  = HKDF-SHA256(master, salt=room_salt, info="cmd-chat-room-key", 32)
 *   v1 key    = HKDF-SHA256(password UTF-8, salt=room_salt, info="cmd-chat-room-key", 32)
 *   channel   = HKDF-SHA256(K, salt="", info="cmd-chat/v2 c2s" | "cmd-chat/v2 s2c", 32)
 *
 * Salts that stay the same for the same room configuration (restarts, several daemons):
 *   password room srp_salt = HKDF-SHA256(room name UTF-8, salt="", info="cmd-chat/v2 room name salt", 16)
 *   room_salt              = HKDF-SHA256(srp_salt, salt="", info="cmd-chat/v2 room salt", 16)
 *   v1 srp salt            = HKDF-SHA256(srp_salt, salt="", info="cmd-chat/v1 srp salt", 4)
 * None of them depends on the password: every salt is sent to anyone who asks, and a salt made
 * from the password would let anyone test password guesses offline (docs/security.md).
 *
 * Room fingerprint format: the first 100 bits of HKDF-SHA256(room key, salt="",
 * info="cmd-chat/v2 fingerprint", 13 bytes), written in the RFC 4648 base32 alphabet
 * (A-Z, 2-7; no 0/1/8/9 to confuse with letters) as 5 groups of 4 characters joined by '-',
 * e.g. "3F7K-Q2ZD-MX4A-PL6B-TT2R". 100 bits: members compare it by eye, and an attacker who
 * would need a collision with a specific room cannot search that space.
 */
import { hkdfSync, scrypt } from 'node:crypto';
import { wipe } from './secret.js';
import { computeVerifier } from './srp.js';

/** scrypt cost for the master key; node needs maxmem above 32 MiB for N=2^15, r=8. */
export const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1, keyLength: 32, maxmem: 64 * 1024 * 1024 } as const;

const EMPTY = Buffer.alloc(0);
const INFO_SRP = 'cmd-chat/v2 srp';
const INFO_ROOM = 'cmd-chat-room-key';
const INFO_C2S = 'cmd-chat/v2 c2s';
const INFO_S2C = 'cmd-chat/v2 s2c';
const INFO_FINGERPRINT = 'cmd-chat/v2 fingerprint';
const INFO_NAME_SALT = 'cmd-chat/v2 room name salt';
const INFO_ROOM_SALT = 'cmd-chat/v2 room salt';
const INFO_V1_SALT = 'cmd-chat/v1 srp salt';
const INFO_BIND = 'cmd-chat/v2 bind';
const INFO_TAG = 'cmd-chat/v3 s2c tag';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function toBuf(v: string | Buffer): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

function hkdf(ikm: Buffer, salt: Buffer, info: string, length = 32): Buffer {
  // Buffer.from(ArrayBuffer) shares the memory, so wiping the result wipes the only copy.
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

/** master = scrypt(password, srpSalt), on the thread pool so the event loop keeps running. */
export function deriveMaster(password: string | Buffer, srpSalt: Buffer): Promise<Buffer> {
  const pw = Buffer.from(toBuf(password));
  return new Promise((resolve, reject) => {
    scrypt(
      pw,
      srpSalt,
      SCRYPT_PARAMS.keyLength,
      { N: SCRYPT_PARAMS.N, r: SCRYPT_PARAMS.r, p: SCRYPT_PARAMS.p, maxmem: SCRYPT_PARAMS.maxmem },
      (err, key) => {
        wipe(pw);
        if (err) reject(new Error('key derivation failed'));
        else resolve(key);
      },
    );
  });
}

/** The v2 SRP password: UTF-8 bytes of base64(HKDF(master, info "cmd-chat/v2 srp")). */
export function srpPasswordV2(master: Buffer): Buffer {
  const raw = hkdf(master, EMPTY, INFO_SRP);
  const out = Buffer.from(raw.toString('base64'), 'utf8');
  wipe(raw);
  return out;
}

/** The v2 room key (Fernet key for message bodies). */
export function roomKeyV2(master: Buffer, roomSalt: Buffer): Buffer {
  return hkdf(master, roomSalt, INFO_ROOM);
}

/** The original's room key: HKDF straight from the password. */
export function roomKeyV1(password: string | Buffer, roomSalt: Buffer): Buffer {
  const pw = Buffer.from(toBuf(password));
  const key = hkdf(pw, roomSalt, INFO_ROOM);
  wipe(pw);
  return key;
}

/**
 * The SRP salt of a room the daemon was given a password for: a function of the room name
 * alone, so the same room gets the same salt on every start and on every daemon.
 */
export function passwordRoomSalt(roomName: string): Buffer {
  return hkdf(Buffer.from(roomName, 'utf8'), EMPTY, INFO_NAME_SALT, 16);
}

/** A room's `room_salt`, derived from its SRP salt (so it is as stable as that salt). */
export function roomSaltFor(srpSalt: Buffer): Buffer {
  return hkdf(srpSalt, EMPTY, INFO_ROOM_SALT, 16);
}

/** The 4-byte salt of a legacy room's v1 verifier, derived from its SRP salt. */
export function legacySaltFor(srpSalt: Buffer): Buffer {
  return hkdf(srpSalt, EMPTY, INFO_V1_SALT, 4);
}

/**
 * What both ends of a v2 handshake must agree on beyond the password: the protocol version
 * and whether the room is a legacy room. It goes into the channel keys and into `bind`, so a
 * frame altered on the way (a stripped `"v"`, an added or removed `"legacy"`) fails the
 * handshake instead of weakening it.
 */
export interface HandshakeContext {
  v: number;
  legacy: boolean;
}

function contextInfo(context: HandshakeContext): string {
  return `v=${context.v};legacy=${context.legacy ? 1 : 0}`;
}

/**
 * Per-direction AES-256-GCM keys from the SRP session key K, and the key of the member tags
 * on broadcast records (HMAC-SHA256). Every key names the context in its info except the two
 * of an ordinary v2 room, HKDF(K, "cmd-chat/v2 c2s"/"s2c"); the tag key exists from v3 on.
 */
export function channelKeys(
  K: Buffer,
  context: HandshakeContext = { v: 2, legacy: false },
): { c2s: Buffer; s2c: Buffer; tag: Buffer } {
  const suffix = context.legacy || context.v !== 2 ? ` ${contextInfo(context)}` : '';
  return {
    c2s: hkdf(K, EMPTY, INFO_C2S + suffix),
    s2c: hkdf(K, EMPTY, INFO_S2C + suffix),
    tag: hkdf(K, EMPTY, `${INFO_TAG} ${contextInfo(context)}`),
  };
}

/** The daemon's proof that it ran the handshake in `context`: HKDF(K, "cmd-chat/v2 bind v=2;legacy=0|1"). */
export function handshakeBinding(K: Buffer, context: HandshakeContext): Buffer {
  return hkdf(K, EMPTY, `${INFO_BIND} ${contextInfo(context)}`);
}

/** The human-comparable room code described in the header, e.g. "3F7K-Q2ZD-MX4A-PL6B-TT2R". */
export function roomFingerprint(roomKey: Buffer): string {
  const bytes = hkdf(roomKey, EMPTY, INFO_FINGERPRINT, 13);
  const out = readableCode(bytes);
  wipe(bytes);
  return out;
}

/** The first 100 bits of `bytes` (at least 13) as 5 groups of 4 base32 characters. */
export function readableCode(bytes: Buffer): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  let chars = 0;
  for (let i = 0; i < bytes.length && chars < 20; i++) {
    acc = ((acc << 8) | bytes[i]) & 0xffff;
    bits += 8;
    while (bits >= 5 && chars < 20) {
      bits -= 5;
      if (chars > 0 && chars % 4 === 0) out += '-';
      out += BASE32[(acc >>> bits) & 31];
      chars++;
    }
  }
  return out;
}

/**
 * What a daemon (or an open-rooms client creating a room) stores for a room: the SRP verifier
 * for identity = UTF-8 of the normalised room name and password p' = srpPasswordV2(master).
 * The caller owns (and should wipe) the returned master.
 */
export async function verifierV2(
  roomName: string,
  password: string | Buffer,
  salt: Buffer,
): Promise<{ verifier: Buffer; master: Buffer }> {
  const master = await deriveMaster(password, salt);
  const p = srpPasswordV2(master);
  const verifier = computeVerifier(roomName, p, salt);
  wipe(p);
  return { verifier, master };
}
