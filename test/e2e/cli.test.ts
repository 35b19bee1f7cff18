/**
 * The command line as a user meets it: help, version, usage errors, and the fast path in
 * bin/cmd-chat.js that answers --help without loading yargs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawn as spawnPty } from '@lydell/node-pty';
import { renderHelp } from '../../commands/cli.js';
import { builtCli, cliPath, repoRoot } from '../helpers/paths.js';
import { runClient, startDaemonProcess } from '../helpers/processes.js';

function run(
  entry: string,
  args: string[],
  env: Record<string, string> = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [entry, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
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

test('every --help is the text yargs renders for the width asked, from 40 columns up', async () => {
  for (const args of [['--help'], ['serve', '--help'], ['connect', '-h'], ['room-entry', '--help']]) {
    for (const columns of ['40', '57', '80', '100', '180']) {
      const fast = run(cliPath, args, { COLUMNS: columns });
      assert.equal(fast.code, 0);
      // yargs renders in this process (a CLI start each would cost more than the whole check);
      // the CLI itself, which picks the width from COLUMNS as the fast path does, once a command.
      const width = Math.min(100, Number(columns));
      assert.equal(fast.stdout, await renderHelp(args, width), `${args} at ${columns}`);
      if (columns === '57') assert.equal(fast.stdout, run(builtCli, args, { COLUMNS: columns }).stdout);
      const widest = Math.max(...fast.stdout.split('\n').map((line) => line.length));
      assert.ok(widest <= width, `${args} at ${columns}: a ${widest}-column line`);
    }
  }
});

test('connect --help fits an 80-column terminal, every example command on one line', {
  skip: process.platform === 'win32' && 'drives /bin/sh in a pseudo-terminal',
}, async () => {
  // The pty's exit event may come before its last output has been read (node-pty then drops
  // what is left after a short wait, which a loaded machine can outlast): a shell prints the
  // exit code after the help, on the same terminal, and the screen is read up to that mark.
  const term = spawnPty(
    '/bin/sh',
    ['-c', `"$0" "$1" connect --help; echo "help-exit=$?"; sleep 60`, process.execPath, cliPath],
    { cols: 80, rows: 60, env: { ...process.env, NO_COLOR: '1', COLUMNS: '' } },
  );
  let screen = '';
  term.onData((data) => {
    screen += data;
  });
  const deadline = Date.now() + 30_000;
  while (!/help-exit=\d+\r?\n/.test(screen) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  term.kill();
  assert.match(screen, /help-exit=0\r?\n/, 'connect --help ended with 0 (within 30 s)');
  const lines = screen.slice(0, screen.indexOf('help-exit=')).replace(/\r\n/g, '\n').split('\n');
  for (const line of lines) assert.ok(line.length <= 80, `longer than 80 columns: ${line}`);
  for (const example of [
    '  cmd-chat connect 192.168.1.5 3000 alice',
    '  echo "build done" | CMD_CHAT_PASSWORD=… cmd-chat connect host 3000 ci',
    '  cmd-chat connect host 3000 bot --json --follow < /dev/null',
    `  printf '%s\\0' "$(git log -1)" | cmd-chat connect host 3000 ci -0`,
  ])
    assert.ok(lines.includes(example), `missing as one line: ${example}`);
});

test("the daemon's start-up hint names the installed command and leaves the password out", async () => {
  const daemon = await startDaemonProcess([]);
  try {
    for (let i = 0; i < 100 && !daemon.stdout().includes('YOUR_NAME\n'); i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const out = daemon.stdout();
    const password = /shown once\): (\S+)/.exec(out)?.[1];
    assert.ok(password, out);
    assert.match(out, new RegExp(`\\n  cmd-chat connect 127\\.0\\.0\\.1 ${daemon.port} YOUR_NAME\\n`));
    assert.equal(out.split(password).length, 2, 'the password is printed once, outside the command');
    assert.doesNotMatch(out, /npx/);
  } finally {
    await daemon.stop();
  }
});

test('the start-up of a daemon with two rooms: short lines, rooms by name, a command for each', async () => {
  const daemon = await startDaemonProcess(['--room', 'team=pw-team-1', '--room', 'ops=pw-ops-2']);
  try {
    for (let i = 0; i < 100 && !daemon.stdout().includes('--room ops\n'); i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const out = daemon.stdout();
    const log = daemon.stderr();
    const command = (room: string): string =>
      `  cmd-chat connect 127.0.0.1 ${daemon.port} YOUR_NAME --room ${room}`;
    assert.equal(
      out,
      [
        'Rooms: team, ops',
        'Connect with (it asks for the password of each room):',
        command('team'),
        command('ops'),
        '',
      ].join('\n'),
    );
    const logLines = log.split('\n').filter((l) => l !== '');
    assert.match(logLines[0]!, new RegExp(`cmd-chat: listening on 127\\.0\\.0\\.1:${daemon.port}; 2 rooms$`));
    assert.match(logLines[1]!, /cmd-chat: limits: the defaults/);
    for (const line of [...out.split('\n'), ...logLines])
      assert.ok(line.length <= 80, `${line.length} columns: ${line}`);
    // The log names no room; nothing names a password.
    assert.doesNotMatch(log, /team|ops/);
    assert.doesNotMatch(out + log, /pw-team-1|pw-ops-2/);
    // The printed command, as typed (the password from the environment), joins that room.
    const args = command('ops')
      .trim()
      .split(' ')
      .slice(2)
      .map((w) => (w === 'YOUR_NAME' ? 'carol' : w));
    const ok = await runClient(args, { input: 'hello ops\n', env: { CMD_CHAT_PASSWORD: 'pw-ops-2' } });
    assert.equal(ok.code, 0, ok.stderr);
    const wrong = await runClient(args, { input: 'hello\n', env: { CMD_CHAT_PASSWORD: 'pw-team-1' } });
    assert.equal(wrong.code, 4, "the command names the room: the other room's password fails");
  } finally {
    await daemon.stop();
  }
});

test('the start-up log says which limits differ from the defaults, by their flags', async () => {
  const daemon = await startDaemonProcess(['--password', 'pw', '--history', '5', '--slow-grace', '2']);
  try {
    const limits = daemon
      .stderr()
      .split('\n')
      .find((l) => l.includes('limits:'));
    assert.match(limits ?? '', /limits: --slow-grace 2 --history 5 \(serve --help lists them\)$/);
    assert.ok(
      daemon
        .stderr()
        .split('\n')
        .every((l) => l.length <= 80),
      daemon.stderr(),
    );
  } finally {
    await daemon.stop();
  }
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
  // A room burst the readers' queues cannot hold (equal is refused too).
  for (const burst of ['8388608', '16777216']) {
    const b = run(cliPath, [
      'serve',
      '127.0.0.1',
      '0',
      '--password',
      'pw',
      '--max-queue',
      '8388608',
      '--room-burst-bytes',
      burst,
    ]);
    assert.equal(b.code, 2, b.stderr);
    assert.match(
      b.stderr,
      new RegExp(
        `^cmd-chat: --room-burst-bytes ${burst} is not below --max-queue 8388608: [^\\n]*\\nRun \`cmd-chat serve --help\` for usage\\.\\n$`,
      ),
    );
  }
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
  // Seconds: 0 is refused, except where it turns the limit off.
  const timeout = run(cliPath, ['serve', '127.0.0.1', '0', '--password', 'pw', '--handshake-timeout', '0']);
  assert.equal(timeout.code, 2);
  assert.match(timeout.stderr, /--handshake-timeout must be a number of seconds above 0\n/);
  const negative = run(cliPath, ['serve', '127.0.0.1', '0', '--password', 'pw', '--resume-grace', '-1']);
  assert.equal(negative.code, 2);
  assert.match(negative.stderr, /--resume-grace must be a number of seconds above 0, or 0 \(off\)\n/);
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
