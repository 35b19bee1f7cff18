/**
 * The message body carried inside a Fernet token (PROTOCOL.md "Message body"):
 * {"from":U,"id":16 random bytes base64url (no padding),"kind":"text"|"me","body":string,
 * "sig"?:the sender's Ed25519 signature (identity.ts), absent from clients without keys}.
 * The sender's own name is inside the ciphertext so a receiver can flag a daemon that
 * re-attributes a message, and the random id lets it drop replays.
 */
import { randomBytes } from 'node:crypto';
import type { Fernet } from './fernet.js';
import { wipe } from './secret.js';

export type EnvelopeKind = 'text' | 'me';

export interface Envelope {
  from: string;
  id: string;
  kind: EnvelopeKind;
  body: string;
  /** The sender's signature (base64url), when it has member keys. */
  sig?: string;
}

/** Longest accepted signature text (64 bytes are 86 base64url characters). */
const MAX_SIG_CHARS = 128;

/** Thrown when a token decrypts but its content is not a well-formed envelope. */
export class EnvelopeError extends Error {
  readonly code = 'bad_envelope' as const;
  constructor(message: string) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

// 16 bytes = 22 base64url characters; the last one carries 2 data bits, so it is one of AQgw.
const ID_RE = /^[A-Za-z0-9_-]{21}[AQgw]$/;

/** True for a canonical 16-byte base64url id without padding. */
export function isMessageId(id: unknown): id is string {
  return typeof id === 'string' && ID_RE.test(id);
}

/** A fresh random message id. */
export function newMessageId(): string {
  return randomBytes(16).toString('base64url');
}

function isKind(k: unknown): k is EnvelopeKind {
  return k === 'text' || k === 'me';
}

/** Serialises and encrypts an envelope; returns the Fernet token. */
export function sealEnvelope(
  fernet: Fernet,
  env: { from: string; kind: EnvelopeKind; body: string; id?: string; sig?: string },
): string {
  const id = env.id ?? newMessageId();
  if (typeof env.from !== 'string' || typeof env.body !== 'string' || !isKind(env.kind) || !isMessageId(id)) {
    throw new EnvelopeError('envelope fields have the wrong type or format');
  }
  if (env.sig !== undefined && (typeof env.sig !== 'string' || env.sig.length > MAX_SIG_CHARS)) {
    throw new EnvelopeError('envelope "sig" has the wrong type or size');
  }
  const fields = { from: env.from, id, kind: env.kind, body: env.body };
  const json = Buffer.from(
    JSON.stringify(env.sig === undefined ? fields : { ...fields, sig: env.sig }),
    'utf8',
  );
  const token = fernet.encrypt(json);
  wipe(json);
  return token;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Decrypts and validates; FernetError for a bad token, EnvelopeError for a bad shape. */
export function openEnvelope(fernet: Fernet, token: string): Envelope {
  const pt = fernet.decrypt(token);
  let parsed: unknown;
  try {
    parsed = JSON.parse(UTF8.decode(pt));
  } catch {
    throw new EnvelopeError('envelope is not UTF-8 JSON');
  } finally {
    wipe(pt);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new EnvelopeError('envelope is not a JSON object');
  }
  const o = parsed as Record<string, unknown>;
  if (typeof o.from !== 'string') throw new EnvelopeError('envelope "from" must be a string');
  if (!isMessageId(o.id)) throw new EnvelopeError('envelope "id" must be 16 bytes of base64url');
  if (!isKind(o.kind)) throw new EnvelopeError('envelope "kind" must be "text" or "me"');
  if (typeof o.body !== 'string') throw new EnvelopeError('envelope "body" must be a string');
  if (o.sig === undefined) return { from: o.from, id: o.id, kind: o.kind, body: o.body };
  if (typeof o.sig !== 'string' || o.sig.length > MAX_SIG_CHARS) {
    throw new EnvelopeError('envelope "sig" must be a short string');
  }
  return { from: o.from, id: o.id, kind: o.kind, body: o.body, sig: o.sig };
}
