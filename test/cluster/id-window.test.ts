/**
 * The room log's de-duplication window (lib/cluster/id-window.ts) against a plain model (a Map
 * and a list in arrival order): after every step of long random runs, at several capacities,
 * with ids that share most of their words (a counter behind a fixed prefix, as the log's own
 * ids are) and with ids that are all alike but one word (so probes collide and deletions must
 * shift entries back), every id the model holds is found with its number and no forgotten one
 * is. No NATS: the window is plain memory.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { IdWindow } from '../../lib/cluster/id-window.js';

/** A deterministic generator (xorshift32), so a failure repeats. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

class Model {
  readonly seqs = new Map<string, number>();
  private readonly order: string[] = [];
  constructor(private readonly capacity: number) {}
  set(id: string, seq: number): void {
    if (!this.seqs.has(id)) {
      this.order.push(id);
      if (this.order.length > this.capacity) this.seqs.delete(this.order.shift()!);
    }
    this.seqs.set(id, seq);
  }
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

const families: Record<string, (n: number) => string> = {
  // The log's ids for appends without a de-duplication id: a random prefix, then a counter.
  counter: (n) => `${randomPrefix}${hex(n, 16)}`,
  // Hashes: every word differs.
  hashed: (n) => hashes[n % hashes.length]!,
  // Alike but for the third word: the words mixed must still spread them.
  thirdWord: (n) => `0123456789abcdef${hex(n, 8)}00000000`,
};
const randomPrefix = randomBytes(8).toString('hex');
const hashes = Array.from({ length: 5000 }, () => randomBytes(16).toString('hex'));

for (const capacity of [1, 7, 256, 300, 1000]) {
  for (const [family, idOf] of Object.entries(families)) {
    test(`capacity ${capacity}, ${family} ids: the window holds exactly the newest ids, each with its number`, () => {
      const window = new IdWindow(capacity);
      const model = new Model(capacity);
      const random = rng(capacity * 7919 + family.length);
      // Ids drawn from a range a few times the capacity: some come back while held, some after.
      const range = Math.min(capacity * 3 + 5, family === 'hashed' ? hashes.length : 1e9);
      for (let step = 0; step < 6000; step++) {
        const id = idOf(Math.floor(random() * range));
        window.set(id, step);
        model.set(id, step);
        assert.equal(window.size, model.seqs.size, `size after step ${step}`);
        if (step % 97 === 0 || capacity <= 7) {
          for (let n = 0; n < range; n++) {
            const probe = idOf(n);
            assert.equal(window.get(probe), model.seqs.get(probe), `id ${n} after step ${step}`);
          }
        }
      }
    });
  }
}

test('an id held keeps its age when it is set again; a new one replaces the oldest', () => {
  const window = new IdWindow(3);
  const id = (n: number): string => hex(n, 32);
  window.set(id(1), 1);
  window.set(id(2), 2);
  window.set(id(3), 3);
  window.set(id(1), 10); // known: new number, same age
  assert.equal(window.get(id(1)), 10);
  window.set(id(4), 4); // full: the oldest (1) goes
  assert.equal(window.get(id(1)), undefined);
  assert.deepEqual(
    [2, 3, 4].map((n) => window.get(id(n))),
    [2, 3, 4],
  );
});

test('clear forgets everything; the window fills again', () => {
  const window = new IdWindow(500);
  for (let n = 0; n < 700; n++) window.set(hex(n, 32), n);
  window.clear();
  assert.equal(window.size, 0);
  assert.equal(window.get(hex(699, 32)), undefined);
  for (let n = 0; n < 600; n++) window.set(hex(n, 32), n + 1);
  assert.equal(window.size, 500);
  assert.equal(window.get(hex(99, 32)), undefined);
  assert.equal(window.get(hex(100, 32)), 101);
});

test('an id that is not 32 lowercase hex characters is refused, not misread', () => {
  const window = new IdWindow(4);
  for (const bad of ['', 'abc', 'A'.repeat(32), `${'0'.repeat(31)}g`, `${'0'.repeat(31)}:`, '0'.repeat(33)]) {
    assert.throws(() => window.set(bad, 1), RangeError, JSON.stringify(bad));
  }
  assert.throws(() => new IdWindow(0), RangeError);
});
