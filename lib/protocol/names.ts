/**
 * Rules for user and room names, an identifier profile in the spirit of Unicode TS #39.
 * A name is Unicode NFKC, trimmed, of bounded length, and holds nothing invisible or
 * terminal-active (controls, bidi overrides, every default-ignorable code point, invisible
 * fillers), no combining mark that NFC could not compose on a Latin, Greek, Cyrillic or
 * script-less base (`i` + U+0307 is not a letter anyone can see), no mark of another script
 * than its letter's (Devanagari and Thai keep their own marks), and one script (TS #39 "highly restrictive"; see `scriptsAllowed`). User
 * names also carry nothing that could forge a line of an output format.
 * Uniqueness in a room is one key per name, `nameClass`: the UTS #39 skeleton over the name
 * with case and small capitals folded, and i, l, 1, I, ӏ … as one class.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ProtocolError } from './errors.js';

export const MAX_USER_NAME = 32;
export const MAX_ROOM_NAME = 64;
export const DEFAULT_ROOM = 'chat';

/**
 * The Unicode version of the confusables data (`unhomoglyph`'s copy of `confusables.txt`).
 * test/protocol/names-data.test.ts fails when the installed data is older.
 */
export const CONFUSABLES_UNICODE_VERSION = '13.0.0';

// C0, DEL, C1, bidi controls and marks, zero-width characters, line/paragraph separators, BOM.
const FORBIDDEN =
  /[\u0000-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/u;
// Everything a terminal draws as nothing or as blank: default-ignorable code points (U+034F,
// variation selectors, tags, U+3164 …), format characters (U+00AD …), private-use,
// unassigned and surrogate code points, and blank symbols and fillers that Unicode does not
// call ignorable (U+2800 braille blank, U+1D159 null notehead, U+16FE4 Khitan filler).
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Co}\p{Cn}\p{Cs}\u2800\u{1d159}\u{16fe4}]/u;
// User names are one word: any whitespace would let `/me` (`* alice says hi`) or a notice
// line read as someone else's.
const WHITESPACE = /[\p{White_Space}]/u;
// In the skeleton (so look-alikes count too): a colon ends the name in `name: text`; these
// leading characters start the other line shapes of the REPL and pipe formats.
const COLON = /[:\uff1a]/u;
// Check marks are how the REPL marks a verified member; a name must not carry its own.
const CHECK_MARK = /[\u2610-\u2612\u2705\u2713\u2714\u2716\u2717\u2718]/u;
const BAD_START = /^[*\-!@»#>[]/u;

const MARK = /\p{M}/u;
// Bases whose accented letters NFC composes: a mark NFC left standing on one of these is a
// trick (a dot over an i, a filler after a name), not spelling.
const COMPOSING_BASE = /[\p{scx=Latn}\p{scx=Grek}\p{scx=Cyrl}\p{sc=Zyyy}]/u;
// TS #39 5.4: at most this many marks in a row, never the same mark twice in a row.
const MAX_MARKS_IN_A_ROW = 4;

type ConfusablesTable = Readonly<Record<string, string>>;

/** The confusables data: read, not required (require() would keep the parsed object for good). */
function readConfusables(): ConfusablesTable {
  const path = createRequire(import.meta.url).resolve('unhomoglyph/data.json');
  return JSON.parse(readFileSync(path, 'utf8')) as ConfusablesTable;
}

/** Entries the table's one numeric sort can order (a code point times this, plus its index). */
const INDEX_SPAN = 2 ** 16;

/**
 * The confusables data kept compact: its code points sorted in one array, their prototypes
 * in one string (prototype i is `text.slice(at[i], at[i + 1])`). About 0.1 MB, where the
 * parsed object of 6,311 properties held 0.64 MB of a daemon's heap for good
 * (docs/benchmarks.md, backlog RSS). Built with one native sort of numbers (code point and
 * index in one float) and no array per entry: every client and daemon builds it as it starts.
 */
class PrototypeTable {
  private readonly points: Uint32Array;
  private readonly at: Uint32Array;
  private readonly text: string;

  constructor(data: ConfusablesTable) {
    const chars = Object.keys(data);
    if (chars.length >= INDEX_SPAN) throw new Error('confusables data larger than expected');
    const order = new Float64Array(chars.length);
    for (let i = 0; i < chars.length; i++) order[i] = chars[i]!.codePointAt(0)! * INDEX_SPAN + i;
    order.sort();
    this.points = new Uint32Array(chars.length);
    this.at = new Uint32Array(chars.length + 1);
    const prototypes = new Array<string>(chars.length);
    for (let i = 0; i < order.length; i++) {
      const key = order[i]!;
      const prototype = data[chars[key % INDEX_SPAN]!]!;
      this.points[i] = Math.floor(key / INDEX_SPAN);
      this.at[i + 1] = this.at[i]! + prototype.length;
      prototypes[i] = prototype;
    }
    // Joined, so one flat string (appending would leave a tree of 6,311 pieces).
    this.text = prototypes.join('');
  }

  /** The prototype of one code point, or undefined when it has none. */
  get(ch: string): string | undefined {
    const point = ch.codePointAt(0)!;
    let lo = 0;
    let hi = this.points.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const p = this.points[mid]!;
      if (p === point) return this.text.slice(this.at[mid], this.at[mid + 1]);
      if (p < point) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }
}

const CONFUSABLES = new PrototypeTable(readConfusables());

/** The UTS #39 prototype of one code point (confusables.txt), or undefined. */
export function confusablePrototype(ch: string): string | undefined {
  return CONFUSABLES.get(ch);
}

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

/**
 * Room names follow the same character profile (nothing invisible, no stray marks, one
 * script) with a longer limit and spaces allowed. They are not made unique by class: a room
 * is found by its exact name and entered with its own password, so a look-alike room is
 * another room with another key, not an impersonation of a member.
 */
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
  if (!marksAllowed(name) || !scriptsAllowed(name)) throw new ProtocolError('bad_name');
  return name;
}

/**
 * Combining marks only where NFC leaves them by design: on a letter of a script that is not
 * Latin, Greek or Cyrillic (Devanagari vowel signs, Thai tone marks), a mark of that letter's
 * own script, a few in a row at most.
 * `name` is NFKC, so every mark that could compose with its base already has.
 */
function marksAllowed(name: string): boolean {
  let base: string | undefined;
  let run = 0;
  let previous = '';
  for (const ch of name) {
    if (!MARK.test(ch)) {
      base = ch;
      run = 0;
      previous = ch;
      continue;
    }
    if (base === undefined || COMPOSING_BASE.test(base) || !/\p{L}/u.test(base)) return false;
    // The mark must be one of its base's script: an Inherited mark (U+1D167 tremolo, U+20D2
    // overlay) draws as nothing in most terminal fonts, and a Latin accent on 中 would let
    // `田中́` sit beside `田中` under the Latin-with-Han mix of `scriptsAllowed`.
    if (!sharesScript(ch, base)) return false;
    run++;
    if (run > MAX_MARKS_IN_A_ROW || ch === previous) return false;
    previous = ch;
  }
  return true;
}

/**
 * True when the mark's Script_Extensions and its letter's share a script, as Unicode lists
 * them (not widened to writing systems: a kana sound mark has no place on a Han letter).
 */
function sharesScript(mark: string, base: string): boolean {
  return scriptTable().some(([, re]) => re.test(mark) && re.test(base));
}

// Every script Unicode 17 lists (ISO 15924 codes) but Common, Inherited and Unknown; a code
// the running engine does not know yet is skipped (its letters then have no script here,
// and such a letter is a script of its own in `scriptsAllowed`).
const SCRIPT_CODES =
  'Adlm Aghb Ahom Arab Armi Armn Avst Bali Bamu Bass Batk Beng Bhks Bopo Brah Brai Bugi Buhd Cakm Cans Cari Cham Cher Chrs Copt Cpmn Cprt Cyrl Deva Diak Dogr Dsrt Dupl Egyp Elba Elym Ethi Gara Geor Glag Gong Gonm Goth Gran Grek Gujr Gukh Guru Hang Hani Hano Hatr Hebr Hira Hluw Hmng Hmnp Hung Ital Java Kali Kana Kawi Khar Khmr Khoj Kits Knda Krai Kthi Lana Laoo Latn Lepc Limb Lina Linb Lisu Lyci Lydi Mahj Maka Mand Mani Marc Medf Mend Merc Mero Mlym Modi Mong Mroo Mtei Mult Mymr Nagm Nand Narb Nbat Newa Nkoo Nshu Ogam Olck Onao Orkh Orya Osge Osma Ougr Palm Pauc Perm Phag Phli Phlp Phnx Plrd Prti Rjng Rohg Runr Samr Sarb Saur Sgnw Shaw Shrd Sidd Sind Sinh Sogd Sogo Sora Soyo Sund Sunu Sylo Syrc Tagb Takr Tale Talu Taml Tang Tavt Telu Tfng Tglg Thaa Thai Tibt Tirh Tnsa Todr Toto Tutg Ugar Vaii Vith Wara Wcho Xpeo Xsux Yezi Yiii Zanb';
type ScriptTests = ReadonlyArray<readonly [string, RegExp]>;
let scriptTests: ScriptTests | undefined;
/**
 * One test a script, compiled on first use: ~170 Unicode property classes cost a process
 * ~20 ms to compile, and an ASCII name, the usual case, never needs them.
 */
function scriptTable(): ScriptTests {
  scriptTests ??= SCRIPT_CODES.split(' ').flatMap((code) => {
    try {
      return [[code, new RegExp(`\\p{scx=${code}}`, 'u')] as const];
    } catch {
      return [];
    }
  });
  return scriptTests;
}
// Characters of every script (Script_Extensions Common or Inherited: digits, punctuation,
// emoji, most marks) do not count towards a name's scripts.
const ANY_SCRIPT = /[\p{scx=Zyyy}\p{scx=Zinh}]/u;
// TS #39's writing systems that mix scripts, as the one "script" they form.
const WRITING_SYSTEMS: Readonly<Record<string, readonly string[]>> = {
  Hani: ['Hani', 'Jpan', 'Kore', 'Hanb'],
  Hira: ['Hira', 'Jpan'],
  Kana: ['Kana', 'Jpan'],
  Hang: ['Hang', 'Kore'],
  Bopo: ['Bopo', 'Hanb'],
};

/** A character's scripts (its Script_Extensions, widened by WRITING_SYSTEMS); cached. */
const scriptCache = new Map<string, readonly string[]>();
function scriptsOf(ch: string): readonly string[] {
  const cached = scriptCache.get(ch);
  if (cached) return cached;
  const found: string[] = [];
  for (const [code, re] of scriptTable()) if (re.test(ch)) found.push(...(WRITING_SYSTEMS[code] ?? [code]));
  // A letter the table does not know is a script of its own.
  const scripts = found.length > 0 ? found : [`?${ch}`];
  if (scriptCache.size >= 4096) scriptCache.clear(); // bounded: names come from the network
  scriptCache.set(ch, scripts);
  return scripts;
}

/**
 * TS #39's "highly restrictive" level: the characters that belong to a script all share one
 * (Han with Hiragana and Katakana, Han with Hangul, Han with Bopomofo each count as one), or
 * Latin plus one of those three. "Moderately restrictive" would also let Latin mix with any
 * script but Greek and Cyrillic (Cherokee `Ꭺ`, Armenian `օ`), where the confusables data is
 * what stands between a name and its look-alike; in a name of at most 32 characters nobody
 * needs two alphabets, so the stricter level costs nothing real.
 */
function scriptsAllowed(name: string): boolean {
  let common: readonly string[] | undefined;
  let latinSeen = false;
  let otherCommon: readonly string[] | undefined;
  for (const ch of name) {
    if (ch < '\u0080' ? !/[A-Za-z]/.test(ch) : ANY_SCRIPT.test(ch)) continue;
    const scripts = ch < '\u0080' ? ['Latn'] : scriptsOf(ch);
    common = common === undefined ? scripts : common.filter((s) => scripts.includes(s));
    if (scripts.includes('Latn')) latinSeen = true;
    else otherCommon = otherCommon === undefined ? scripts : otherCommon.filter((s) => scripts.includes(s));
  }
  if (common === undefined || common.length > 0) return true;
  // Latin together with one East Asian writing system.
  return latinSeen && otherCommon?.some((s) => s === 'Jpan' || s === 'Kore' || s === 'Hanb') === true;
}

/** The UTS #39 skeleton: NFD, every code point replaced by its prototype, NFD again. */
export function confusablesSkeleton(s: string): string {
  let out = '';
  for (const ch of s.normalize('NFD')) out += CONFUSABLES.get(ch) ?? ch;
  return out.normalize('NFD');
}

// Small capitals, which neither NFKC nor the confusables data fold (`ᴀʟɪᴄᴇ` is alice).
const SMALL_CAPITALS: Readonly<Record<string, string>> = {
  ɢ: 'g',
  ɪ: 'i',
  ɴ: 'n',
  ɶ: 'œ',
  ʀ: 'r',
  ʏ: 'y',
  ʙ: 'b',
  ʜ: 'h',
  ʟ: 'l',
  ᴀ: 'a',
  ᴁ: 'æ',
  ᴄ: 'c',
  ᴅ: 'd',
  ᴆ: 'ð',
  ᴇ: 'e',
  ᴊ: 'j',
  ᴋ: 'k',
  ᴌ: 'ł',
  ᴍ: 'm',
  ᴏ: 'o',
  ᴘ: 'p',
  ᴛ: 't',
  ᴜ: 'u',
  ᴠ: 'v',
  ᴡ: 'w',
  ᴢ: 'z',
  ᴣ: 'ʒ',
  ᵻ: 'ɨ',
  ᵾ: 'ʉ',
  ꜰ: 'f',
  ꜱ: 's',
  Ɪ: 'i',
  ꞯ: 'q',
  ᴦ: 'γ',
  ᴧ: 'λ',
  ᴨ: 'π',
  ᴩ: 'ρ',
  ᴪ: 'ψ',
  ꭥ: 'ω',
  ᴫ: 'л',
};

/** Small capitals folded, then full case folding as far as JavaScript has it (`ß`, `SS`). */
function fold(s: string): string {
  let out = '';
  for (const ch of s) out += SMALL_CAPITALS[ch] ?? ch;
  return out.toUpperCase().toLowerCase();
}

/**
 * The confusable class of a name: two names with the same class are refused in one room.
 * Stable and printable, for use as a key (a room's name table, the cluster, a NATS KV bucket):
 * 1. NFKC; small capitals folded to their letters; full case folding;
 * 2. the UTS #39 skeleton, then folding and the skeleton again until nothing changes (the
 *    data maps `0` to `O`, which folds to `o`, and Cherokee `ꭰ` to `ᴅ`), at most three rounds;
 * 3. `i` written as `l`: the data maps I, 1, |, ӏ to `l` and ı, ι, і to `i`, which look alike
 *    too in most terminal fonts, so they are one class;
 * 4. NFD, then every code point outside `a-z0-9` written as `_` and six lowercase hex digits.
 * So `alice`, `ALICE`, `aӏice`, `a1ice`, `ᴀʟɪᴄᴇ` all give `allce`, `b0b` gives `bob`, and
 * `田中` gives `_007530_004e2d`. Changing any step changes keys: it is a protocol change.
 */
export function nameClass(name: string): string {
  const known = classes.get(name);
  if (known !== undefined) return known;
  const key = computeNameClass(name);
  if (name.length <= CLASS_CACHE_NAME_MAX) {
    if (classes.size >= CLASS_CACHE_MAX) classes.delete(classes.keys().next().value!);
    classes.set(name, key);
  }
  return key;
}

/**
 * Recent classes by name: a client checks the sender's trust on every message it shows
 * (about a tenth of its CPU under a flood before this cache). Bounded in entries and in the
 * length of a name kept; the oldest entry goes first.
 */
const classes = new Map<string, string>();
const CLASS_CACHE_MAX = 1024;
const CLASS_CACHE_NAME_MAX = 64;

function computeNameClass(name: string): string {
  let key = confusablesSkeleton(fold(name.normalize('NFKC')));
  for (let round = 0; round < 3; round++) {
    const next = confusablesSkeleton(fold(key));
    if (next === key) break;
    key = next;
  }
  let out = '';
  for (const ch of key.replaceAll('i', 'l').normalize('NFD')) {
    out += /^[a-z0-9]$/.test(ch) ? ch : `_${ch.codePointAt(0)!.toString(16).padStart(6, '0')}`;
  }
  return out;
}

/** True when two names would be mistaken for each other (the same `nameClass`). */
export function namesCollide(a: string, b: string): boolean {
  return nameClass(a) === nameClass(b);
}

/** Older callers' names for `nameClass`: a name has one key now. */
export function nameKey(name: string): string {
  return nameClass(name);
}
