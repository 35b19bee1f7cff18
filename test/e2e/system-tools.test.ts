/**
 * The programs outside npm that tests need: the install script installs every one of them,
 * and a run on a machine without one skips its tests with a line naming it (CI fails instead).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../helpers/paths.js';
import { INSTALL_COMMAND, SYSTEM_TOOLS } from '../helpers/system-tools.js';

test('tools/install-test-tools.sh installs the package of every tool the tests check for', () => {
  const script = readFileSync(join(repoRoot, 'tools', 'install-test-tools.sh'), 'utf8');
  const listed = /^packages=\(([^)]*)\)$/m.exec(script)?.[1]?.split(/\s+/) ?? [];
  for (const tool of SYSTEM_TOOLS) assert.ok(listed.includes(tool.debianPackage), tool.debianPackage);
  assert.ok(INSTALL_COMMAND.endsWith('tools/install-test-tools.sh'));
});

test('a missing tool: its tests are skipped and the run names it; under CI the run stops', () => {
  // A microsocks that does not exist stands for a machine without it.
  const runner = join(dirname(fileURLToPath(import.meta.url)), '..', 'run.js');
  const env: NodeJS.ProcessEnv = { ...process.env, MICROSOCKS: '/nonexistent/microsocks' };
  // Not a child of this test run: the nested runner reports as it does for a person.
  delete env['CI'];
  delete env['NODE_TEST_CONTEXT'];
  const run = spawnSync(process.execPath, [runner, 'transport/socks5'], { encoding: 'utf8', env });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /, [1-9]\d* skipped\n/);
  assert.match(
    run.stderr,
    /^system tools missing here: microsocks; the tests that need them were skipped\. Install them with `sudo tools\/install-test-tools\.sh`/m,
  );
  const ci = spawnSync(process.execPath, [runner, 'transport/socks5'], {
    encoding: 'utf8',
    env: { ...env, CI: 'true' },
  });
  assert.equal(ci.status, 1);
  assert.match(ci.stderr, /microsocks.*\nCI runs every test: install them first\./);
  assert.doesNotMatch(ci.stdout, /passed/);
});
