/**
 * Private messages and /quit across every room of a REPL, in a real pseudo-terminal against a
 * real daemon: a private message through another room shows at once with that room named,
 * /reply answers it there, /msg finds a member in any room (the current room first, `#room`
 * when the name is in several), /quit MESSAGE reaches every room; Tab completes room names
 * and /help topics.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type DaemonProcess,
  type JsonReader,
  startDaemonProcess,
  startJsonReader,
} from '../helpers/processes.js';
import { type PtyClient, startPtyClientAtPrompt } from '../helpers/pty.js';

const PW = { chat: 'pw-chat', b: 'pw-b', c: 'pw-c' };

describe('private messages across rooms', () => {
  let daemon: DaemonProcess;
  let dir: string;
  let alice: PtyClient;
  let frank: PtyClient;
  const readers: Record<string, JsonReader> = {};

  const reader = (name: string, room: keyof typeof PW): Promise<JsonReader> =>
    startJsonReader(['127.0.0.1', String(daemon.port), name, '--room', room], {
      CMD_CHAT_PASSWORD: PW[room],
    });

  before(async () => {
    daemon = await startDaemonProcess(['--password', PW.chat, '--room', `b=${PW.b}`, '--room', `c=${PW.c}`]);
    dir = mkdtempSync(join(tmpdir(), 'cmd-chat-private-'));
    const pwFile = join(dir, 'passwords');
    writeFileSync(pwFile, `${PW.chat}\n${PW.b}\n${PW.c}\n`, { mode: 0o600 });
    // "dup" is a name in #b and in #c: two people.
    readers.chat = await reader('readerchat', 'chat');
    readers.dupB = await reader('dup', 'b');
    readers.dupC = await reader('dup', 'c');
    frank = await startPtyClientAtPrompt(
      daemon.port,
      'frank',
      { password: PW.b, extraArgs: ['--room', 'b'] },
      'b',
    );
    alice = await startPtyClientAtPrompt(daemon.port, 'alice', {
      extraArgs: ['--room', 'chat', '--room', 'b', '--room', 'c', '--password-file', pwFile],
      env: { CMD_CHAT_PASSWORD: '' },
    });
    await alice.waitForText('-- also joined #c');
  });
  after(async () => {
    frank?.kill();
    alice?.kill();
    for (const r of Object.values(readers)) await r.stop();
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const privates = (r: JsonReader): Array<Record<string, unknown>> =>
    r.events().filter((e) => e.type === 'private' && e.mine === false);

  test('a private message through another room shows at once, and /r answers it there', async () => {
    frank.write('/msg alice psst, from b\r');
    await alice.waitForScreen(
      (s) => s.lines().some((l) => /^#b .*\(private\) frank \? → you: psst, from b$/.test(l)),
      'the private message, its room named',
    );
    assert.equal(alice.screen.cursorLine(), '[chat] alice>', 'alice is still in #chat');
    alice.write('/r got it\r');
    await frank.waitForText('(private) alice ? → you: got it');
    // /msg finds frank in #b though #chat is current.
    alice.write('/msg frank and one more\r');
    await frank.waitForText('(private) alice ? → you: and one more');
    await alice.waitForScreen(
      (s) => s.lines().some((l) => /^#b .*\(private\) you → frank \?: and one more$/.test(l)),
      "alice's receipt, its room named",
    );
  });

  test('a name in several rooms: /msg asks which, and /msg #room name … says it', async () => {
    alice.write('/msg dup hello?\r');
    await alice.waitForText('dup is in #b and #c: say which, e.g. /msg #b dup …');
    alice.write('/msg #c dup only for c\r');
    await readers.dupC!.waitFor(
      (evs) => evs.some((e) => e.type === 'private' && e.text === 'only for c'),
      'dup in c',
    );
    alice.write('/msg #B dup only for b\r');
    await readers.dupB!.waitFor(
      (evs) => evs.some((e) => e.type === 'private' && e.text === 'only for b'),
      'dup in b',
    );
    assert.deepEqual(
      privates(readers.dupC!).map((e) => e.text),
      ['only for c'],
      'the ambiguous /msg went nowhere',
    );
    assert.deepEqual(
      privates(readers.dupB!).map((e) => e.text),
      ['only for b'],
    );
    alice.write('/msg nobody hi\r');
    await alice.waitForText('no other member named nobody in your rooms');
  });

  test('Tab completes room names after /switch and command names after /help', async () => {
    alice.write('/switch ch\t');
    await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice> /switch chat', '/switch chat');
    alice.write('\x15'); // Ctrl-U
    alice.write('/help unig\t');
    await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice> /help unignore', '/help unignore');
    alice.write('\r');
    await alice.waitForText('/unignore <name> — show messages from an ignored member again');
  });

  test('/quit MESSAGE reaches every room', async () => {
    alice.write('/quit bye, all rooms\r');
    const timeout = new Promise<string>((resolve) =>
      setTimeout(() => resolve('still running'), 30_000).unref(),
    );
    assert.equal(await Promise.race([alice.exited, timeout]), 0, alice.screen.text());
    for (const r of [readers.chat!, readers.dupB!, readers.dupC!])
      await r.waitFor(
        (evs) => evs.some((e) => e.type === 'message' && e.user === 'alice' && e.text === 'bye, all rooms'),
        'the parting line',
      );
  });
});
