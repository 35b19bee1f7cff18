/**
 * The REPL's line measurement (lib/client/repl/graphemes.ts): displayPos remembers recent
 * texts and measures one that extends them from their last cluster on; whatever is appended
 * (a combining mark, a ZWJ joining two emoji, the second half of a flag, a wide character at
 * the last column), it must agree with a measurement from the start.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { displayPos, measureText } from '../../lib/client/repl/graphemes.js';

/** Pieces that join the cluster before them, wrap, or take two columns. */
const PIECES = [
  'a',
  ' ',
  'ab',
  '世',
  '界x',
  '\u0301', // combining acute: joins the cluster before it
  '\u200d', // ZWJ
  '👨',
  '👩',
  '\ufe0f',
  '🇦', // regional indicators: two make one flag
  '🇧',
  '\t',
  '\n',
  '\x1b[31m', // stripped before measuring
  '\x1b[0m',
  'é',
  '한',
];

/** A deterministic pseudo-random sequence (xorshift), so a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const strip = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');

test('a line typed piece by piece measures as it does from its start', () => {
  for (const columns of [5, 7, 12, 80]) {
    const next = random(columns * 7919);
    for (let run = 0; run < 40; run++) {
      let line = '> ';
      for (let i = 0; i < 30; i++) {
        line += PIECES[Math.floor(next() * PIECES.length)]!;
        const got = displayPos(line, columns, 4);
        assert.deepEqual(
          got,
          measureText(strip(line), columns, 4),
          `${JSON.stringify(line)} at ${columns} columns`,
        );
      }
    }
  }
});

test('a ZWJ sequence and a flag completed by the last key count as one cluster each', () => {
  let line = '';
  const steps: Array<[string, number]> = [
    ['👨', 2],
    ['\u200d', 2],
    ['👩', 2], // 👨‍👩 is one cluster of width 2
    ['🇦', 3], // alone: one column (string-width)
    ['🇧', 3], // 🇦🇧: one flag, one column (string-width), not two
    ['e', 4],
    ['\u0301', 4], // é: one column
  ];
  for (const [piece, cols] of steps) {
    line += piece;
    assert.equal(displayPos(line, 80, 8).cols, cols, JSON.stringify(line));
  }
});

test('a wide character that would start in the last column wraps whole', () => {
  // 4 columns: "abc" then 世 cannot start at column 3 of 4, so it goes to the next row.
  assert.deepEqual(displayPos('abc', 4, 8), { cols: 3, rows: 0 });
  assert.deepEqual(displayPos('abc世', 4, 8), { cols: 2, rows: 1 });
  assert.deepEqual(measureText('abc世', 4, 8), { cols: 2, rows: 1 });
});

test('an edit in the middle, a shorter line and another width are measured afresh', () => {
  assert.deepEqual(displayPos('> 世界世界', 6, 8), measureText('> 世界世界', 6, 8));
  assert.deepEqual(displayPos('> 世a界世界', 6, 8), measureText('> 世a界世界', 6, 8));
  assert.deepEqual(displayPos('> 世', 6, 8), measureText('> 世', 6, 8));
  assert.deepEqual(displayPos('> 世a界世界', 9, 8), measureText('> 世a界世界', 9, 8));
});
