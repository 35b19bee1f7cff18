import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { CONFUSABLES_UNICODE_VERSION, confusablePrototype } from '../../lib/protocol/names.js';

const require = createRequire(import.meta.url);

/** "13.0.0" → a number that orders versions. */
const rank = (v: string): number => v.split('.').reduce((n, part) => n * 1000 + Number(part), 0);

test('the installed confusables data is not older than the Unicode version the name rules name', () => {
  // unhomoglyph states the version of confusables.txt it carries in its README ("v13.0.0").
  const readme = readFileSync(require.resolve('unhomoglyph/README.md'), 'utf8');
  const stated = /confusables\.txt\), v(\d+\.\d+\.\d+)/.exec(readme)?.[1];
  assert.ok(stated, 'the package no longer states its data version: check it by hand');
  assert.ok(
    rank(stated) >= rank(CONFUSABLES_UNICODE_VERSION),
    `confusables data ${stated} is older than ${CONFUSABLES_UNICODE_VERSION}`,
  );
  // And the data is that table: about 6,300 single code points (confusables.txt 13.0 has 6,311).
  const data: Record<string, string> = require('unhomoglyph/data.json');
  const sources = Object.keys(data);
  assert.ok(sources.length >= 6311, `${sources.length} mappings`);
  assert.ok(sources.every((s) => [...s].length === 1));
  assert.equal(data['\u04cf'], 'i'); // Cyrillic palochka (our class then merges i and l)
});

test('the compact table gives every prototype of the data, and none where it has none', () => {
  const data: Record<string, string> = require('unhomoglyph/data.json');
  const wrong = Object.entries(data).filter(([ch, prototype]) => confusablePrototype(ch) !== prototype);
  assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} entries differ`);
  const points = Object.keys(data)
    .map((ch) => ch.codePointAt(0)!)
    .sort((a, b) => a - b);
  // Below the first, above the last, and between neighbours with a gap.
  const absent = [points[0]! - 1, points.at(-1)! + 1, ...points.slice(0, -1).map((p) => p + 1)]
    .filter((p) => p >= 0 && !Object.hasOwn(data, String.fromCodePoint(p)))
    .map((p) => String.fromCodePoint(p));
  assert.ok(absent.length > 1000, `${absent.length} absent code points checked`);
  assert.deepEqual(
    absent.filter((ch) => confusablePrototype(ch) !== undefined),
    [],
  );
});
