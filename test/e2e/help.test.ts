/**
 * The help texts as a reader meets them: the essential options first and the limits last in
 * `serve --help`, examples, no tag glued to a description at any width, the width of a pipe,
 * the pre-rendered fast path equal to what yargs renders, and "did you mean" for a typo.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { brotliDecompressSync } from 'node:zlib';
import { renderHelp, separateTypeTags } from '../../commands/cli.js';
import type { PrerenderedHelp } from '../../commands/fast-help.js';
import { closest, editDistance } from '../../commands/suggest.js';
import { builtCli, cliPath, repoRoot } from '../helpers/paths.js';

function run(
  entry: string,
  args: string[],
  env: Record<string, string | undefined> = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [entry, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const prerendered = (): PrerenderedHelp =>
  JSON.parse(
    brotliDecompressSync(readFileSync(join(repoRoot, 'dist', 'help.json.br'))).toString('utf8'),
  ) as PrerenderedHelp;

const GLUED = /\S\[(string|number|boolean|array|count)\]/;

test('no help text at any width glues a type tag to its description, or runs past the width', () => {
  const help = prerendered();
  const commands = Object.keys(help.texts);
  assert.deepEqual(commands.sort(), ['', 'completion', 'connect', 'room-entry', 'serve']);
  for (const command of commands) {
    const texts = help.texts[command]!;
    assert.equal(texts.length, 61, 'one text per width from 40 to 100');
    texts.forEach((text, i) => {
      const width = help.minWidth + i;
      for (const line of text.split('\n')) {
        assert.doesNotMatch(line, GLUED, `${command || 'top'} at ${width}: ${line}`);
        assert.ok(line.length <= width, `${command || 'top'} at ${width}: ${line.length} columns`);
      }
    });
  }
});

test('a tag glued by yargs goes to a right-aligned line of its own; other lines are kept', () => {
  const text = [
    '      --password  the password (bare flag: ask on the terminal)[string]',
    '      --room      a room                           [array] [default: []]',
  ].join('\n');
  assert.equal(
    separateTypeTags(text, 70),
    [
      '      --password  the password (bare flag: ask on the terminal)',
      `${' '.repeat(62)}[string]`,
      '      --room      a room                           [array] [default: []]',
    ].join('\n'),
  );
});

test('the pre-rendered help is what renderHelp makes, and what a help flag anywhere prints', async () => {
  const help = prerendered();
  for (const [command, args] of [
    ['', ['--help']],
    ['serve', ['serve', '--help']],
    ['connect', ['connect', '--help']],
    ['room-entry', ['room-entry', '--help']],
  ] as const) {
    for (const width of [40, 63, 80, 100]) {
      assert.equal(
        help.texts[command]![width - help.minWidth],
        await renderHelp([...args], width),
        `${command || 'top'} at ${width}`,
      );
    }
  }
  // Forms the fast path leaves to yargs print the same text.
  const fast = run(cliPath, ['serve', '--help'], { COLUMNS: '72' }).stdout;
  assert.equal(run(cliPath, ['serve', '127.0.0.1', '--help'], { COLUMNS: '72' }).stdout, fast);
  assert.equal(run(builtCli, ['serve', '-h'], { COLUMNS: '72' }).stdout, fast);
});

test('help piped to a file without COLUMNS is 80 columns wide, not 100', () => {
  for (const args of [['--help'], ['serve', '--help']]) {
    const piped = run(cliPath, args, { COLUMNS: undefined });
    assert.equal(piped.code, 0);
    const widest = Math.max(...piped.stdout.split('\n').map((l) => l.length));
    assert.ok(widest <= 80 && widest > 70, `${args}: widest line ${widest}`);
    assert.equal(piped.stdout, run(cliPath, args, { COLUMNS: '80' }).stdout);
    // yargs' own path agrees.
    assert.equal(run(builtCli, args, { COLUMNS: undefined }).stdout, piped.stdout);
  }
});

test('serve --help: rooms, listening and cluster first, the limits in their own group after them', () => {
  const text = run(cliPath, ['serve', '--help'], { COLUMNS: '100' }).stdout;
  const at = (needle: string): number => {
    const i = text.indexOf(needle);
    assert.ok(i >= 0, `missing: ${needle}`);
    return i;
  };
  const order = [
    at('Positionals:'),
    at('Rooms and passwords:'),
    at('\n      --password '),
    at('\n      --room '),
    at('Listening and logging:'),
    at('\n      --socket'),
    at('Cluster ('),
    at('\n      --cluster '),
    at('Limits ('),
    at('\n      --max-clients'),
    at('\n      --resume-grace'),
    at('Examples:'),
  ];
  assert.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
  );
  // Every limit flag is in the Limits group: none before its heading.
  const limits = text.slice(at('Limits ('));
  for (const flag of ['--max-clients', '--history ', '--rate ', '--handshake-timeout', '--room-grace']) {
    const row = `\n      ${flag}`;
    assert.equal(text.indexOf(row), at('Limits (') + limits.indexOf(row), flag);
  }
  for (const example of [
    '  cmd-chat serve 0.0.0.0 3000 --password-file pw.txt',
    '  cmd-chat serve --room team --room ops',
  ])
    assert.ok(text.split('\n').includes(example), `missing example: ${example}`);
});

test('the top-level help and connect --help have examples, one command per line', () => {
  const top = run(cliPath, ['--help'], { COLUMNS: '80' }).stdout.split('\n');
  assert.ok(top.includes('Examples:'));
  assert.ok(top.includes('  cmd-chat connect 192.168.1.5 3000 alice'));
  const connect = run(cliPath, ['connect', '--help'], { COLUMNS: '80' }).stdout.split('\n');
  assert.ok(connect.includes('Examples:'));
  assert.ok(connect.includes('  cmd-chat connect 192.168.1.5 3000 alice --room team --room ops'));
});

test('an unknown option gets a "did you mean" for a likely typo, and exit 2', () => {
  const history = run(builtCli, ['serve', '--histroy', '5']);
  assert.equal(history.code, 2);
  assert.equal(
    history.stderr,
    'cmd-chat: Unknown argument: histroy (did you mean --history?)\nRun `cmd-chat serve --help` for usage.\n',
  );
  // Compared with the options of the command given: --json is connect's, not serve's.
  const two = run(builtCli, ['connect', 'h', '1', 'me', '--jsno', '--folow', '--zzzzzz']);
  assert.equal(two.code, 2);
  assert.match(
    two.stderr,
    /^cmd-chat: Unknown arguments: jsno, folow, zzzzzz \(did you mean --json and --follow\?\)\n/,
  );
  const far = run(builtCli, ['serve', '--frobnicate']);
  assert.equal(far.code, 2);
  assert.doesNotMatch(far.stderr, /did you mean/);
  // yargs names `--max-client` twice (also as maxClient): one hint.
  const camel = run(builtCli, ['serve', '--max-client', '3']);
  assert.match(camel.stderr, /\(did you mean --max-clients\?\)\n/);
});

test('edit distance counts a swap of neighbours as one edit; closest refuses far or tied words', () => {
  assert.equal(editDistance('histroy', 'history'), 1);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('same', 'same'), 0);
  assert.equal(closest('histroy', ['history', 'history-bytes', 'help']), 'history');
  assert.equal(closest('jsno', ['json', 'socket']), 'json');
  assert.equal(closest('roomx', ['rooms', 'room']), undefined, 'a tie suggests nothing');
  assert.equal(closest('xyz', ['json', 'room']), undefined);
  assert.equal(closest('pasword', ['password', 'password-file']), 'password');
});
