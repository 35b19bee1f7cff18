/**
 * Member identity, all on node:crypto and in RAM only:
 * - an Ed25519 signing key, fresh for each session or long-term (derived from a personal
 *   passphrase by identity-key.ts), and an X25519 agreement key always made fresh for each
 *   session (the card signs it with the signing key);
 * - a member card {v,user_id,sign,dh,sig}: both public keys bound to the daemon-assigned
 *   user_id, self-signed with the Ed25519 key and sealed under the room key (Fernet), so a
 *   daemon without the room key can neither forge a card nor move one to another member;
 * - message signatures: Ed25519 over "cmd-chat/v2 msg", the sender's user_id, the message id,
 *   kind and body, so a message replayed by another member, re-attributed by the daemon or
 *   altered fails verification against the card of the member it is attributed to;
 * - private-message keys: HKDF-SHA256 over X25519 between two members' session keys, bound to
 *   both user_ids and both cards' keys; AES-256-GCM with the direction in the associated data;
 * - member fingerprints: 100 bits of HKDF over the signing key alone in the room-code format
 *   (`ABCD-EFGH-IJKL-MNOP-QRST`), for people to compare out of band or pin with --trust: with
 *   a long-term identity it is the same in every session, room and daemon.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { decodeBase64Strict } from './base64.js';
import type { Fernet } from './fernet.js';
import { signingKeyFromSeed } from './identity-key.js';
import { readableCode } from './kdf.js';
import { wipe } from './secret.js';

const CARD_VERSION = 1;
const KEY_BYTES = 32;
const SIG_BYTES = 64;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Upper bound on a sealed card token, so a hostile peer cannot make members store megabytes. */
export const MAX_CARD_TOKEN = 1024;
const MAX_USER_ID = 128;
const CARD_CONTEXT = 'cmd-chat/v2 card';
const MSG_CONTEXT = 'cmd-chat/v2 msg';
const PM_INFO = 'cmd-chat/v2 private message';
const FINGERPRINT_INFO = 'cmd-chat/v2 identity fingerprint';

/** Thrown for a card, signature or private message that does not check out. */
export class IdentityError extends Error {
  readonly code = 'bad_identity' as const;
  constructor(message: string) {
    super(message);
    this.name = 'IdentityError';
  }
}

/** This session's own keys; the private halves never leave the process. */
export interface MemberKeys {
  readonly signPrivate: KeyObject;
  readonly dhPrivate: KeyObject;
  /** Raw 32-byte Ed25519 public key. */
  readonly signPublic: Buffer;
  /** Raw 32-byte X25519 public key. */
  readonly dhPublic: Buffer;
}

/** A verified card: another member's public keys, bound to its user_id. */
export interface MemberCard {
  readonly userId: string;
  readonly signPublic: Buffer;
  readonly dhPublic: Buffer;
  /** The member's fingerprint, e.g. "3F7K-Q2ZD-MX4A-PL6B-TT2R". */
  readonly fingerprint: string;
  readonly verifyKey: KeyObject;
}

function rawPublic(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  const raw = typeof jwk.x === 'string' ? decodeBase64Strict(jwk.x, true, 'optional') : null;
  if (!raw || raw.length !== KEY_BYTES) throw new IdentityError('unexpected public key encoding');
  return raw;
}

function importPublic(raw: Buffer, crv: 'Ed25519' | 'X25519'): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv, x: raw.toString('base64url') }, format: 'jwk' });
}

/**
 * A session's keys: the Ed25519 signing key from `identitySeed` (a long-term identity) or
 * fresh, and always a fresh X25519 key.
 */
export function createMemberKeys(identitySeed?: Buffer): MemberKeys {
  const signPrivate = identitySeed
    ? signingKeyFromSeed(identitySeed)
    : generateKeyPairSync('ed25519').privateKey;
  const d = generateKeyPairSync('x25519');
  return {
    signPrivate,
    dhPrivate: d.privateKey,
    signPublic: rawPublic(createPublicKey(signPrivate)),
    dhPublic: rawPublic(d.publicKey),
  };
}

/** Length-prefixed concatenation, so no two different field lists sign the same bytes. */
export function framed(context: string, fields: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of [context, ...fields]) {
    const b = typeof f === 'string' ? Buffer.from(f, 'utf8') : f;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}

/** The member fingerprint of a signing key (the per-session X25519 key is not part of it). */
export function memberFingerprint(signPublic: Buffer): string {
  return readableCode(Buffer.from(hkdfSync('sha256', signPublic, '', FINGERPRINT_INFO, 13)));
}

/** This member's card for `userId`, sealed under the room key (a Fernet token). */
export function sealCard(fernet: Fernet, keys: MemberKeys, userId: string): string {
  const sig = sign(null, framed(CARD_CONTEXT, [userId, keys.signPublic, keys.dhPublic]), keys.signPrivate);
  const json = JSON.stringify({
    v: CARD_VERSION,
    user_id: userId,
    sign: keys.signPublic.toString('base64url'),
    dh: keys.dhPublic.toString('base64url'),
    sig: sig.toString('base64url'),
  });
  return fernet.encrypt(Buffer.from(json, 'utf8'));
}

function field(o: Record<string, unknown>, name: string, bytes: number): Buffer {
  const v = o[name];
  const raw = typeof v === 'string' ? decodeBase64Strict(v, true, 'optional') : null;
  if (!raw || raw.length !== bytes)
    throw new IdentityError(`card "${name}" is not ${bytes} bytes of base64url`);
  return raw;
}

/**
 * Opens a card token found in the slot of `expectedUserId`; throws IdentityError unless it is
 * sealed under this room's key, self-signed, and bound to exactly that user_id.
 */
export function openCard(fernet: Fernet, token: unknown, expectedUserId: string): MemberCard {
  if (typeof token !== 'string' || token.length > MAX_CARD_TOKEN)
    throw new IdentityError('card is not a token');
  let parsed: unknown;
  try {
    const pt = fernet.decrypt(token);
    parsed = JSON.parse(pt.toString('utf8'));
    wipe(pt);
  } catch {
    throw new IdentityError('card is not sealed under this room key');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new IdentityError('card is not an object');
  const o = parsed as Record<string, unknown>;
  if (o.v !== CARD_VERSION) throw new IdentityError('unknown card version');
  if (typeof o.user_id !== 'string' || o.user_id.length > MAX_USER_ID)
    throw new IdentityError('card has no user_id');
  if (o.user_id !== expectedUserId) throw new IdentityError('card belongs to another member');
  const signPublic = field(o, 'sign', KEY_BYTES);
  const dhPublic = field(o, 'dh', KEY_BYTES);
  const sig = field(o, 'sig', SIG_BYTES);
  let verifyKey: KeyObject;
  try {
    verifyKey = importPublic(signPublic, 'Ed25519');
    importPublic(dhPublic, 'X25519');
  } catch {
    throw new IdentityError('card keys are not valid points');
  }
  if (!verify(null, framed(CARD_CONTEXT, [o.user_id, signPublic, dhPublic]), verifyKey, sig)) {
    throw new IdentityError('card signature does not verify');
  }
  return {
    userId: o.user_id,
    signPublic,
    dhPublic,
    fingerprint: memberFingerprint(signPublic),
    verifyKey,
  };
}

/** What a message signature covers. */
export interface SignedContent {
  userId: string;
  id: string;
  kind: string;
  body: string;
}

/** Ed25519 signature (base64url) of a message by its sender. */
export function signMessage(keys: MemberKeys, m: SignedContent): string {
  return sign(null, framed(MSG_CONTEXT, [m.userId, m.id, m.kind, m.body]), keys.signPrivate).toString(
    'base64url',
  );
}

/** True when `sig` is `card`'s signature of the message as attributed to `m.userId`. */
export function verifyMessage(card: MemberCard, m: SignedContent, sig: unknown): boolean {
  if (m.userId !== card.userId || typeof sig !== 'string') return false;
  const raw = decodeBase64Strict(sig, true, 'optional');
  if (!raw || raw.length !== SIG_BYTES) return false;
  return verify(null, framed(MSG_CONTEXT, [m.userId, m.id, m.kind, m.body]), card.verifyKey, raw);
}

/**
 * The 32-byte key two members share for private messages: HKDF-SHA256 over their X25519
 * secret, salted with both user_ids and both cards' keys in a fixed order, so both sides get
 * the same key and it is bound to this pair of sessions.
 */
export function pairwiseKey(keys: MemberKeys, myUserId: string, peer: MemberCard): Buffer {
  const shared = diffieHellman({
    privateKey: keys.dhPrivate,
    publicKey: importPublic(peer.dhPublic, 'X25519'),
  });
  if (shared.every((b) => b === 0)) throw new IdentityError('peer key is a low-order point');
  const mine = framed('', [myUserId, keys.signPublic, keys.dhPublic]);
  const theirs = framed('', [peer.userId, peer.signPublic, peer.dhPublic]);
  const [a, b] = Buffer.compare(mine, theirs) <= 0 ? [mine, theirs] : [theirs, mine];
  const key = Buffer.from(hkdfSync('sha256', shared, Buffer.concat([a, b]), PM_INFO, 32));
  wipe(shared);
  return key;
}

function directionAad(fromUserId: string, toUserId: string): Buffer {
  return framed(PM_INFO, [fromUserId, toUserId]);
}

/** Seals a private message (AES-256-GCM); returns base64url of nonce ‖ ciphertext ‖ tag. */
export function sealPrivate(key: Buffer, fromUserId: string, toUserId: string, plaintext: Buffer): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(directionAad(fromUserId, toUserId));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, ct, cipher.getAuthTag()]).toString('base64url');
}

/** Opens a private message sealed by `fromUserId` for `toUserId`; throws IdentityError. */
export function openPrivate(key: Buffer, fromUserId: string, toUserId: string, sealed: unknown): Buffer {
  const raw = typeof sealed === 'string' ? decodeBase64Strict(sealed, true, 'optional') : null;
  if (!raw || raw.length < NONCE_BYTES + TAG_BYTES) throw new IdentityError('private message is malformed');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE_BYTES));
    decipher.setAAD(directionAad(fromUserId, toUserId));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new IdentityError('private message does not authenticate');
  }
}
