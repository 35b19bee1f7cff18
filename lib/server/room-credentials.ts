/**
 * A room's credentials from outside the daemon: computed from a password (`--room
 * NAME=PASSWORD`, stable salts from the name), written as a rooms-file line (`room-entry`,
 * a random salt), and read back from a rooms file (rooms and the decoy key), with errors that
 * name the line, never its content. The registry (rooms.ts) holds what these produce.
 */
import { randomBytes } from 'node:crypto';
import { legacySaltFor, passwordRoomSalt, roomSaltFor, verifierV2 } from '../crypto/kdf.js';
import { wipe } from '../crypto/secret.js';
import { computeVerifier } from '../crypto/srp.js';
import { b64, V1_IDENTITY } from '../protocol/frames.js';
import type { RoomCredentials } from '../protocol/handshake-server.js';
import { normalizeRoomName } from '../protocol/names.js';

/**
 * Computes a room's credentials from its password, as a daemon with `--room NAME=PASSWORD`
 * does. The salts depend on the room name only (see passwordRoomSalt), so the same name and
 * password give the same credentials, room key and fingerprint on every start. With `legacy`,
 * also the v1 credentials original clients authenticate against.
 */
export async function credentialsFromPassword(
  room: string,
  password: string | Buffer,
  legacy = false,
): Promise<RoomCredentials> {
  const name = normalizeRoomName(room);
  const salt = passwordRoomSalt(name);
  const { verifier, master } = await verifierV2(name, password, salt);
  wipe(master);
  const creds: RoomCredentials = {
    identity: Buffer.from(name, 'utf8'),
    salt,
    verifier,
    roomSalt: roomSaltFor(salt),
  };
  if (legacy) {
    // The original's layout: a 4-byte salt, identity `chat`, the bare password.
    const v1Salt = legacySaltFor(salt);
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

/**
 * Produces a rooms-file entry from a password (the `room-entry` subcommand). The salt is
 * random: the line itself keeps it stable.
 */
export async function roomEntry(room: string, password: string | Buffer): Promise<RoomEntry> {
  const name = normalizeRoomName(room);
  const salt = randomBytes(16);
  const { verifier, master } = await verifierV2(name, password, salt);
  wipe(master);
  return { room: name, salt: b64(salt), verifier: b64(verifier) };
}

/** Bytes of a rooms file's decoy key. */
export const DECOY_KEY_BYTES = 32;

/** The rooms-file line that keeps decoys stable: `{"decoy_key":b64}` (32 random bytes). */
export function decoyKeyEntry(): { decoy_key: string } {
  const key = randomBytes(DECOY_KEY_BYTES);
  const line = { decoy_key: b64(key) };
  wipe(key);
  return line;
}

/** A parsed rooms file: its rooms and, if it has one, the decoy key. */
export interface RoomsFile {
  rooms: Map<string, RoomCredentials>;
  decoyKey?: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Parses a rooms file: one JSON entry per line (a room, or at most one decoy key); blank lines
 * and lines starting with `#` are ignored. Throws an Error naming the line number (never its
 * content) on anything wrong.
 */
export function parseRoomsFile(text: string): RoomsFile {
  const rooms = new Map<string, RoomCredentials>();
  let decoyKey: Buffer | undefined;
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
    if (typeof entry === 'object' && entry !== null && 'decoy_key' in entry) {
      const key = (entry as { decoy_key: unknown }).decoy_key;
      if (decoyKey !== undefined) throw new Error(`${where}: a second decoy_key`);
      if (
        typeof key !== 'string' ||
        !BASE64.test(key) ||
        Buffer.from(key, 'base64').length !== DECOY_KEY_BYTES
      )
        throw new Error(`${where}: decoy_key must be ${DECOY_KEY_BYTES} bytes in base64`);
      decoyKey = Buffer.from(key, 'base64');
      continue;
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
    rooms.set(name, { identity: Buffer.from(name, 'utf8'), salt, verifier, roomSalt: roomSaltFor(salt) });
  }
  return decoyKey === undefined ? { rooms } : { rooms, decoyKey };
}
