/**
 * The admission table on a controlled clock: token refill, the doubling back-off, forgiving
 * on success, and the bound (least recently seen forgotten first, idle sources expire).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BACKOFF_MAX_MS, SOURCE_IDLE_MS, SourceTable } from '../../lib/server/admission.js';

function table(limits: Partial<ConstructorParameters<typeof SourceTable>[0]> = {}): {
  t: SourceTable;
  advance: (ms: number) => void;
} {
  let now = 1000;
  const t = new SourceTable(
    {
      handshakeRatePerSource: 10,
      handshakeBurstPerSource: 2,
      failuresBeforeBackoff: 2,
      maxTrackedSources: 3,
      ...limits,
    },
    () => now,
  );
  return { t, advance: (ms) => (now += ms) };
}

test('a source spends its burst, then waits for the rate', () => {
  const { t, advance } = table();
  assert.equal(t.waitMs('a'), 0);
  t.take('a');
  t.take('a');
  assert.equal(t.waitMs('a'), 100);
  advance(100);
  assert.equal(t.waitMs('a'), 0);
  assert.equal(t.waitMs('b'), 0, 'another source has its own budget');
});

test('failures past the free ones back off, doubling up to the maximum; a success forgives', () => {
  const { t, advance } = table({ handshakeRatePerSource: 0 });
  assert.equal(t.fail('a').backoffMs, 0);
  assert.equal(t.fail('a').backoffMs, 0);
  assert.equal(t.fail('a').backoffMs, 1000);
  assert.equal(t.waitMs('a'), 1000);
  assert.equal(t.fail('a').backoffMs, 2000);
  for (let i = 0; i < 30; i++) t.fail('a');
  assert.equal(t.waitMs('a'), BACKOFF_MAX_MS);
  advance(BACKOFF_MAX_MS);
  assert.equal(t.waitMs('a'), 0);
  t.succeed('a');
  assert.equal(t.fail('a').backoffMs, 0);
});

test('the table is bounded: the least recently seen source goes first, idle ones expire', () => {
  const { t, advance } = table({ handshakeRatePerSource: 0 });
  for (let i = 0; i < 5; i++) t.fail('a');
  t.waitMs('b');
  t.waitMs('c');
  t.waitMs('a'); // a is now the most recently seen
  t.waitMs('d'); // full: b goes
  assert.equal(t.size, 3);
  assert.ok(t.waitMs('a') > 0, 'a kept its back-off');
  advance(SOURCE_IDLE_MS);
  t.waitMs('e'); // every other source has been idle long enough
  assert.equal(t.size, 1);
  assert.equal(t.waitMs('a'), 0, 'a was forgotten, its failures with it');
});

test('a source that comes back after the idle time starts afresh, even if the table never filled', () => {
  const { t, advance } = table({ handshakeRatePerSource: 0, failuresBeforeBackoff: 0 });
  t.fail('a');
  assert.ok(t.waitMs('a') > 0);
  advance(SOURCE_IDLE_MS);
  assert.equal(t.waitMs('a'), 0);
  assert.equal(t.fail('a').failures, 1);
});
