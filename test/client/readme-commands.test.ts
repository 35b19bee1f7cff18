/**
 * The command list in the README is /help's text: generated from the registry, kept in sync.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { commands, helpText } from '../../lib/client/slash-commands.js';
import { repoRoot } from '../helpers/paths.js';

test('the README lists exactly the commands of the registry, as /help shows them', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const block = /<!-- commands:start -->\n```\n([\s\S]*?)\n```\n<!-- commands:end -->/.exec(readme);
  assert.ok(block, 'README has the commands block');
  assert.equal(block[1], helpText(true));
  for (const cmd of commands) assert.ok(block[1]!.includes(`/${cmd.name}`), cmd.name);
});
