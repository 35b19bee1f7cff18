/**
 * The suite's concise reporter (test/reporter.ts), run by node's own runner over small test
 * files: a file that keeps the run waiting is named while it waits (with its running test, when
 * the runner has said which); files that ended are not; the closing counts are right.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const reporter = join(import.meta.dirname, '..', 'reporter.js');

test('a test that keeps the run waiting is named while it waits; ended files are not', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cmd-chat-reporter-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'waits.test.mjs'),
    "import { test } from 'node:test';\ntest('waits on what is slow to come', () => new Promise((r) => setTimeout(r, 2500)));\n",
  );
  writeFileSync(join(dir, 'quick.test.mjs'), "import { test } from 'node:test';\ntest('quick', () => {});\n");
  // A runner started from a test reports to that test's runner unless told it is on its own.
  const { NODE_TEST_CONTEXT: _context, ...env } = process.env;
  const runnerEnv = { ...env, TEST_STALL_MS: '800' };
  const r = spawnSync(
    process.execPath,
    ['--test', '--test-concurrency=2', `--test-reporter=${reporter}`, 'waits.test.mjs', 'quick.test.mjs'],
    { cwd: dir, encoding: 'utf8', env: runnerEnv, timeout: 60_000 },
  );
  assert.equal(r.status, 0, r.stdout + r.stderr);
  // Node 22 sometimes hands on a file's test events only when the file ends: then the file alone.
  assert.match(r.stdout, /^still running after \d+ s: waits\.test\.mjs( › waits on what is slow to come)?$/m);
  assert.doesNotMatch(r.stdout, /still running[^\n]*quick/);
  assert.match(r.stdout, /^2 passed, 0 failed, 0 skipped$/m);
});
