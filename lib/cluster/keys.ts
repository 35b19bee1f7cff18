/**
 * The cluster's keys, derived from one shared cluster secret: a subject key that turns room
 * names into NATS subjects (a keyed hash, so a NATS operator cannot tell which room a subject
 * is, nor test a guessed name), and a seal key for the payloads. node:crypto only.
 */
import { createHmac, hkdfSync } from 'node:crypto';

/** The shortest cluster secret accepted (bytes). */
export const MIN_CLUSTER_SECRET_BYTES = 32;
/** Every subject starts with this label; the rest is hex of a keyed hash. */
export const SUBJECT_PREFIX = 'cc';

export interface ClusterKeys {
  /** HMAC-SHA-256 key for subjects. */
  readonly subjectKey: Buffer;
  /** AES-256-GCM key for payloads. */
  readonly sealKey: Buffer;
  /** A short public tag of the key set (not secret): lets daemons tell a wrong secret from noise. */
  readonly keyId: string;
  /**
   * Key behind the decoys of unknown rooms when the configuration has none: every daemon of
   * the cluster then answers a probe for an unknown name alike.
   */
  readonly decoyKey: Buffer;
}

/** Derives the cluster keys; throws (without echoing it) when the secret is too short. */
export function deriveClusterKeys(secret: Buffer): ClusterKeys {
  if (secret.length < MIN_CLUSTER_SECRET_BYTES) {
    throw new Error(`the cluster secret must be at least ${MIN_CLUSTER_SECRET_BYTES} bytes`);
  }
  const derive = (label: string): Buffer =>
    Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `cmd-chat cluster ${label}`, 32));
  return {
    subjectKey: derive('subject'),
    sealKey: derive('seal'),
    keyId: derive('key id').subarray(0, 4).toString('hex'),
    decoyKey: derive('decoy'),
  };
}

/** The NATS subject of a room: `cc.` and 32 hex characters of HMAC(subject key, room name). */
export function roomSubject(keys: ClusterKeys, room: string): string {
  const mac = createHmac('sha256', keys.subjectKey).update('room\0').update(room, 'utf8').digest();
  return `${SUBJECT_PREFIX}.${mac.subarray(0, 16).toString('hex')}`;
}

/** The subject every daemon of the cluster listens on (announcements, room lists). */
export function controlSubject(keys: ClusterKeys): string {
  const mac = createHmac('sha256', keys.subjectKey).update('control\0').digest();
  return `${SUBJECT_PREFIX}.${mac.subarray(0, 16).toString('hex')}`;
}

/** Hex of HMAC(subject key, label ‖ parts…), the parts separated by NUL: names NATS sees. */
export function keyedHex(keys: ClusterKeys, label: string, parts: readonly string[], bytes = 16): string {
  // One update (not two per part): a batch's id covers a few hundred event ids.
  const input = parts.length === 0 ? `${label}\0` : `${label}\0${parts.join('\0')}\0`;
  return createHmac('sha256', keys.subjectKey)
    .update(input, 'utf8')
    .digest()
    .subarray(0, bytes)
    .toString('hex');
}

/** The JetStream names of a room's log: stream `CCR_<hex>`, subject `ccr.<hex>`, both keyed. */
export function roomLogNames(
  keys: ClusterKeys,
  roomKey: string,
): { id: string; stream: string; subject: string } {
  const id = keyedHex(keys, 'room log', [roomKey]);
  return { id, stream: `CCR_${id}`, subject: `ccr.${id}` };
}

/**
 * The cluster's KV buckets (names, daemon leases, holds, open rooms), keyed so two clusters on
 * one server never meet.
 */
export function bucketNames(keys: ClusterKeys): {
  names: string;
  leases: string;
  holds: string;
  rooms: string;
} {
  const id = keyedHex(keys, 'buckets', [], 8);
  return { names: `ccn_${id}`, leases: `ccl_${id}`, holds: `cch_${id}`, rooms: `cco_${id}` };
}
