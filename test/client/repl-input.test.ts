/**
 * The REPL's input helpers without a terminal: the bracketed-paste filter (markers split
 * across reads, controls inside a paste) and Tab completion of commands and member names.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChatEvent } from '../../lib/client/events.js';
import { complete } from '../../lib/client/repl/completer.js';
import { KeySplitter } from '../../lib/client/repl/key-units.js';
import { BracketedPasteFilter, fromInputLine, toInputLine } from '../../lib/client/repl/paste.js';
import { promptFor } from '../../lib/client/repl/repl.js';
import { Scrollback } from '../../lib/client/scrollback.js';

describe('bracketed paste filter', () => {
  test('a paste becomes one input line with visible newline and tab marks', () => {
    const f = new BracketedPasteFilter();
    assert.equal(f.feed('ab\x1b[200~line one\r\nline\ttwo\x1b[201~cd'), 'abline one⏎line⇥twocd');
    assert.equal(f.pasting, false);
    assert.equal(fromInputLine('line one⏎line⇥two'), 'line one\nline\ttwo');
  });

  test('markers split across reads are recognised', () => {
    const f = new BracketedPasteFilter();
    const parts = ['x\x1b[2', '00~a\nb\x1b', '[20', '1~y'];
    const out = parts.map((p) => f.feed(p)).join('');
    assert.equal(out, 'xa⏎by');
  });

  test('held bytes that were not a marker are released by flush', () => {
    const f = new BracketedPasteFilter();
    assert.equal(f.feed('q\x1b[2'), 'q');
    assert.equal(f.hasPending, true);
    assert.equal(f.flush(), '\x1b[2');
    assert.equal(f.feed('\x1b[A'), '\x1b[A'); // an arrow key passes through
  });

  test('nothing is released while a paste is open', () => {
    const f = new BracketedPasteFilter();
    assert.equal(f.feed('\x1b[200~abc'), '');
    assert.equal(f.flush(), '');
    assert.equal(f.feed('def\x1b[201~'), 'abcdef');
  });

  test('a paste cannot press keys or carry escape sequences', () => {
    assert.equal(toInputLine('a\x1b[2Jb\x03c\x04d\x7f\u009be'), 'a[2Jbcde');
  });
});

describe('completion', () => {
  const members = ['bob', 'Bobby', 'carol', 'evil\x1b[2J'];

  test('command names at the start of the line', () => {
    assert.deepEqual(complete('/wh', members), [['/who', '/whois'], '/wh']);
    assert.deepEqual(complete('/n', members), [['/names', '/nick', '/notify'], '/n']);
    assert.deepEqual(complete('//wh', members), [[], '//wh']);
  });

  test('member names for the last word, case-insensitive, with or without @', () => {
    assert.deepEqual(complete('hi bo', members), [['Bobby', 'bob'], 'bo']);
    assert.deepEqual(complete('hi @CA', members), [['@carol'], '@CA']);
    assert.deepEqual(complete('/ignore car', members), [['carol'], 'car']);
    assert.deepEqual(complete('/msg car', members), [['carol'], 'car']);
    assert.deepEqual(complete('/m', members), [['/m', '/me', '/msg'], '/m']);
    assert.deepEqual(complete('hi ', members), [[], '']);
  });

  test('names that are not clean are never offered', () => {
    assert.deepEqual(complete('ev', members), [[], 'ev']);
  });
});

test('the prompt shows room and name, sanitised', () => {
  assert.equal(promptFor('chat', 'alice'), '[chat] alice> ');
  assert.equal(promptFor('chat', 'a\x1b]0;x\x07b'), '[chat] a␛b> ');
});

describe('key splitter', () => {
  const keys = (s: string): string[] =>
    new KeySplitter()
      .feed(s)
      .map((u) => (u.kind === 'text' ? `t:${u.text}` : `k:${JSON.stringify(u.sequence)}`));

  test('text runs, control keys and escape sequences each become one unit', () => {
    assert.deepEqual(keys('ab\x1b[Dc世界\r'), ['t:ab', 'k:"\\u001b[D"', 't:c世界', 'k:"\\r"']);
    assert.deepEqual(keys('\t\t'), ['k:"\\t"', 'k:"\\t"']);
    assert.deepEqual(keys('\x1bb\x1b[1;5C\x1bOH\x1b\x1b[D😀'), [
      'k:"\\u001bb"',
      'k:"\\u001b[1;5C"',
      'k:"\\u001bOH"',
      'k:"\\u001b\\u001b[D"',
      't:😀',
    ]);
  });

  test('a sequence cut between reads is held, and a lone Escape released by flush', () => {
    const k = new KeySplitter();
    assert.deepEqual(k.feed('x\x1b['), [{ kind: 'text', text: 'x' }]);
    assert.equal(k.hasPending, true);
    assert.deepEqual(k.feed('D'), [{ kind: 'key', sequence: '\x1b[D' }]);
    assert.deepEqual(k.feed('\x1b'), []);
    assert.deepEqual(k.flush(), [{ kind: 'key', sequence: '\x1b' }]);
    assert.equal(k.hasPending, false);
  });
});

describe('scrollback', () => {
  test('bounded by count and by characters, oldest first out; search is case-insensitive', () => {
    const msg = (i: number, body: string): ChatEvent => ({
      type: 'message',
      id: String(i),
      at: i,
      userId: 'u',
      username: 'bob',
      kind: 'text',
      body,
      mine: false,
      history: false,
      undecryptable: false,
    });
    const s = new Scrollback(3, 1000);
    for (let i = 1; i <= 5; i++) s.add(msg(i, `line ${i}`));
    assert.equal(s.size, 3);
    assert.deepEqual(
      s.events().map((e) => (e.type === 'message' ? e.body : '')),
      ['line 3', 'line 4', 'line 5'],
    );
    assert.equal(s.search('LINE 4').length, 1);
    assert.equal(s.last(2).length, 2);
    const small = new Scrollback(100, 20);
    small.add(msg(1, 'x'.repeat(10)));
    small.add(msg(2, 'y'.repeat(10)));
    assert.equal(small.size, 1, 'the character bound drops the oldest');
  });
});
