/**
 * `connect` without yargs (commands/connect-fast.ts, fast-args.ts): for every command line the
 * plain parser reads, it gives exactly yargs' object (every option in every plain form, and
 * generated lines), and it leaves every other line to yargs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import yargs from 'yargs';
import { CONNECT_OPTIONS, connectCommand } from '../../commands/connect.js';
import { parseConnectArgs } from '../../commands/connect-fast.js';

type Parsed = Record<string, unknown>;

/** What yargs makes of `connect ARGS` (strict, as the CLI): its object without `_`/`$0`, or its error. */
async function viaYargs(args: readonly string[]): Promise<Parsed | { error: string }> {
  let parsed: Parsed | undefined;
  let error = '';
  await yargs(['connect', ...args])
    .strict()
    .exitProcess(false)
    .command({
      command: connectCommand.command!,
      builder: connectCommand.builder!,
      handler: (argv) => {
        parsed = argv as Parsed;
      },
    })
    .fail((msg, err) => {
      error = msg ?? err?.message ?? 'failed';
    })
    .parseAsync()
    .catch((err: Error) => {
      error = err.message;
    });
  if (parsed === undefined) return { error };
  const { _, $0, ...rest } = parsed;
  return rest;
}

/** Where the fast parser and yargs differ on `args` ('' when they agree or the fast one defers). */
async function disagreement(args: readonly string[]): Promise<string> {
  const fast = parseConnectArgs(args) as unknown as Parsed | undefined;
  if (fast === undefined) return '';
  const slow = await viaYargs(args);
  if ('error' in slow) return `${JSON.stringify(args)}: read plainly, but yargs refuses it (${slow.error})`;
  if (isDeepStrictEqual({ ...fast }, slow)) return '';
  const keys = new Set([...Object.keys(fast), ...Object.keys(slow)]);
  const diff = [...keys]
    .filter((k) => !isDeepStrictEqual(fast[k], slow[k]))
    .map((k) => `${k}: ${JSON.stringify(fast[k])} vs yargs ${JSON.stringify(slow[k])}`);
  return `${JSON.stringify(args)}: ${diff.join('; ')}`;
}

/** Each option in one plain form: `--name value` (a boolean: `--name`), or `--name=value` (`--no-name`). */
function plainForm(name: string, type: string | undefined, inline: boolean): string[] {
  if (type === 'boolean') return [inline ? `--no-${name}` : `--${name}`];
  const value = type === 'number' ? '2' : 'x=1';
  return inline ? [`--${name}=${value}`] : [`--${name}`, value];
}

test('every option in every plain form is read without yargs, as yargs reads it', async () => {
  const problems: string[] = [];
  for (const inline of [false, true]) {
    const line = [
      '127.0.0.1',
      '3000',
      'alice',
      ...Object.entries(CONNECT_OPTIONS).flatMap(([name, d]) => plainForm(name, d.type, inline)),
    ];
    if (parseConnectArgs(line) === undefined) problems.push(`${line.join(' ')}: left to yargs`);
    problems.push(await disagreement(line));
  }
  for (const line of [
    ['127.0.0.1', '3000', 'alice'],
    ['host:3000', 'bob', 'pw'],
    ['::1', '3000', 'alice', '--json', '--follow', '--commands'],
    ['127.0.0.1', '3000', 'alice', '--room', 'team', '--room', 'ops'],
    ['127.0.0.1', '3000', '42'],
    ['127.0.0.1', '03000', 'alice', '--keepalive', '0.5', '--reconnect-attempts', '0'],
    ['127.0.0.1', '3000', 'alice', '--password'],
    ['127.0.0.1', '3000', 'alice', '--no-reconnect', '--trust', 'bob=AB12'],
    ['--socket', '/run/cmd-chat.sock', 'alice', 'pw'],
    ['--json', '127.0.0.1', '3000', '--keepalive', '5', 'alice'],
  ]) {
    if (parseConnectArgs(line) === undefined) problems.push(`${line.join(' ')}: left to yargs`);
    problems.push(await disagreement(line));
  }
  assert.deepEqual(
    problems.filter((p) => p !== ''),
    [],
  );
});

/** A seeded generator (mulberry32): the same lines on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('generated command lines: whatever is read without yargs equals what yargs reads', async () => {
  const next = random(29);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const names = [...Object.keys(CONNECT_OPTIONS), 'args'];
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
    '::1',
    '127.0.0.1:9',
  ];
  const noise = [
    '--',
    '-h',
    '-0',
    '-x',
    '--jsn',
    '--no-room',
    'true',
    'word',
    '--keepalive=',
    '--json=false',
  ];
  const problems: string[] = [];
  let plain = 0;
  const LINES = 200;
  for (let n = 0; n < LINES; n++) {
    const line: string[] = [];
    const count = Math.floor(next() * 8);
    for (let k = 0; k < count; k++) {
      const r = next();
      if (r < 0.35) line.push(pick(values).replace(/^$/, '0'));
      else if (r < 0.2) line.push(pick(noise));
      else {
        const name = pick(names);
        const form = next();
        if (form < 0.45) line.push(`--${name}`, pick(values));
        else if (form < 0.8) line.push(`--${name}=${pick(values)}`);
        else if (form < 0.9) line.push(`--${name}`);
        else line.push(`--no-${name}`);
      }
    }
    if (parseConnectArgs(line) !== undefined) plain++;
    const diff = await disagreement(line);
    if (diff) problems.push(diff);
  }
  assert.deepEqual(problems.slice(0, 10), [], `${problems.length} of ${LINES} lines differ`);
  assert.ok(plain > LINES * 0.1 && plain < LINES * 0.9, `${plain} of ${LINES} lines read plainly`);
});

test('lines yargs reads in its own way are left to it', () => {
  for (const line of [
    [],
    ['127.0.0.1', '3000', 'alice', '--json', 'true'], // a boolean takes the word after it
    ['127.0.0.1', '3000', '--room', 'a', 'alice'], // an array takes the words after it
    ['127.0.0.1', '3000', 'alice', '--args', 'pw'], // the words' positional as an option
    ['127.0.0.1', '3000', 'alice', '--keepalive', '1', '--keepalive', '2'],
    ['127.0.0.1', '3000', 'alice', '-0'],
    ['127.0.0.1', '3000', 'alice', '--', '-pw'],
    ['127.0.0.1', '3000', 'alice', '--help'],
    ['127.0.0.1', '3000', 'alice', '-h'],
    ['127.0.0.1', '3000', 'alice', '--version'],
    ['127.0.0.1', '3000', 'alice', '--jsn'],
  ])
    assert.equal(parseConnectArgs(line), undefined, line.join(' '));
});
