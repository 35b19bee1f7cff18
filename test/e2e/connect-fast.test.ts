/**
 * `connect` without yargs (commands/connect-fast.ts, fast-args.ts): for every command line the
 * plain parser reads, it gives exactly yargs' object (every option in every plain form, and
 * generated lines), and it leaves every other line to yargs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONNECT_OPTIONS, connectCommand } from '../../commands/connect.js';
import { parseConnectArgs } from '../../commands/connect-fast.js';
import { compareLines, disagreement, plainForm, randomLines } from '../helpers/fast-parse.js';

const differs = (args: readonly string[]): Promise<string> =>
  disagreement(parseConnectArgs, 'connect', connectCommand, args);

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
    problems.push(await differs(line));
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
    problems.push(await differs(line));
  }
  assert.deepEqual(
    problems.filter((p) => p !== ''),
    [],
  );
});

test('generated command lines: whatever is read without yargs equals what yargs reads', async () => {
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
  const LINES = 200;
  const lines = randomLines({
    seed: 29,
    lines: LINES,
    maxWords: 8,
    names,
    values,
    noise,
    looseShare: 0.35,
    noiseShare: 0.1,
  });
  const { problems, plain } = await compareLines(lines, parseConnectArgs, differs);
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
