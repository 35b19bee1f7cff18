import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtocolError } from '../../lib/protocol/errors.js';
import { nameKey, normalizeName, normalizeRoomName } from '../../lib/protocol/names.js';

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
  assert.equal(normalizeName('Zoë ✓'), 'Zoë ✓');
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
  assert.notEqual(nameKey('alice'), nameKey('alicia'));
});
