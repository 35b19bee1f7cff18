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
 *   U+180E, U+FFF9–U+FFFB) are dropped. This splits emoji ZWJ sequences into their parts,
 *   an acceptable price for names that cannot impersonate and text that cannot reorder.
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
const NAME_DROP = new RegExp(`[\\x00-\\x1f\\x7f-\\x9f${INVISIBLE}]`, 'g');
const LONE_SURROGATE_SOURCE =
  '[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]';
const LONE_SURROGATE = new RegExp(LONE_SURROGATE_SOURCE, 'g');

// Fast path: most messages contain none of these and are returned untouched. (No `g` flag:
// `test` on a global regex would carry lastIndex from one call to the next.)
const NEEDS_WORK = new RegExp(`[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f${INVISIBLE}]|${LONE_SURROGATE_SOURCE}`);
const NEEDS_WORK_NAME = new RegExp(`[\\x00-\\x1f\\x7f-\\x9f${INVISIBLE}]|${LONE_SURROGATE_SOURCE}`);

function clean(s: string, drop: RegExp): string {
  return s
    .replace(/\r\n/g, '\n')
    .replace(ESCAPE_SEQUENCE, ESCAPE_PLACEHOLDER)
    .replace(drop, '')
    .replace(LONE_SURROGATE, '\ufffd');
}

/** Makes a message body inert for a terminal; keeps newlines and tabs. */
export function sanitizeBody(s: string): string {
  if (!NEEDS_WORK.test(s)) return s;
  return clean(s, BODY_DROP);
}

/** Makes a name (or any single-line label) inert for a terminal: no newline, no tab. */
export function sanitizeName(s: string): string {
  if (!NEEDS_WORK_NAME.test(s)) return s;
  return clean(s, NAME_DROP);
}

/** True when sanitizeName would leave the name exactly as it is. */
export function isCleanName(s: string): boolean {
  return !NEEDS_WORK_NAME.test(s);
}
