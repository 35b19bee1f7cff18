import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtocolError } from '../../lib/protocol/errors.js';
import {
  confusablesSkeleton,
  nameClass,
  nameKey,
  namesCollide,
  normalizeName,
  normalizeRoomName,
} from '../../lib/protocol/names.js';
import { NAMES_IN_MANY_SCRIPTS } from '../helpers/real-names.js';

const bad = (value: unknown, max?: number): void => {
  assert.throws(
    () => normalizeName(value, max),
    (e: unknown) => e instanceof ProtocolError && e.code === 'bad_name',
    JSON.stringify(value),
  );
};

test('names are NFKC-normalised and trimmed', () => {
  assert.equal(normalizeName('  alice  '), 'alice');
  assert.equal(normalizeName('ｆｕｌｌ'), 'full'); // fullwidth → ASCII under NFKC
  assert.equal(normalizeName('é'), 'é'); // e + combining acute → one character
  assert.equal(normalizeName('Zoë★'), 'Zoë★');
  assert.equal(normalizeRoomName('team room'), 'team room');
});

test('length is counted in characters: 1 to 32 for users, 64 for rooms', () => {
  assert.equal(normalizeName('x'.repeat(32)), 'x'.repeat(32));
  bad('x'.repeat(33));
  assert.equal(normalizeName('😀'.repeat(32)), '😀'.repeat(32));
  bad('');
  bad('   ');
  assert.equal(normalizeRoomName('r'.repeat(64)), 'r'.repeat(64));
  assert.throws(() => normalizeRoomName('r'.repeat(65)));
});

test('controls, escapes, bidi overrides and zero-width characters are refused', () => {
  for (const s of [
    'a\u001b[31mb',
    'a\nb',
    'a\tb',
    'a\u0000',
    'a\u007f',
    'a\u009bb',
    'evil\u202egnp.exe',
    'a\u2066b',
    'a\u200bb',
    'a\u200db',
    'a\ufeffb',
    'a\u2028b',
    'a\ud800b',
  ]) {
    bad(s);
  }
  bad(42);
  bad(null);
  bad({ name: 'x' });
});

test('uniqueness is case-insensitive', () => {
  assert.equal(nameKey('Alice'), nameKey('ALICE'));
  assert.ok(namesCollide('Alice', 'ALICE'));
  assert.notEqual(nameKey('alice'), nameKey('alicia'));
});

test('default-ignorable, format and blank characters are refused wherever they are', () => {
  for (const cp of [0x034f, 0xfe0f, 0xe0020, 0x3164, 0x00ad, 0x2800, 0x115f, 0xffa0, 0x1d173, 0xe000]) {
    const ch = String.fromCodePoint(cp);
    bad(`alice${ch}`);
    bad(`${ch}alice`);
    bad(`al${ch}ice`);
    assert.throws(() => normalizeRoomName(`room${ch}`), ProtocolError);
  }
});

test('names that could forge a line of an output format are refused', () => {
  for (const s of [
    'bob:',
    'bob:I',
    'a\uff1ab', // fullwidth colon (NFKC makes it ":")
    'bob\u2236x', // RATIO, a colon look-alike
    'bob\u02d0x', // modifier letter triangular colon
    '*bob',
    '\u2217bob', // asterisk operator
    '-bob',
    '--',
    '!bob',
    '@bob',
    '\u00bbbob',
    'bob waves', // `* bob waves hi` would read as bob's /me
    'bob\u00a0x',
    'bob\u3000x',
    'alice\u2713', // the REPL's mark of a verified member
    'alice\u2714',
  ]) {
    bad(s);
  }
  // Inside a name these are harmless.
  for (const s of ['b-o-b', 'bob!', 'o*o', 'bob@home']) assert.equal(normalizeName(s), s);
});

test('uniqueness follows the UTS #39 skeleton together with case', () => {
  assert.equal(confusablesSkeleton('\u0430lice'), 'alice'); // Cyrillic а
  for (const lookalike of [
    'alice',
    'ALICE',
    'Alice',
    '\u0430lice',
    'a1ice',
    'aIice',
    'ali\u0441e',
    '\u0251lice',
  ]) {
    assert.ok(namesCollide('alice', lookalike), lookalike);
    assert.ok(namesCollide(lookalike, 'alice'), lookalike);
  }
  assert.ok(namesCollide('rn', 'm'), 'rn/m');
  assert.ok(namesCollide('paypal', 'p\u0430yp\u0430l'));
  for (const other of ['alicia', 'bob', 'alice2', 'ali']) assert.ok(!namesCollide('alice', other), other);
});

// Issue 20: the look-alikes that passed beside `alice`, refused now (as a bad name or as the
// same class), and the real names that must still pass.
const LOOKALIKES_OF_ALICE = [
  'ali\u0307ce', // i + combining dot above: NFC has no such letter
  'a\u04cfice', // Cyrillic palochka
  'alice\u{16fe4}', // Khitan small script filler
  'alice\u{1bc9d}', // Duployan thick letter selector
  'alice\u{1d167}', // musical combining tremolo
  '\u1d00\u029f\u026a\u1d04\u1d07', // small capitals
  'aIice',
  'a1ice',
  'al\u0131ce', // dotless i
  'al\u0456ce', // Cyrillic і
  'ALICE',
  'A\u029fice',
];

test('every look-alike of alice from the review is refused beside alice', () => {
  for (const lookalike of LOOKALIKES_OF_ALICE) {
    let refused = false;
    try {
      refused = nameClass(normalizeName(lookalike)) === nameClass('alice');
    } catch (e) {
      refused = e instanceof ProtocolError && e.code === 'bad_name';
    }
    assert.ok(refused, `${JSON.stringify(lookalike)} would sit beside alice`);
  }
  assert.equal(nameClass('b0b'), nameClass('bob'));
});

test('real names in many scripts pass and keep distinct classes', () => {
  const names = [
    ...NAMES_IN_MANY_SCRIPTS,
    'Nguyễn',
    'Ἀλέξανδρος',
    'bob田中',
    '김민준',
    'محمد',
    'bob_42',
    'Zoë★',
  ];
  for (const name of names) assert.equal(normalizeName(name), name.normalize('NFKC'), name);
  assert.equal(new Set(names.map(nameClass)).size, names.length);
});

test('combining marks: refused where NFC would have composed, kept where the script needs them', () => {
  bad('e\u0301\u0301'); // é then another acute on a Latin base
  bad('Zoe\u0308\u0323'); // ë composes; the dot below left over does not
  bad('\u0301alice'); // a mark with no base
  bad('5\u20e3x'); // a mark on a digit
  bad('\u043a\u0306'); // Cyrillic к + breve: no such letter
  bad('\u03b1\u0334'); // Greek α + tilde overlay
  assert.equal(normalizeName('e\u0301'), '\u00e9'); // composed by NFKC: fine
  bad('\u0915\u093f\u093f'); // the same Devanagari vowel sign twice
  bad(`\u0915${'\u0901\u0902\u0903\u093c\u094d'}`); // five marks in a row
  assert.equal(normalizeName('\u0915\u093f'), '\u0915\u093f'); // कि
});

test('one script per name (TS #39 highly restrictive), Common and Inherited aside', () => {
  for (const mixed of ['p\u0430ypal', 'ab\u03b3', 'Дмитрийx', 'bob\u0915', '\u13aalice', 'b\u0585b'])
    bad(mixed);
  // Latin with a Japanese, Korean or Chinese writing system is one of TS #39's allowed mixes.
  for (const ok of ['bob田中', 'さくらSakura', 'Kim김', 'lee_42!']) assert.equal(normalizeName(ok), ok);
  assert.throws(() => normalizeRoomName('team \u0442eam'), ProtocolError);
  assert.equal(normalizeRoomName('Команда 7'), 'Команда 7');
});

test('no code point the terminal draws as nothing makes alice a new name', async () => {
  // Every code point string-width measures as zero columns: appended to alice, it is refused,
  // gives alice's own class or composes into a visible letter (alicè). The review counted
  // 1,816 accepted as a "distinct" suffix.
  const { default: stringWidth } = await import('string-width');
  const alice = nameClass('alice');
  const accepted: string[] = [];
  let zeroWidth = 0;
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const ch = String.fromCodePoint(cp);
    if (stringWidth(ch) !== 0) continue;
    zeroWidth++;
    try {
      const name = normalizeName(`alice${ch}`);
      if (name.startsWith('alice') && nameClass(name) !== alice) accepted.push(cp.toString(16));
    } catch {}
  }
  assert.ok(zeroWidth > 1800, `only ${zeroWidth} zero-width code points found`);
  assert.deepEqual(accepted, []);
});

test('nameClass is printable, stable and one string per name', () => {
  assert.equal(nameClass('alice'), 'allce');
  assert.equal(nameClass('ALICE'), 'allce');
  assert.equal(nameClass('b0b'), 'bob');
  assert.equal(nameClass('田中'), '_007530_004e2d');
  assert.equal(nameClass('Zoë'), 'zoe_000308');
  for (const name of ['alice', 'Zoë', 'Łukasz', 'प्रिया', 'สมชาย', 'x'.repeat(32)]) {
    assert.match(nameClass(name), /^[a-z0-9_]+$/);
  }
  // Classes drawn from the confusables data itself: each prototype's sources share its class.
  const pairs: [string, string][] = [
    ['\u{1d41a}lice', 'alice'], // mathematical bold a (NFKC)
    ['\u0251lice', 'alice'], // Latin alpha
    ['ali\u0441e', 'alice'], // Cyrillic с
    ['rn', 'm'],
    ['\u026f', 'w'], // turned m
    ['\u13a0', 'D'], // Cherokee A looks like D
    ['\u0585', 'o'], // Armenian oh
  ];
  for (const [a, b] of pairs) assert.equal(nameClass(a), nameClass(b), `${a} / ${b}`);
});

test('a mark must belong to its letter’s script: nothing invisible or foreign after 田中 or สมชาย', () => {
  // The review's invisible tremolo after alice, tried after names of other scripts; and a
  // Latin accent on a Han letter (Latin with Han is an allowed mix of scripts).
  for (const name of ['田中', '田中さくら', 'สมชาย', 'प्रिया', '김민준', 'محمد']) {
    for (const mark of ['\u{1d167}', '\u20d2', '\u{1bc9d}']) bad(`${name}${mark}`);
  }
  for (const name of ['田中', '김민준']) for (const mark of ['\u0301', '\u0303']) bad(`${name}${mark}`);
  // Every combining mark after each real name: refused, the name's own class, or a mark of
  // the script of the letter before it (a Thai tone mark, a Devanagari sign).
  const scriptOf = (ch: string): RegExp | undefined =>
    [/\p{scx=Thai}/u, /\p{scx=Deva}/u, /\p{scx=Hani}/u, /\p{scx=Hira}/u, /\p{scx=Cyrl}/u].find((re) =>
      re.test(ch),
    );
  const foreign: string[] = [];
  for (const name of NAMES_IN_MANY_SCRIPTS) {
    const last = [...name].at(-1)!;
    const own = scriptOf(last);
    for (let cp = 0x300; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      if (!/\p{M}/u.test(ch) || (own?.test(ch) ?? false)) continue;
      try {
        const accepted = normalizeName(`${name}${ch}`);
        if (nameClass(accepted) !== nameClass(name) && [...accepted].length > [...name].length)
          foreign.push(`${name}+${cp.toString(16)}`);
      } catch {}
    }
  }
  assert.deepEqual(foreign, []);
});
