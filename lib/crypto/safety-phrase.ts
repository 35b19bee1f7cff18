/**
 * The room's safety phrase: nine words that every member of a room sees alike when the
 * daemon hands everyone the same member cards, and differently when it does not. It is
 * derived from the room fingerprint and the sorted (name, signing key) pairs of the members
 * present, so members compare one phrase out of band instead of verifying every pair.
 *
 * A daemon that holds the room key chooses the keys it mints and can grind them until the
 * phrases of two deceived members match: a collision between two sets it controls, so the
 * work is the square root of the phrase space. Against that: 9 words of 2,048 (99 bits, so
 * about 2^49.5 tries for a collision) and each try is a scrypt with N = 2^15, r = 8 (32 MiB of
 * memory). With `--identity` the real keys are known ahead, so the grinding can be done
 * before the session: the phrase must hold on its own. See docs/security.md for the figures.
 */
import { scrypt } from 'node:crypto';
import { framed } from './identity.js';
import { WORDS } from './wordlist.js';

/** scrypt's cost per phrase: memory 128·N·r = 32 MiB. */
export const SAFETY_SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const;
/** Words in a phrase (11 bits each): 99 bits. */
export const SAFETY_WORDS = 9;
/** scrypt's output: the phrase is its first SAFETY_WORDS · 11 bits. */
const OUTPUT_BYTES = Math.ceil((SAFETY_WORDS * 11) / 8);
const SPARE_BITS = OUTPUT_BYTES * 8 - SAFETY_WORDS * 11;
const MAXMEM = 48 * 1024 * 1024;
const CONTEXT = 'cmd-chat/v2 safety phrase';

/** One member as the phrase sees it; `signPublic` is absent for a member without a valid card. */
export interface PhraseMember {
  name: string;
  signPublic: Buffer | undefined;
}

/** The phrase's input: context, room fingerprint, then the members sorted by name and key. */
export function safetyInput(roomFingerprint: string, members: readonly PhraseMember[]): Buffer {
  const pairs = members.map((m) => framed('', [m.name, m.signPublic ?? Buffer.alloc(0)]));
  pairs.sort(Buffer.compare);
  return framed(CONTEXT, [roomFingerprint, ...pairs]);
}

/** The safety phrase of a room's membership as this member sees it (9 words, lower case). */
export function safetyPhrase(roomFingerprint: string, members: readonly PhraseMember[]): Promise<string> {
  const input = safetyInput(roomFingerprint, members);
  return new Promise((resolve, reject) => {
    scrypt(input, CONTEXT, OUTPUT_BYTES, { ...SAFETY_SCRYPT, maxmem: MAXMEM }, (err, out) => {
      if (err) return reject(err);
      const words: string[] = [];
      let acc = 0n;
      for (const byte of out) acc = (acc << 8n) | BigInt(byte);
      for (let i = SAFETY_WORDS - 1; i >= 0; i--)
        words.push(WORDS[Number((acc >> BigInt(SPARE_BITS + i * 11)) & 2047n)]!);
      resolve(words.join(' '));
    });
  });
}
