import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from '../../lib/server/rate.js';

test('a rate of 0 is unlimited', () => {
  const b = new TokenBucket(0, 1);
  b.charge(1e9);
  assert.equal(b.ready(1e9), true);
  assert.equal(b.waitMs(1e9), 0);
});

test('starts full, empties by charges, and says how long until the next token', () => {
  const b = new TokenBucket(10, 5); // 10 tokens/s, burst 5
  assert.equal(b.ready(5), true);
  b.charge(5);
  assert.equal(b.ready(1), false);
  const wait = b.waitMs(1);
  assert.ok(wait > 0 && wait <= 100, `wait ${wait}`);
  // A debt delays further: two more tokens owed means about 300 ms for the next one.
  b.charge(2);
  const longer = b.waitMs(1);
  assert.ok(longer > 200 && longer <= 300, `wait ${longer}`);
});

test('a cost above the burst needs a full bucket, not an impossible one', () => {
  const b = new TokenBucket(1000, 100);
  assert.equal(b.ready(10_000), true); // full bucket: a large record may pass, then the debt applies
  b.charge(10_000);
  assert.equal(b.ready(1), false);
  assert.ok(b.waitMs(10_000) > 0);
});

test('the wall clock set back or forward neither freezes nor refills a bucket', async () => {
  const wallClock = Date.now;
  const b = new TokenBucket(100, 5); // 100 tokens/s, burst 5
  b.charge(5);
  try {
    // The system clock jumps an hour ahead: an emptied bucket must stay empty.
    Date.now = () => wallClock() + 3_600_000;
    assert.equal(b.ready(5), false, 'a clock set forward refilled the bucket');
    // Then an hour back: tokens must still come at the rate.
    Date.now = () => wallClock() - 3_600_000;
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(b.ready(1), true, 'a clock set back froze the bucket');
  } finally {
    Date.now = wallClock;
  }
});
