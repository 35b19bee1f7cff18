/**
 * The exit codes are listed in three places besides lib/exit-codes.ts: the summary behind
 * `--help`'s epilogue and the man page, and the README's table. Each must name every code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXIT_CODE_SUMMARY, ExitCode } from '../../lib/exit-codes.js';
import { cliPath, repoRoot } from '../helpers/paths.js';

const codes = Object.values(ExitCode).sort((a, b) => a - b);

test('the summary names every exit code once', () => {
  assert.deepEqual(
    EXIT_CODE_SUMMARY.map(([code]) => code).sort((a, b) => a - b),
    codes,
  );
});

test("the README's exit code table lists exactly the codes there are", () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Exit codes'), readme.indexOf('## Documentation'));
  const listed = [...section.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
  assert.deepEqual(listed, codes);
});

test('--help ends with every exit code', () => {
  const help = spawnSync(process.execPath, [cliPath, '--help'], {
    encoding: 'utf8',
    env: { ...process.env, COLUMNS: '200' },
  });
  assert.equal(help.status, 0);
  const epilogue = help.stdout.slice(help.stdout.indexOf('Exit codes:')).replace(/\s+/g, ' ');
  for (const [code, what] of EXIT_CODE_SUMMARY)
    assert.ok(epilogue.includes(`${code} ${what}`), `${code} ${what}`);
});
