/**
 * Makes text that came from the network inert before it reaches a terminal: message bodies
 * keep newlines and tabs, names are a single line.
 *
 * Policy (what a reader of the screen sees):
 * - A terminal escape sequence is replaced by ONE visible "␛" (U+241B) and its payload is
 *   discarded: the user sees that someone tried something, without the noise of the bytes.
 *   Recognised: CSI (ESC [ or 8-bit 0x9B, with its parameters, even when the final byte is
 *   missing), OSC (ESC ] or 0x9D, ended by BEL or ST), DCS/SOS/PM/APC (ESC P/X/^/_ or
 *   0x90/0x98/0x9E/0x9F, ended by ST), and other ESC sequences (ESC, optional intermediates,
 *   one final byte: ESC c, ESC 7, ESC ( B, ESC # 8 …).
 * - An OSC/DCS/SOS/PM/APC string whose terminator does not arrive before the end of the
 *   line (or the message, or another escape/C1 byte) is treated as unterminated: only its
 *   introducer becomes "␛" and the rest stays visible as ordinary text. A hostile sender can
 *   therefore never hide more than one line, and never anything past the end of its own
 *   message, because every message is sanitised on its own with no state carried over.
 * - Other C0 controls (NUL, BEL, BS, CR, VT, FF, …), DEL and C1 controls (0x80–0x9F) are
 *   dropped silently; CRLF becomes LF first so text pasted on Windows keeps its lines.
 *   Bodies keep "\n" and "\t"; names lose them too.
 * - Bidi controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), zero-width and
 *   invisible formatting characters (U+200B–U+200D, U+2060–U+2064, U+206A–U+206F, U+FEFF,
 *   U+180E, U+FFF9–U+FFFB) are dropped, with two exceptions in bodies only, where they cannot
 *   spoof: U+200D between emoji (a ZWJ sequence such as 👩‍💻 stays one picture), and U+200C /
 *   U+200D between letters of a script that needs them (Arabic, Persian, Indic scripts…; not
 *   Latin, Greek or Cyrillic, the look-alike scripts). Names lose them always.
 * - U+2028 / U+2029 (line and paragraph separators) become a newline in bodies and are
 *   dropped from names.
 * - Names also lose every other default-ignorable code point (U+034F, variation selectors,
 *   tags, U+3164, U+00AD …), so a name from a daemon that skipped the name rules cannot pass
 *   for another by invisible padding.
 * - A lone surrogate becomes U+FFFD, so the output is well-formed UTF-16.
 */

/** What an escape sequence is shown as. */
export const ESCAPE_PLACEHOLDER = '\u241b';

// String payloads stop at BEL, ESC, any C1 byte and newline, so a failed match costs one
// short scan (no quadratic backtracking) and never hides more than one line.
const PAYLOAD = '[^\\x07\\x1b\\x80-\\x9f\\n]*';
const ST = '(?:\\x1b\\\\|\\x9c)';
const ESCAPE_SEQUENCE = new RegExp(
  [
    `(?:\\x1b\\]|\\x9d)${PAYLOAD}(?:\\x07|${ST})`, // OSC
    `(?:\\x1b[PX^_]|[\\x90\\x98\\x9e\\x9f])${PAYLOAD}${ST}`, // DCS, SOS, PM, APC
    '(?:\\x1b\\[|\\x9b)[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]?', // CSI, final byte optional
    '\\x1b[\\x20-\\x2f]*[\\x30-\\x7e]?', // other ESC sequences, and the introducer of an unterminated string
    '[\\x90\\x98\\x9d\\x9e\\x9f]', // 8-bit string introducer without terminator
  ].join('|'),
  'g',
);

const INVISIBLE =
  '\\u061c\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb';
const BODY_DROP = new RegExp(`[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f${INVISIBLE}]`, 'g');
const NAME_DROP = new RegExp(`[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029${INVISIBLE}]`, 'g');
const LINE_SEPARATORS = /[\u2028\u2029]/g;

const EMOJI_BEFORE_ZWJ = /\p{Extended_Pictographic}|\p{Emoji_Modifier}|\uFE0F/u;
const EMOJI = /\p{Extended_Pictographic}/u;
const LETTER = /[\p{L}\p{M}]/u;
const LOOK_ALIKE_SCRIPT = /[\p{sc=Latin}\p{sc=Greek}\p{sc=Cyrillic}\p{sc=Common}\p{sc=Inherited}]/u;

function codePointBefore(s: string, i: number): string {
  if (i <= 0) return '';
  const low = s.charCodeAt(i - 1);
  return low >= 0xdc00 && low <= 0xdfff && i >= 2 ? s.slice(i - 2, i) : s.slice(i - 1, i);
}

function codePointAfter(s: string, i: number): string {
  const cp = s.codePointAt(i);
  return cp === undefined ? '' : String.fromCodePoint(cp);
}

// A letter of a script that uses joiners inside words. Combining marks count with the letter
// they follow, so look through them to the base character's script.
function joiningLetter(ch: string): boolean {
  return LETTER.test(ch) && !LOOK_ALIKE_SCRIPT.test(ch);
}

/** True when the joiner at `i` of a body is part of an emoji sequence or a word that needs it. */
function legitimateJoiner(s: string, i: number, ch: string): boolean {
  if (ch !== '\u200c' && ch !== '\u200d') return false;
  const before = codePointBefore(s, i);
  const after = codePointAfter(s, i + 1);
  if (ch === '\u200d' && EMOJI_BEFORE_ZWJ.test(before) && EMOJI.test(after)) return true;
  return joiningLetter(before) && joiningLetter(after);
}
const NAME_IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;
const HAS_NAME_IGNORABLE = /\p{Default_Ignorable_Code_Point}/u;
const LONE_SURROGATE_SOURCE =
  '[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]';
const LONE_SURROGATE = new RegExp(LONE_SURROGATE_SOURCE, 'g');

// Fast path: most messages contain none of these and are returned untouched. (No `g` flag:
// `test` on a global regex would carry lastIndex from one call to the next.)
const NEEDS_WORK = new RegExp(
  `[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u2028\\u2029${INVISIBLE}]|${LONE_SURROGATE_SOURCE}`,
);
const NEEDS_WORK_NAME = new RegExp(
  `[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029${INVISIBLE}]|${LONE_SURROGATE_SOURCE}`,
);

function clean(s: string, drop: RegExp): string {
  return s
    .replace(/\r\n/g, '\n')
    .replace(ESCAPE_SEQUENCE, ESCAPE_PLACEHOLDER)
    .replace(drop, '')
    .replace(LONE_SURROGATE, '\ufffd');
}

/** Makes a message body inert for a terminal; keeps newlines, tabs and legitimate joiners. */
export function sanitizeBody(s: string): string {
  if (!NEEDS_WORK.test(s)) return s;
  return s
    .replace(/\r\n/g, '\n')
    .replace(LINE_SEPARATORS, '\n')
    .replace(ESCAPE_SEQUENCE, ESCAPE_PLACEHOLDER)
    .replace(BODY_DROP, (ch: string, i: number, all: string) => (legitimateJoiner(all, i, ch) ? ch : ''))
    .replace(LONE_SURROGATE, '\ufffd');
}

/** Makes a name (or any single-line label) inert for a terminal: no newline, no tab. */
export function sanitizeName(s: string): string {
  if (!NEEDS_WORK_NAME.test(s) && !HAS_NAME_IGNORABLE.test(s)) return s;
  return clean(s, NAME_DROP).replace(NAME_IGNORABLE, '');
}

/** True when sanitizeName would leave the name exactly as it is. */
export function isCleanName(s: string): boolean {
  return !NEEDS_WORK_NAME.test(s) && !HAS_NAME_IGNORABLE.test(s);
}
