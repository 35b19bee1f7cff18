/**
 * Sealed bus payloads. Each payload is AES-256-GCM with a random nonce under the cluster seal
 * key, the subject as associated data (a payload moved to another room's subject fails to
 * open), and inside it the sending daemon's run id, a per-sender sequence number and a send
 * time. Which payloads a receiver accepts (replays refused, no clock read) is
 * lib/cluster/peers.ts; the send time only lets it note a peer whose clock is far off.
 *
 * Wire layout: version (1 byte) | nonce (12) | ciphertext | tag (16).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Overhead of sealing over the plaintext JSON. */
export const SEAL_OVERHEAD = 1 + NONCE_BYTES + TAG_BYTES;

/** What travels inside a sealed payload. */
export interface Envelope {
  /** The sending daemon's random run id (hex). */
  from: string;
  /** Strictly increasing per sender. */
  seq: number;
  /** Send time by the sender's clock, ms since the epoch: informational, never checked. */
  at: number;
  /** The event itself: a JSON object the bus does not interpret. */
  event: Record<string, unknown>;
}

export function seal(key: Buffer, subject: string, envelope: Envelope): Uint8Array {
  return sealJson(key, subject, envelope);
}

/** Opens a payload; undefined when it is malformed, forged, or sealed for another subject. */
export function open(key: Buffer, subject: string, data: Uint8Array): Envelope | undefined {
  const value = openJson(key, subject, data);
  return value === undefined ? undefined : parseEnvelope(value);
}

/**
 * Seals any JSON value with `context` as associated data (a subject, a bucket key): the
 * room logs and name tables of lib/cluster store their entries this way.
 */
export function sealJson(key: Buffer, context: string, value: unknown): Uint8Array {
  return sealText(key, context, JSON.stringify(value));
}

/** Seals a JSON text made by the caller (`openJson` opens it like any other). */
export function sealText(key: Buffer, context: string, json: string): Uint8Array {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.of(VERSION), nonce, body, cipher.getAuthTag()]);
}

/** Opens what `sealJson` sealed under the same context; undefined when malformed or forged. */
export function openJson(key: Buffer, context: string, data: Uint8Array): unknown {
  if (data.length < SEAL_OVERHEAD + 2 || data[0] !== VERSION) return undefined;
  const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(1, 1 + NONCE_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
    const plain = Buffer.concat([
      decipher.update(buf.subarray(1 + NONCE_BYTES, buf.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
    return JSON.parse(plain) as unknown;
  } catch {
    return undefined;
  }
}

function parseEnvelope(value: unknown): Envelope | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Partial<Envelope>;
  if (typeof v.from !== 'string' || !/^[0-9a-f]{32}$/.test(v.from)) return undefined;
  if (typeof v.seq !== 'number' || !Number.isSafeInteger(v.seq) || v.seq < 1) return undefined;
  if (typeof v.at !== 'number' || !Number.isFinite(v.at)) return undefined;
  if (typeof v.event !== 'object' || v.event === null || Array.isArray(v.event)) return undefined;
  return { from: v.from, seq: v.seq, at: v.at, event: v.event };
}
