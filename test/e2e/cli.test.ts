/**
 * The command line as a user meets it: help, version, usage errors, and the fast path in
 * bin/cmd-chat.js that answers --help without loading yargs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { builtCli, cliPath, repoRoot } from '../helpers/paths.js';

function run(entry: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [entry, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string })
  .version;

test('--help from bin is the help yargs renders, listing every command and the exit codes', () => {
  const fast = run(cliPath, ['--help']);
  const full = run(builtCli, ['--help']);
  assert.equal(fast.code, 0);
  assert.equal(fast.stdout, full.stdout);
  for (const word of ['serve', 'connect', 'room-entry', 'Exit codes'])
    assert.match(fast.stdout, new RegExp(word));
});

test('--version and -V print the package version', () => {
  assert.equal(run(cliPath, ['--version']).stdout, `${version}\n`);
  assert.equal(run(cliPath, ['-V']).stdout, `${version}\n`);
  assert.equal(run(builtCli, ['--version']).stdout.trim(), version);
});

test('serve --help and connect --help warn about passwords on the command line', () => {
  for (const cmd of ['serve', 'connect']) {
    const r = run(cliPath, [cmd, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /shows in `ps`/);
    assert.match(r.stdout, /CMD_CHAT_PASSWORD/);
  }
  assert.match(run(cliPath, ['serve', '--help']).stdout, /--max-clients/);
});

test('an unknown command or option is a usage error (exit 2)', () => {
  const unknown = run(cliPath, ['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown argument|Unknown command|frobnicate/i);
  const badOption = run(cliPath, ['serve', '--no-such-flag']);
  assert.equal(badOption.code, 2);
  const badLimit = run(cliPath, ['serve', '--history', '-1']);
  assert.equal(badLimit.code, 2);
  assert.match(badLimit.stderr, /--history/);
  const noCommand = run(cliPath, []);
  assert.equal(noCommand.code, 2);
});

test('serve refuses limits that contradict each other, in one line (exit 2), before listening', () => {
  const r = run(cliPath, ['serve', '127.0.0.1', '0', '--password', 'pw', '--max-queue', '100000']);
  assert.equal(r.code, 2);
  const first = r.stderr.split('\n')[0]!;
  assert.match(first, /--max-queue 100000 is smaller than a late joiner's init with a full history/);
  assert.doesNotMatch(r.stderr, /listening|\n\s+at /);
  // More rooms than --max-rooms, and limits that would refuse everyone.
  const rooms = run(cliPath, [
    'serve',
    '127.0.0.1',
    '0',
    '--password',
    'pw',
    '--room',
    'a=b',
    '--max-rooms',
    '1',
  ]);
  assert.equal(rooms.code, 2);
  assert.match(rooms.stderr, /^cmd-chat: --max-rooms 1 is smaller than the number of rooms given\n$/);
  for (const flag of ['--max-clients', '--max-per-address', '--max-pending', '--max-members']) {
    const zero = run(cliPath, ['serve', '127.0.0.1', '0', '--password', 'pw', flag, '0']);
    assert.equal(zero.code, 2, flag);
    assert.match(zero.stderr, new RegExp(`${flag} must be a whole number ≥ 1`));
  }
});

test('connect without enough arguments is a usage error', () => {
  const r = run(cliPath, ['connect', '127.0.0.1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /HOST PORT NAME/);
});

test('room-entry with a missing password file: one line and exit 2, like serve and connect', () => {
  for (const args of [
    ['room-entry', 'team', '--password-file', '/nonexistent/pw'],
    ['serve', '--password-file', '/nonexistent/pw'],
    ['connect', '127.0.0.1', '1', 'me', '--password-file', '/nonexistent/pw'],
  ]) {
    const r = run(cliPath, args);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /password file/i);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test('room-entry prints a rooms-file line from a password file', () => {
  const dir = join(repoRoot, 'test', 'fixtures');
  const pwFile = join(dir, 'room-password.txt');
  const r = run(cliPath, ['room-entry', 'team', '--password-file', pwFile]);
  assert.equal(r.code, 0, r.stderr);
  const entry = JSON.parse(r.stdout) as { room: string; salt: string; verifier: string };
  assert.equal(entry.room, 'team');
  assert.equal(Buffer.from(entry.salt, 'base64').length, 16);
  assert.ok(Buffer.from(entry.verifier, 'base64').length > 200);
  assert.ok(!r.stdout.includes(readFileSync(pwFile, 'utf8').trim()));
});
