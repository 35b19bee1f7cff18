/**
 * Word wrap with a hanging indent, widths of wide characters, code fences left whole.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderEvent } from '../../lib/client/render.js';
import { columnsOf, terminalLayout, wrapBody, wrapLine } from '../../lib/client/wrap.js';

test('wide characters and emoji take two columns, marks and colour codes none', () => {
  assert.equal(columnsOf('abc'), 3);
  assert.equal(columnsOf('世界'), 4);
  assert.equal(columnsOf('✅'), 2);
  assert.equal(columnsOf('👩\u200d💻'), 2);
  assert.equal(columnsOf('e\u0301'), 1);
  assert.equal(columnsOf('\x1b[1mab\x1b[0m'), 2);
});

test('lines break at spaces; continuation rows get the hanging indent', () => {
  assert.deepEqual(wrapLine('the quick brown fox jumps', 10, 10), ['the quick', 'brown fox', 'jumps']);
  assert.equal(wrapBody('aaa bbb ccc ddd', 6, 6, 21), 'aaa bbb ccc ddd');
  assert.equal(wrapBody('aaa bbb ccc ddd', 6, 6, 20), 'aaa bbb ccc\n      ddd');
  assert.equal(
    wrapBody('one two three four five six seven', 10, 4, 24),
    'one two three\n    four five six seven',
  );
});

test('a word longer than a row is cut between graphemes, CJK by width', () => {
  assert.deepEqual(wrapLine('x'.repeat(25), 10, 10), ['xxxxxxxxxx', 'xxxxxxxxxx', 'xxxxx']);
  assert.deepEqual(wrapLine('世界世界世界', 10, 10), ['世界世界世', '界']);
});

test('code fences are left whole', () => {
  const body = 'see:\n```\nconst aVeryLongIdentifier = someFunction(argumentOne, argumentTwo);\n```';
  const wrapped = wrapBody(body, 10, 10, 40);
  assert.ok(wrapped.includes('const aVeryLongIdentifier = someFunction(argumentOne, argumentTwo);'));
});

test('renderEvent wraps a long message at the given width with the indent after the name', () => {
  const text = renderEvent(
    {
      type: 'message',
      id: '1',
      at: Date.now(),
      userId: 'u',
      username: 'bob',
      kind: 'text',
      body: 'this is a fairly long message that has to wrap on a narrow terminal',
      mine: false,
      history: false,
      undecryptable: false,
    },
    { color: false, me: 'alice', layout: terminalLayout(40) },
  );
  const rows = text.split('\n');
  assert.ok(rows.length > 1);
  for (const row of rows) assert.ok(columnsOf(row) <= 40, row);
  const indent = rows[0]!.indexOf('this');
  for (const row of rows.slice(1)) assert.match(row, new RegExp(`^ {${indent}}\\S`));
});
