import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { CONFUSABLES_UNICODE_VERSION } from '../../lib/protocol/names.js';

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
