/**
 * sanitize: every hostile terminal trick in a body or a name comes out inert, and ordinary
 * text (including emoji, CJK, tabs, newlines) comes out untouched.
 */
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import {
  isCleanName,
  ESCAPE_PLACEHOLDER as P,
  sanitizeBody,
  sanitizeName,
} from '../../lib/client/sanitize.js';

// Anything a terminal could act on, or that hides/reorders text.
const DANGEROUS =
  /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const HOSTILE: Record<string, string> = {
  oscTitleBel: 'hi\x1b]0;pwned\x07there',
  oscTitleSt: 'hi\x1b]2;pwned\x1b\\there',
  osc52Clipboard: '\x1b]52;c;cm0gLXJmIH4=\x07copied',
  oscHyperlink: '\x1b]8;;https://evil.example\x07click\x1b]8;;\x07',
  screenClear: 'a\x1b[2J\x1b[Hb',
  fullReset: 'a\x1bcb',
  cursorMoves: 'x\x1b[10;10H\x1b[1A\x1b[2K\x1b7\x1b8y',
  c1Csi: 'a\u009b2Jb',
  c1Osc: 'a\u009d0;t\u0007b',
  dcs: 'a\x1bP+q544e\x1b\\b',
  c1Dcs: 'a\u0090qpayload\u009cb',
  apc: 'a\x1b_Gf=100;AAAA\x1b\\b',
  unterminatedOsc: 'before\x1b]0;never ends and more text',
  unterminatedDcs: 'before\x1bPq#0;2;0;0;0 rest',
  partialCsi: 'end\x1b[12',
  loneEsc: 'trailing\x1b',
  bidiOverride: 'file\u202egnp.exe',
  isolates: 'a\u2066b\u2067c\u2068d\u2069e\u200ef\u200fg\u061ch',
  zeroWidth: 'ad\u200bmin\u200c\u200d\u2060\ufeff\u180e',
  nul: 'a\x00b',
  del: 'a\x7fb',
  bell: 'ding\x07dong',
  crOverwrite: 'safe command\rrm -rf ~',
  backspaces: 'rm -rf\b\b\b\b\b\bls',
  loneSurrogates: 'a\ud800b\udc00c',
  decaln: 'x\x1b#8y',
  charset: 'x\x1b(0lqqk\x1b(By',
  nested: '\x1b\x1b[31m\x1b]0;\x1b[2J\x07',
};

describe('sanitizeBody', () => {
  for (const [name, s] of Object.entries(HOSTILE)) {
    it(`makes ${name} inert`, () => {
      const out = sanitizeBody(s);
      assert.doesNotMatch(out, DANGEROUS);
      assert.equal(sanitizeBody(out), out, 'idempotent');
    });
  }

  it('replaces a whole escape sequence with one visible placeholder', () => {
    assert.equal(sanitizeBody('hi\x1b]0;pwned\x07there'), `hi${P}there`);
    assert.equal(sanitizeBody('hi\x1b]2;pwned\x1b\\there'), `hi${P}there`);
    assert.equal(sanitizeBody('a\x1b[2J\x1b[Hb'), `a${P}${P}b`);
    assert.equal(sanitizeBody('a\x1bcb'), `a${P}b`);
    assert.equal(sanitizeBody('a\u009b2Jb'), `a${P}b`);
    assert.equal(sanitizeBody('a\x1bP+q544e\x1b\\b'), `a${P}b`);
    assert.equal(sanitizeBody('a\u0090qpayload\u009cb'), `a${P}b`);
    assert.equal(sanitizeBody('x\x1b#8y'), `x${P}y`);
    assert.equal(sanitizeBody('x\x1b(0lqqk\x1b(By'), `x${P}lqqk${P}y`);
    assert.equal(sanitizeBody('end\x1b[12'), `end${P}`);
    assert.equal(sanitizeBody('trailing\x1b'), `trailing${P}`);
  });

  it('does not let an unterminated OSC or DCS hide the rest of the message', () => {
    assert.equal(sanitizeBody('before\x1b]0;never ends'), `before${P}0;never ends`);
    assert.equal(sanitizeBody('before\x1bPq rest'), `before${P}q rest`);
    assert.equal(sanitizeBody('a\u009d0;rest'), `a${P}0;rest`);
  });

  it('does not let a string sequence swallow text across a newline', () => {
    assert.equal(sanitizeBody('a\x1b]0;x\nsecond line\x07z'), `a${P}0;x\nsecond linez`);
  });

  it('drops C0/C1 controls other than newline and tab', () => {
    assert.equal(sanitizeBody('a\x00b\x7fc\x07d\bE\x0bf\x0cg\u0085h'), 'abcdEfgh');
    assert.equal(sanitizeBody('safe\rEVIL'), 'safeEVIL');
    assert.equal(sanitizeBody('one\r\ntwo'), 'one\ntwo');
    assert.equal(sanitizeBody('a\tb\nc'), 'a\tb\nc');
  });

  it('drops bidi and zero-width characters', () => {
    assert.equal(sanitizeBody('file\u202egnp.exe'), 'filegnp.exe');
    assert.equal(sanitizeBody(HOSTILE['isolates']!), 'abcdefgh');
    assert.equal(sanitizeBody(HOSTILE['zeroWidth']!), 'admin');
  });

  it('replaces lone surrogates and keeps pairs', () => {
    assert.equal(sanitizeBody('a\ud800b\udc00c'), 'a\ufffdb\ufffdc');
    assert.equal(sanitizeBody('x\ud83d'), 'x\ufffd');
    assert.equal(sanitizeBody('🎉 ok'), '🎉 ok');
  });

  it('returns ordinary text unchanged', () => {
    for (const s of ['hello world', 'héllo — ünïcode 日本語 🎉', 'tabs\tand\nlines', '```js\nx\n```', '']) {
      assert.equal(sanitizeBody(s), s);
    }
  });

  it('is linear on many unterminated introducers', () => {
    const s = '\x1b]'.repeat(50_000) + '\u009d'.repeat(50_000);
    const out = sanitizeBody(s);
    assert.doesNotMatch(out, DANGEROUS);
  });
});

describe('sanitizeName', () => {
  it('removes newline and tab as well', () => {
    assert.equal(sanitizeName('ali\nce\t'), 'alice');
    assert.equal(sanitizeName('bob\r\n'), 'bob');
  });

  for (const [name, s] of Object.entries(HOSTILE)) {
    it(`makes ${name} inert and single-line`, () => {
      const out = sanitizeName(s);
      assert.doesNotMatch(out, DANGEROUS);
      assert.doesNotMatch(out, /[\n\t]/);
    });
  }

  it('strips a zero-width joiner used to impersonate', () => {
    assert.equal(sanitizeName('al\u200dice'), 'alice');
    assert.equal(sanitizeName('\u202eecila'), 'ecila');
  });
});

describe('isCleanName', () => {
  it('accepts ordinary names, including non-ASCII and emoji', () => {
    for (const n of ['alice', 'Bob_2', 'José', '李雷', 'dev🎉', 'a b', `x${P}`])
      assert.equal(isCleanName(n), true, n);
  });

  it('rejects anything sanitizeName would change', () => {
    for (const n of [
      'al\u200dice',
      'a\nb',
      'a\tb',
      'a\x1b[31mb',
      'a\u009bb',
      '\u202eevil',
      'x\ud800',
      'a\x7f',
      'a\u2066b',
    ]) {
      assert.equal(isCleanName(n), false, JSON.stringify(n));
      assert.notEqual(sanitizeName(n), n);
    }
  });

  it('agrees with sanitizeName on every hostile sample', () => {
    for (const s of Object.values(HOSTILE)) assert.equal(isCleanName(s), sanitizeName(s) === s);
  });
});

describe('joiners and line separators', () => {
  test('ZWJ inside emoji sequences is kept in bodies', () => {
    for (const emoji of ['👩\u200d💻', '👨\u200d👩\u200d👧', '🏳\ufe0f\u200d🌈', '👍🏽\u200d🔥']) {
      assert.equal(sanitizeBody(`ok ${emoji}!`), `ok ${emoji}!`);
    }
  });

  test('ZWNJ/ZWJ inside words of scripts that need them are kept in bodies', () => {
    const persian = 'می\u200cخواهم'; // "I want": ZWNJ between Arabic-script letters
    const devanagari = 'क्\u200dष'; // ZWJ after a virama
    assert.equal(sanitizeBody(persian), persian);
    assert.equal(sanitizeBody(devanagari), devanagari);
  });

  test('joiners that could spoof are dropped: in Latin words, at edges, and always in names', () => {
    assert.equal(sanitizeBody('pay\u200dpal'), 'paypal');
    assert.equal(sanitizeBody('\u200dمی'), 'می');
    assert.equal(sanitizeBody('a\u200c'), 'a');
    assert.equal(sanitizeName('👩\u200d💻'), '👩💻');
    assert.equal(sanitizeName('می\u200cخواهم'), 'میخواهم');
    assert.equal(sanitizeBody('x\u202e\u200dy'), 'xy');
  });

  test('U+2028 and U+2029 are newlines in bodies, dropped in names', () => {
    assert.equal(sanitizeBody('one\u2028two\u2029three'), 'one\ntwo\nthree');
    assert.equal(sanitizeName('al\u2028ice'), 'alice');
  });
});
