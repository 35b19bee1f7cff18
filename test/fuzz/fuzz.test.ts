/**
 * The bounded fuzz run of `npm test` (promise 6): each target runs for about a second with a
 * fixed seed (FUZZ_SEED overrides it), so a failure is reproducible; the failure message
 * names the target, the seed and the iteration. `npm run fuzz` runs the same targets longer.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import {
  fuzzChannel,
  fuzzFrameReaders,
  fuzzLineDecoder,
  fuzzLiveDaemon,
  fuzzServerHandshake,
  seedFromEnv,
} from './targets.js';

const seed = seedFromEnv();
const BUDGET_MS = 1000;

/** Shows in the test report what a run covered and with which seed. */
function report(t: TestContext, name: string, iterations: number): void {
  t.diagnostic(`fuzz ${name}: ${iterations} cases, seed ${seed}`);
}

test(`fuzz: the line decoder (seed ${seed})`, (t) => {
  const n = fuzzLineDecoder(seed, BUDGET_MS);
  assert.ok(n > 10, 'too few cases ran');
  report(t, 'line-decoder', n);
});

test(`fuzz: the server handshake state machine (seed ${seed})`, (t) => {
  const n = fuzzServerHandshake(seed, BUDGET_MS);
  assert.ok(n > 10, 'too few cases ran');
  report(t, 'server-handshake', n);
});

test(`fuzz: the frame readers on mutated frames (seed ${seed})`, (t) => {
  const n = fuzzFrameReaders(seed, BUDGET_MS);
  assert.ok(n > 10, 'too few cases ran');
  report(t, 'frame-readers', n);
});

test(`fuzz: the channel opener never accepts a modified record (seed ${seed})`, (t) => {
  const n = fuzzChannel(seed, BUDGET_MS);
  assert.ok(n > 10, 'too few cases ran');
  report(t, 'channel', n);
});

test(`fuzz: a live daemon fed random input keeps serving its members (seed ${seed})`, async (t) => {
  const n = await fuzzLiveDaemon(seed, 2000);
  assert.ok(n > 2, 'too few cases ran');
  report(t, 'live-daemon', n);
});
