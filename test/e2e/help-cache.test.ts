/**
 * commands/cli.ts skipHelpCache: yargs would render a command's whole help as the command
 * starts (8 MB of a daemon's resident memory, docs/benchmarks.md); the hook that stops it is
 * an internal of yargs, so an upgrade that moves it must fail here rather than quietly cost
 * the memory again. A usage error still gets its hint and exit code, not the help.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { buildCli, skipHelpCache } from '../../commands/cli.js';
import { ExitCode } from '../../lib/exit-codes.js';
import { builtCli } from '../helpers/paths.js';

test("yargs still has the hook that renders a command's help as it starts", async () => {
  assert.equal(skipHelpCache(await buildCli(['serve'], 80)), true);
});

test('a usage error still prints the hint and exits 2', () => {
  // --workers with --socket is refused by serve's own check.
  const r = spawnSync(process.execPath, [builtCli, 'serve', '--workers', '2', '--socket', '/nonexistent/s'], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  assert.equal(r.status, ExitCode.usage, r.stderr);
  assert.match(r.stderr, /--workers shares a TCP port/);
  assert.match(r.stderr, /Run `cmd-chat serve --help` for usage\./);
});
