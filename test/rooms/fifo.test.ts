/**
 * The first-in first-out list under the room logs and histories (lib/rooms/fifo.ts) against a
 * plain array: long random runs of pushes and shifts, across the compaction of its dead prefix
 * (at 1,024 taken and more), keep the same entries in the same order, by position and by
 * iteration. (What a shift costs is a bench figure, not a test's.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Fifo } from '../../lib/rooms/fifo.js';

test('random pushes and shifts: the same entries as an array, in order, by position and iteration', () => {
  let x = 12345;
  const random = (): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
  const fifo = new Fifo<number>();
  const model: number[] = [];
  for (let step = 0; step < 60_000; step++) {
    // Phases that grow and phases that drain, so the list empties and the prefix compacts.
    const growing = Math.floor(step / 5000) % 2 === 0;
    if (random() < (growing ? 0.7 : 0.3)) {
      fifo.push(step);
      model.push(step);
    } else {
      assert.equal(fifo.shift(), model.shift(), `shift at step ${step}`);
    }
    assert.equal(fifo.length, model.length);
    if (step % 1000 === 0) {
      assert.deepEqual([...fifo], model, `iteration at step ${step}`);
      for (const i of [0, model.length >> 1, model.length - 1, model.length, -1]) {
        assert.equal(fifo.at(i), i < 0 ? undefined : model[i], `at(${i}) at step ${step}`);
      }
    }
  }
  fifo.clear();
  assert.equal(fifo.length, 0);
  assert.equal(fifo.shift(), undefined);
});
