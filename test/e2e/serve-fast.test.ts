/**
 * `serve` without yargs (commands/serve-fast.ts, fast-args.ts): for every command line the
 * plain parser reads, it gives exactly yargs' object (thousands of generated lines, every
 * option in every plain form), leaves every other line to yargs, and a daemon started by the
 * bin then loads neither yargs nor the client's or the help's modules.
 */
import assert from 'node:assert/strict';
import * as nodeModule from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CLUSTER_OPTIONS } from '../../commands/cluster-options.js';
import { limitOptions } from '../../commands/limit-options.js';
import { SERVE_OPTIONS, serveCommand } from '../../commands/serve.js';
import { parseServeArgs } from '../../commands/serve-fast.js';
import { ExitCode } from '../../lib/exit-codes.js';
import { compareLines, disagreement, plainForm, randomLines } from '../helpers/fast-parse.js';
import { cliPath } from '../helpers/paths.js';
import { freePort, spawnCaptured } from '../helpers/processes.js';

const options = { ...SERVE_OPTIONS, ...CLUSTER_OPTIONS, ...limitOptions() };

const differs = (args: readonly string[]): Promise<string> =>
  disagreement(parseServeArgs, 'serve', serveCommand, args);

test('every option in every plain form is read without yargs, as yargs reads it', async () => {
  const problems: string[] = [];
  // One line per form with every option in it (yargs takes 40-200 ms a line here).
  for (const inline of [false, true]) {
    const line = Object.entries(options).flatMap(([name, d]) => plainForm(name, d.type, inline));
    if (parseServeArgs(line) === undefined) problems.push(`${line.join(' ')}: left to yargs`);
    problems.push(await differs(line));
  }
  for (const line of [
    ['0.0.0.0'],
    ['::', '0'],
    ['--port', '0', 'localhost'],
    ['--password'],
    ['--password', '--verbose'],
  ]) {
    if (parseServeArgs(line) === undefined) problems.push(`${line.join(' ')}: left to yargs`);
    problems.push(await differs(line));
  }
  assert.deepEqual(
    problems.filter((p) => p !== ''),
    [],
  );
});

test('generated command lines: whatever is read without yargs equals what yargs reads', async () => {
  const names = [...Object.keys(options), 'host', 'port'];
  const values = [
    '0',
    '7',
    '2.5',
    '01',
    '-1',
    '1e3',
    '0x10',
    'x',
    'a=b',
    '',
    'true',
    'false',
    '0.0.0.0',
    '::1',
  ];
  const noise = [
    '--',
    '-h',
    '-x',
    '--verbos',
    '--no-port',
    'true',
    'false',
    'word',
    '--max-clients=',
    '--legacy=false',
  ];
  // Only a line read plainly costs a yargs parse; about a third are.
  const LINES = 300;
  const lines = randomLines({
    seed: 23,
    lines: LINES,
    maxWords: 6,
    names,
    values,
    noise,
    looseShare: 0.12,
    noiseShare: 0.08,
  });
  const { problems, plain } = await compareLines(lines, parseServeArgs, differs);
  assert.deepEqual(problems.slice(0, 10), [], `${problems.length} of ${LINES} lines differ`);
  // The generator must reach both sides: lines read plainly, and lines left to yargs.
  assert.ok(plain > LINES * 0.1 && plain < LINES * 0.9, `${plain} of ${LINES} lines read plainly`);
});

test('lines yargs reads in its own way are left to it', () => {
  for (const line of [
    ['--legacy', 'true'], // a boolean takes the word after it
    ['--legacy=false'],
    ['--room', 'a=1', 'b=2'], // an array takes the words after it
    ['0.0.0.0', '3000', 'extra'],
    ['--port', '1', '--port', '2'], // yargs makes an array of it
    ['--port', '1e3'],
    ['--port', '-1'],
    ['--password', '-x'],
    ['-p', '3'],
    ['--', 'x'],
    ['--verbos'],
    ['--maxClients', '3'],
    ['--no-password'],
    ['--help'],
    ['-h'],
    ['--version'],
  ])
    assert.equal(parseServeArgs(line), undefined, line.join(' '));
});

const hooks = pathToFileURL(join(import.meta.dirname, '..', 'helpers', 'log-imports.js')).href;
/** log-imports.js needs `module.registerHooks` (Node 22.15+ and 24). */
const noHooks =
  typeof (nodeModule as { registerHooks?: unknown }).registerHooks !== 'function' &&
  'module.registerHooks needs Node 22.15 or later';

/** What `cmd-chat serve ARGS` (the bin, as installed) imports until it listens. */
async function importsOfServe(args: string[]): Promise<string[]> {
  const port = await freePort();
  const daemon = spawnCaptured(
    process.execPath,
    [`--import=${hooks}`, cliPath, 'serve', '127.0.0.1', String(port), ...args],
    { CMD_CHAT_PASSWORD: 'a fast path test password' },
  );
  try {
    // Seconds when idle, but with the hook logging each of hundreds of imports on a loaded
    // machine, one start took over 20 s.
    const deadline = Date.now() + 60_000;
    while (!/listening on/.test(daemon.stderr()) && Date.now() < deadline) {
      if (daemon.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const said = daemon
      .stderr()
      .split('\n')
      .filter((l) => !l.startsWith('imported '));
    assert.match(daemon.stderr(), /listening on/, `exit ${daemon.proc.exitCode}: ${said.join('\n')}`);
  } finally {
    // `exited` was listened for at spawn: it resolves even for a daemon that failed to start.
    if (daemon.proc.exitCode === null && daemon.proc.signalCode === null) daemon.proc.kill('SIGTERM');
    await daemon.exited;
  }
  return [...daemon.stderr().matchAll(/^imported (.+)$/gm)].map((m) => m[1]!);
}

/**
 * What a daemon has no use for: the CLI's parser and help, the client, the cluster and its
 * built-in module (only `--workers`), DNS (only the SOCKS5 client resolves names).
 */
const NOT_FOR_A_DAEMON =
  /node_modules\/(yargs|cli-highlight|ora|@nats-io)\/|\/commands\/(cli|registry|connect|room-entry|fast-help|help-width|suggest)\.js$|\/lib\/(client|cluster\/(?!keys\.js))|^node:(cluster|dns|dns\/promises|zlib|readline|readline\/promises)$/;

test('a daemon started by the bin loads neither yargs nor the client, help or cluster modules', {
  skip: noHooks,
}, async () => {
  const loaded = await importsOfServe(['--verbose', '--max-clients', '64']);
  assert.ok(
    loaded.some((u) => u.endsWith('/lib/server/daemon.js')),
    'the hook saw the daemon load',
  );
  assert.deepEqual(
    loaded.filter((u) => NOT_FOR_A_DAEMON.test(u)),
    [],
  );
});

test('the check can fail: a line left to yargs loads it, and the daemon still starts', {
  skip: noHooks,
}, async () => {
  const loaded = await importsOfServe(['--verbose=true']);
  assert.ok(
    loaded.some((u) => /node_modules\/yargs\//.test(u)),
    'yargs parsed --verbose=true',
  );
});

test("a line the checks refuse gets yargs' error and hint, and exit 2", async () => {
  const r = spawnCaptured(process.execPath, [cliPath, 'serve', '--port', '70000']);
  assert.equal(await r.exited, ExitCode.usage);
  assert.match(r.stderr(), /^cmd-chat: port must be 0-65535\nRun `cmd-chat serve --help` for usage\.\n$/);
  const typo = spawnCaptured(process.execPath, [cliPath, 'serve', '--max-client', '5']);
  assert.equal(await typo.exited, ExitCode.usage);
  assert.match(typo.stderr(), /Unknown arguments?: max-client.*did you mean --max-clients\?/);
});
