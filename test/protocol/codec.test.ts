import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LineDecoder, parseObject } from '../../lib/protocol/codec.js';
import { ProtocolError } from '../../lib/protocol/errors.js';
import { encodeLine } from '../helpers/lines.js';

describe('LineDecoder', () => {
  test('splits lines across and within chunks', () => {
    const d = new LineDecoder(100);
    assert.deepEqual(d.push(Buffer.from('ab')), []);
    assert.deepEqual(d.push(Buffer.from('c\nde\n\nf')), ['abc', 'de', '']);
    assert.equal(d.pendingBytes, 1);
    assert.deepEqual(d.push(Buffer.from('g\n')), ['fg']);
    assert.equal(d.pendingBytes, 0);
  });

  test('keeps multi-byte characters split across chunks intact', () => {
    const bytes = Buffer.from('héllo ✓\n');
    const d = new LineDecoder(100);
    const out: string[] = [];
    for (const b of bytes) out.push(...d.push(Buffer.from([b])));
    assert.deepEqual(out, ['héllo ✓']);
  });

  test('accepts a line of exactly the limit and rejects one byte more', () => {
    assert.deepEqual(new LineDecoder(5).push(Buffer.from('12345\n')), ['12345']);
    assert.throws(
      () => new LineDecoder(5).push(Buffer.from('123456\n')),
      (e: unknown) => e instanceof ProtocolError && e.code === 'too_large',
    );
  });

  test('a line that never ends fails once it passes the limit, even in small pieces, and stays failed', () => {
    const d = new LineDecoder(10);
    for (let i = 0; i < 10; i++) d.push(Buffer.from('x'));
    assert.throws(() => d.push(Buffer.from('x')), /exceeds/);
    assert.throws(() => d.push(Buffer.from('\n')), /exceeds/);
    assert.equal(d.pendingBytes, 0);
  });

  test('setLimit raises the limit for later lines', () => {
    const d = new LineDecoder(4);
    d.setLimit(8);
    assert.deepEqual(d.push(Buffer.from('12345678\n')), ['12345678']);
  });
});

describe('parseObject', () => {
  test('accepts objects only', () => {
    assert.deepEqual(parseObject('{"a":1}'), { a: 1 });
    for (const bad of ['[1]', '1', '"s"', 'null', 'true', '{', '', 'nope']) {
      assert.throws(
        () => parseObject(bad),
        (e: unknown) => e instanceof ProtocolError && e.code === 'bad_request',
        bad,
      );
    }
  });

  test('encodeLine ends with one newline and round-trips', () => {
    const line = encodeLine({ type: 'ping', t: 1.5 });
    assert.ok(line.endsWith('\n'));
    assert.deepEqual(parseObject(line.trimEnd()), { type: 'ping', t: 1.5 });
  });
});
