/**
 * Pipe input records: split at newline or NUL wherever the chunks of the stream break (in the
 * middle of a UTF-8 character too), checked as UTF-8, and measured as the message limit counts.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { messageBytes } from '../../lib/client/message-size.js';
import { escapedBytes, type InputRecord, readRecords, type Separator } from '../../lib/client/pipe/input.js';

async function records(chunks: Buffer[], separator: Separator, max?: number): Promise<InputRecord[]> {
  const out: InputRecord[] = [];
  for await (const r of readRecords(Readable.from(chunks), separator, max)) out.push(r);
  return out;
}

/** `bytes` cut into pieces of 1 to 7 bytes, deterministically from `seed`. */
function cut(bytes: Buffer, seed: number): Buffer[] {
  const pieces: Buffer[] = [];
  let state = seed;
  for (let at = 0; at < bytes.length; ) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (state % 7);
    pieces.push(bytes.subarray(at, at + n));
    at += n;
  }
  return pieces;
}

test('records are the same however the stream is chunked, multi-byte characters included', async () => {
  const text = 'héllo wörld\r\n/wipe the cache\n\n👩‍💻 ok\nlast without newline';
  const whole = await records([Buffer.from(text)], 'newline');
  assert.deepEqual(
    whole.map((r) => (r.kind === 'text' ? r.text : r.kind)),
    ['héllo wörld', '/wipe the cache', '', '👩‍💻 ok', 'last without newline'],
  );
  assert.deepEqual(
    whole.map((r) => r.number),
    [1, 2, 3, 4, 5],
  );
  for (let seed = 1; seed <= 50; seed++)
    assert.deepEqual(await records(cut(Buffer.from(text), seed), 'newline'), whole);
});

test('with NUL separators a record keeps its newlines and carriage returns', async () => {
  const got = await records([Buffer.from('a\nb\r\n\0c\0')], 'nul');
  assert.deepEqual(got, [
    { kind: 'text', number: 1, text: 'a\nb\r\n' },
    { kind: 'text', number: 2, text: 'c' },
  ]);
});

test('invalid UTF-8 is reported, not replaced; the next record is unaffected', async () => {
  const got = await records([Buffer.from([0x6f, 0x6b, 0x0a, 0xff, 0x61, 0x0a, 0xc3, 0x0a, 0x7a])], 'newline');
  assert.deepEqual(got, [
    { kind: 'text', number: 1, text: 'ok' },
    { kind: 'not_utf8', number: 2 },
    { kind: 'not_utf8', number: 3 },
    { kind: 'text', number: 4, text: 'z' },
  ]);
});

test('a record over the limit is counted as the limit counts it, whatever the chunking', async () => {
  const body = Buffer.from(`${'x'.repeat(30)}"\\\t\u0001é`);
  const expected = messageBytes(body.toString('utf8'));
  assert.equal(escapedBytes(body), expected);
  for (let seed = 1; seed <= 20; seed++) {
    const got = await records(cut(Buffer.concat([body, Buffer.from('\nok\n')]), seed), 'newline', 16);
    assert.deepEqual(got, [
      { kind: 'too_long', number: 1, bytes: expected },
      { kind: 'text', number: 2, text: 'ok' },
    ]);
  }
  // At the limit it is text; a CR before the newline does not count.
  assert.deepEqual(await records([Buffer.from('abcd\r\nabcde\n')], 'newline', 4), [
    { kind: 'text', number: 1, text: 'abcd' },
    { kind: 'too_long', number: 2, bytes: 5 },
  ]);
});

test('escapedBytes agrees with messageBytes on every byte value below 0x80', () => {
  for (let b = 0; b < 0x80; b++) {
    const one = Buffer.from([b]);
    assert.equal(escapedBytes(one), messageBytes(one.toString('latin1')), `byte ${b}`);
  }
});
