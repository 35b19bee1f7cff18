/**
 * Rules for user and room names: Unicode NFKC, trimmed, a bounded length in characters,
 * and nothing invisible or terminal-active (controls, bidi overrides, zero-width characters).
 * Uniqueness in a room is case-insensitive, through `nameKey`.
 */
import { ProtocolError } from './errors.js';

export const MAX_USER_NAME = 32;
export const MAX_ROOM_NAME = 64;
export const DEFAULT_ROOM = 'chat';

// C0, DEL, C1, bidi controls and marks, zero-width characters, line/paragraph separators, BOM.
const FORBIDDEN =
  /[\u0000-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/u;

/** Returns the normalised name, or throws `bad_name`. */
export function normalizeName(raw: unknown, maxChars: number = MAX_USER_NAME): string {
  if (typeof raw !== 'string') throw new ProtocolError('bad_name');
  if (raw.length > maxChars * 8) throw new ProtocolError('bad_name');
  const name = raw.normalize('NFKC').trim();
  const length = [...name].length;
  if (length < 1 || length > maxChars) throw new ProtocolError('bad_name');
  if (FORBIDDEN.test(name) || !name.isWellFormed()) throw new ProtocolError('bad_name');
  return name;
}

/** Room names follow the user-name rules with a longer limit. */
export function normalizeRoomName(raw: unknown): string {
  return normalizeName(raw, MAX_ROOM_NAME);
}

/** The key under which a name is unique: case-insensitive. */
export function nameKey(name: string): string {
  return name.toLowerCase().normalize('NFKC');
}
