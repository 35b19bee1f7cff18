/**
 * Personal identity passphrases: a generated one (random words of the BIP39 list) and the
 * strength rule a chosen one must pass. The fingerprint derived from the passphrase is
 * public, so anyone can test guesses offline; the rule only counts what a guesser cannot
 * shortcut:
 * - a word of the 2,048-word list counts 11 bits (what it is worth when drawn at random, as
 *   the generator does), once: a repeated word, or a list neighbour of the word before it
 *   (`abandon ability able …`), counts nothing;
 * - any other character counts 1.5 bits (roughly what a character of human-chosen text is
 *   worth to a guesser), except a repeat of the character before it or the next or previous
 *   code point (`aaaa`, `1234`, `dcba`), which counts nothing, and a stretch of REPEAT_MIN or
 *   more characters that already appeared earlier in the other text (`alice alice alice`,
 *   `iloveyouiloveyou`, `Password1Password1`), which counts nothing either;
 * - separators (spaces, `-`, `_`, `.`, `,`) count nothing.
 * At least MIN_PASSPHRASE_BITS are required: 6 random list words, or about 44 characters of
 * other text. The rule cannot see how words were chosen: a sentence made up of list words is
 * weaker than its count, and a random string from a password manager is undercounted.
 */
import { randomInt } from 'node:crypto';
import { WORDS } from './wordlist.js';

/** Bits a passphrase must count to be accepted as an identity passphrase. */
export const MIN_PASSPHRASE_BITS = 66;
/** Words in a generated passphrase: 8 distinct random list words, about 87.7 bits. */
export const GENERATED_WORDS = 8;

const WORD_BITS = 11;
const CHAR_BITS = 1.5;
const SEPARATORS = /[\s\-_.,]+/u;
/** The shortest stretch of characters counted as a repeat of earlier text. */
const REPEAT_MIN = 4;
const INDEX = new Map(WORDS.map((w, i) => [w, i] as const));

/** The strength the rule above gives `passphrase`, in bits. */
export function passphraseBits(passphrase: string): number {
  const tokens = passphrase.normalize('NFKC').toLowerCase().split(SEPARATORS).filter(Boolean);
  const seen = new Set<string>();
  let bits = 0;
  let previousWord: number | undefined;
  // The characters of the tokens that are not list words, as counted so far (one space
  // between tokens, so a repeat does not run across two of them).
  let text = '';
  for (const token of tokens) {
    const index = INDEX.get(token);
    if (index !== undefined) {
      const neighbour = previousWord !== undefined && Math.abs(index - previousWord) === 1;
      if (!seen.has(token) && !neighbour) bits += WORD_BITS;
      seen.add(token);
      previousWord = index;
      continue;
    }
    previousWord = undefined;
    const chars = [...token];
    let previous: number | undefined;
    for (let i = 0; i < chars.length; ) {
      const repeat = repeatLength(text, chars, i);
      if (repeat > 0) {
        text += chars.slice(i, i + repeat).join('');
        i += repeat;
        previous = undefined;
        continue;
      }
      const ch = chars[i]!;
      const cp = ch.codePointAt(0) ?? 0;
      if (previous === undefined || Math.abs(cp - previous) > 1) bits += CHAR_BITS;
      previous = cp;
      text += ch;
      i++;
    }
    text += ' ';
  }
  return bits;
}

/**
 * How many characters from `chars[at]` on repeat a stretch of `before` (the longest such
 * stretch), or 0 when fewer than REPEAT_MIN do.
 */
function repeatLength(before: string, chars: readonly string[], at: number): number {
  let length = 0;
  while (at + length < chars.length && before.includes(chars.slice(at, at + length + 1).join(''))) length++;
  return length >= REPEAT_MIN ? length : 0;
}

/** True when `passphrase` is strong enough for an identity (see the rule above). */
export function strongEnough(passphrase: string): boolean {
  return passphraseBits(passphrase) >= MIN_PASSPHRASE_BITS;
}

/**
 * A random passphrase of GENERATED_WORDS distinct list words joined by spaces; drawn again in
 * the rare case the rule would not count it in full (two list neighbours side by side).
 */
export function generateWordPassphrase(): string {
  for (;;) {
    const picked = new Set<string>();
    while (picked.size < GENERATED_WORDS) picked.add(WORDS[randomInt(WORDS.length)]!);
    const phrase = [...picked].join(' ');
    if (passphraseBits(phrase) === GENERATED_WORDS * WORD_BITS) return phrase;
  }
}
