/** The reconnect back-off: doubling from the first delay, capped, with jitter in the upper half. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BackoffPolicy, defaultBackoff, reconnectDelayMs } from '../../lib/client/session/backoff.js';

const policy: BackoffPolicy = { initialDelayMs: 500, maxDelayMs: 30_000, maxAttempts: 30 };

test('the delay doubles from the first one and stops at the cap', () => {
  // random = 1 - ε gives (almost) the full delay; 0 gives half of it.
  const full = [1, 2, 3, 4, 5, 6, 7, 8, 20, 100].map((a) => reconnectDelayMs(policy, a, 0.999999));
  assert.deepEqual(full, [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  const half = [1, 2, 7].map((a) => reconnectDelayMs(policy, a, 0));
  assert.deepEqual(half, [250, 500, 15_000]);
});

test('jitter spreads clients over the upper half of the delay', () => {
  const delays = Array.from({ length: 2000 }, () => reconnectDelayMs(policy, 3));
  assert.ok(delays.every((d) => d >= 1000 && d <= 2000));
  // Not all alike: clients of a restarted daemon do not come back in the same instant.
  assert.ok(new Set(delays).size > 100);
  const below = delays.filter((d) => d < 1500).length;
  assert.ok(below > 700 && below < 1300, `${below} of 2000 in the lower quarter`);
});

test('odd attempt numbers are safe and the defaults stay within the keepalive bound', () => {
  assert.equal(reconnectDelayMs(policy, 0, 0.999999), 500);
  assert.equal(reconnectDelayMs(policy, -5, 0.999999), 500);
  assert.equal(reconnectDelayMs(policy, Number.MAX_SAFE_INTEGER, 0.999999), 30_000);
  assert.ok(defaultBackoff.maxDelayMs <= 30_000);
  assert.ok(defaultBackoff.maxAttempts > 0);
});
