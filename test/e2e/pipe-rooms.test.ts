/**
 * Pipe mode in several rooms at once: each line goes to the current room, `/switch` lines
 * change it (with --commands), and every printed line says which room it is from (a prefix,
 * or a "room" field in --json). Real daemon, real client processes, real pipes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type DaemonProcess,
  jsonLines,
  runClient,
  startDaemonProcess,
  startJsonReader,
} from '../helpers/processes.js';

describe('pipe mode with several rooms', () => {
  let daemon: DaemonProcess;
  let dir: string;
  let twoLines: string;
  before(async () => {
    daemon = await startDaemonProcess(['--password', 'pw-chat', '--room', 'b=pw-b']);
    dir = mkdtempSync(join(tmpdir(), 'cmd-chat-pipe-rooms-'));
    twoLines = join(dir, 'passwords');
    writeFileSync(twoLines, 'pw-chat\npw-b\n', { mode: 0o600 });
  });
  after(async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const target = (name: string): string[] => ['127.0.0.1', String(daemon.port), name];
  /** `name` piping `input` into rooms chat and b (passwords from the file), with `flags`. */
  const twoRoomClient = (name: string, flags: string[], input: string) =>
    runClient([...target(name), '--room', 'chat', '--room', 'b', '--password-file', twoLines, ...flags], {
      input,
      env: { CMD_CHAT_PASSWORD: '' },
    });

  test('lines go to the current room, /switch changes it, output is prefixed with the room', async () => {
    const inChat = await startJsonReader(target('rchat'), { CMD_CHAT_PASSWORD: 'pw-chat' });
    const inB = await startJsonReader([...target('rb'), '--room', 'b'], { CMD_CHAT_PASSWORD: 'pw-b' });
    try {
      const result = await twoRoomClient(
        'bot',
        ['--commands'],
        'one for chat\n/switch b\none for b\n/switch #chat\ntwo for chat\n',
      );
      assert.equal(result.code, 0, result.stderr);
      // Each room is its own connection: echoes of different rooms may interleave either way.
      const out = result.stdout.trim().split('\n');
      assert.equal(out.length, 3, result.stdout);
      const of = (room: string): string[] =>
        out.filter((l) => l.startsWith(`[${room}] `)).map((l) => l.replace(/^\[\w+\] \d\d:\d\d /, ''));
      assert.deepEqual(of('chat'), ['bot: one for chat', 'bot: two for chat']);
      assert.deepEqual(of('b'), ['bot: one for b']);
      await inChat.waitFor(
        (evs) => evs.filter((e) => e.type === 'message' && e.user === 'bot').length === 2,
        'two lines in #chat',
      );
      await inB.waitForMessage('bot');
      const texts = (evs: Array<Record<string, unknown>>): unknown[] =>
        evs.filter((e) => e.type === 'message' && e.user === 'bot').map((e) => e.text);
      assert.deepEqual(texts(inChat.events()), ['one for chat', 'two for chat']);
      assert.deepEqual(texts(inB.events()), ['one for b']);
    } finally {
      await inChat.stop();
      await inB.stop();
    }
  });

  test('--json adds the room to every event', async () => {
    const result = await twoRoomClient('jbot', ['--json', '--commands'], 'hello\n/switch 2\nhi b\n/rooms\n');
    assert.equal(result.code, 0, result.stderr);
    const events = jsonLines(result.stdout);
    const messages = events.filter((e) => e.type === 'message');
    assert.deepEqual(messages.map((e) => [e.room, e.text]).sort(), [
      ['b', 'hi b'],
      ['chat', 'hello'],
    ]);
    const infos = events.filter((e) => e.type === 'info').map((e) => [e.room, e.text]);
    assert.deepEqual(infos, [
      ['b', '1. #chat'],
      ['b', '2. #b (current)'],
    ]);
  });

  test('a /switch to a room not joined exits 10 and sends none of the lines after it', async () => {
    const inB = await startJsonReader([...target('rb2'), '--room', 'b'], { CMD_CHAT_PASSWORD: 'pw-b' });
    try {
      const result = await twoRoomClient(
        'sbot',
        ['--json', '--commands'],
        'hello\n/switch bb\nmeant for bb\n/switch b\nalso not sent\n',
      );
      assert.equal(result.code, 10, result.stderr);
      const events = jsonLines(result.stdout);
      assert.deepEqual(
        events.filter((e) => e.type === 'message').map((e) => [e.room, e.text]),
        [['chat', 'hello']],
      );
      const errors = events.filter((e) => e.type === 'error').map((e) => [e.room, e.message]);
      assert.deepEqual(errors, [
        ['chat', 'line 2: you are not in a room bb (/rooms lists yours)'],
        ['chat', 'the lines after line 2 are not sent'],
      ]);
      assert.match(result.stderr, /^cmd-chat: 1 command failed$/m);
      // Nothing reached #b: the line typed for it after a correct /switch is not sent either.
      const probe = await runClient([...target('probe'), '--room', 'b'], {
        input: 'probe\n',
        env: { CMD_CHAT_PASSWORD: 'pw-b' },
      });
      assert.equal(probe.code, 0, probe.stderr);
      await inB.waitForMessage('probe');
      assert.deepEqual(
        inB
          .events()
          .filter((e) => e.type === 'message')
          .map((e) => e.text),
        ['probe'],
      );
    } finally {
      await inB.stop();
    }
  });

  test('without --commands a /switch line is text for the first room', async () => {
    const result = await twoRoomClient('tbot', ['--json'], '/switch b\nstill chat\n');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      jsonLines(result.stdout)
        .filter((e) => e.type === 'message')
        .map((e) => [e.room, e.text]),
      [
        ['chat', '/switch b'],
        ['chat', 'still chat'],
      ],
    );
  });

  test('a password file needs one line per room, or one for all', async () => {
    const result = await runClient(
      [...target('x'), '--room', 'chat', '--room', 'b', '--room', 'c', '--password-file', twoLines],
      { input: '', env: { CMD_CHAT_PASSWORD: '' } },
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^cmd-chat: the password file ".*" has 2 lines for 3 rooms/);
    assert.ok(!result.stderr.includes('pw-'), 'no password in the error');
  });
});
