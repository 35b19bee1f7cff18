import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtocolError } from '../../lib/protocol/errors.js';
import {
  confusablesSkeleton,
  nameKey,
  namesCollide,
  normalizeName,
  normalizeRoomName,
} from '../../lib/protocol/names.js';

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
