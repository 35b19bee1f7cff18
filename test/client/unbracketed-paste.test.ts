/**
 * Several lines in one read are framed as a bracketed paste; a single line with its Enter,
 * keys with escape sequences, and a real bracketed paste are left alone; a character cut by
 * the end of the read is not split by the frame.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BracketedPasteFilter, fromInputLine } from '../../lib/client/repl/paste.js';
import { frameMultiLineRead } from '../../lib/client/repl/unbracketed-paste.js';

const START = '\x1b[200~';
const END = '\x1b[201~';

test('several lines in one read become one paste, without the final Enter', () => {
  assert.equal(frameMultiLineRead('one\rtwo\r'), `${START}one\rtwo${END}`);
  assert.equal(frameMultiLineRead('one\ntwo\nthree'), `${START}one\ntwo\nthree${END}`);
  assert.equal(frameMultiLineRead('a\r\nb\r\n'), `${START}a\r\nb${END}`);
  // Through the filter, the line editor gets one line with marks: one message.
  const line = new BracketedPasteFilter().feed(frameMultiLineRead('one\rtwo\r') as string);
  assert.equal(fromInputLine(line), 'one\ntwo');
});

test('one line with its Enter, keys and a real bracketed paste are left as they are', () => {
  for (const chunk of ['hello\r', 'hello', '\r', '\x1b[A', `${START}a\nb${END}`, 'x\r\x1b[A\r'])
    assert.equal(frameMultiLineRead(chunk), chunk);
  const bytes = Buffer.from('hé\r');
  assert.equal(frameMultiLineRead(bytes), bytes);
});

test('a character cut by the end of the read goes after the frame, to meet its rest', () => {
  const whole = Buffer.from('a\nb é', 'utf8');
  const cut = whole.subarray(0, whole.length - 1); // é's second byte comes in the next read
  const framed = frameMultiLineRead(cut) as Buffer;
  assert.deepEqual(
    framed,
    Buffer.concat([Buffer.from(`${START}a\nb `), Buffer.from(END), whole.subarray(-2, -1)]),
  );
});
