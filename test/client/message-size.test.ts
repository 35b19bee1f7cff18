/**
 * The message limit in bytes: how a body is counted, and that every body within the limit,
 * from the longest name, fits the daemon's default limit on a message token.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  checkMessageSize,
  MAX_MESSAGE_BYTES,
  MessageTooLongError,
  messageBytes,
} from '../../lib/client/message-size.js';
import { MAX_TOKEN_CHARS } from '../../lib/client/session/session.js';
import { newMessageId, sealEnvelope } from '../../lib/crypto/envelope.js';
import { Fernet } from '../../lib/crypto/fernet.js';
import { MAX_USER_NAME } from '../../lib/protocol/names.js';

test('a body counts its UTF-8 bytes, escapes included', () => {
  assert.equal(messageBytes('hello'), 5);
  assert.equal(messageBytes('世界'), 6);
  assert.equal(messageBytes('✅'), 3);
  assert.equal(messageBytes('a"b\\c\td'), 10);
  assert.equal(messageBytes('\x01'), 6);
});

test('the worst case within the limit still fits a token', () => {
  const fernet = new Fernet(randomBytes(32));
  const name = '𝔄'.repeat(MAX_USER_NAME); // 4 bytes each
  const worst = [
    'x'.repeat(MAX_MESSAGE_BYTES),
    '"'.repeat(MAX_MESSAGE_BYTES / 2),
    '\x01'.repeat(MAX_MESSAGE_BYTES / 6),
    '😀'.repeat(MAX_MESSAGE_BYTES / 4),
  ];
  for (const body of worst) {
    assert.equal(messageBytes(body), MAX_MESSAGE_BYTES);
    checkMessageSize(body);
    const token = sealEnvelope(fernet, { from: name, id: newMessageId(), kind: 'me', body });
    assert.ok(token.length <= MAX_TOKEN_CHARS, `${token.length} > ${MAX_TOKEN_CHARS}`);
  }
  assert.throws(() => checkMessageSize('x'.repeat(MAX_MESSAGE_BYTES + 1)), MessageTooLongError);
  assert.throws(() => checkMessageSize('"'.repeat(MAX_MESSAGE_BYTES / 2 + 1)), /limit is 48000 bytes/);
});
