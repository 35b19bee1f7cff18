/**
 * Several rooms in one interactive client, in a real pseudo-terminal against a real daemon:
 * rooms joined at start from a password file, lines of the other room held with an unread
 * count in the prompt, switching by Alt+number, Ctrl-N, Ctrl-P and /switch, /join with a
 * hidden password, /part, and notifications per room.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type DaemonProcess, runClient, startDaemonProcess, startJsonReader } from '../helpers/processes.js';
import { type PtyClient, startPtyClient, startPtyClientAtPrompt } from '../helpers/pty.js';

const PW = { chat: 'pw-chat', b: 'pw-b', c: 'pw-c' };

describe('several rooms in the REPL', () => {
  let daemon: DaemonProcess;
  let dir: string;
  let pwFile: string;
  const ptys: PtyClient[] = [];

  before(async () => {
    daemon = await startDaemonProcess(['--password', PW.chat, '--room', `b=${PW.b}`, '--room', `c=${PW.c}`]);
    dir = mkdtempSync(join(tmpdir(), 'cmd-chat-rooms-'));
    pwFile = join(dir, 'passwords');
    writeFileSync(pwFile, `${PW.chat}\n${PW.b}\n`, { mode: 0o600 });
  });
  after(async () => {
    for (const p of ptys) p.kill();
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const say = async (room: keyof typeof PW, name: string, input: string): Promise<void> => {
    const result = await runClient(['127.0.0.1', String(daemon.port), name, '--room', room], {
      input,
      env: { CMD_CHAT_PASSWORD: PW[room] },
    });
    assert.equal(result.code, 0, result.stderr);
  };

  const twoRooms = async (name: string, env: Record<string, string> = {}): Promise<PtyClient> => {
    const client = await startPtyClientAtPrompt(daemon.port, name, {
      extraArgs: ['--room', 'chat', '--room', 'b', '--password-file', pwFile],
      env: { CMD_CHAT_PASSWORD: '', ...env },
    });
    ptys.push(client);
    return client;
  };

  test('the other room is held with an unread count; Alt+2, Ctrl-N, Ctrl-P and /switch change room', async () => {
    const alice = await twoRooms('alice');
    await alice.waitForText('-- also joined #b (1 member');
    await say('b', 'bob', 'first in b\nhey alice, in b\n');
    await alice.waitForScreen(
      (s) => s.cursorLine() === '[chat] alice (b:2@)>',
      'two unread in b, one a mention',
    );
    assert.ok(!alice.screen.text().includes('first in b'), "b's lines are held, not shown in #chat");
    alice.write('/rooms\r');
    await alice.waitForText('2. #b, 2 unread (1 mentioning you)');
    assert.ok(alice.screen.text().includes('1. #chat (current)'));

    alice.write('\x1b2'); // Alt+2
    await alice.waitForScreen((s) => s.cursorLine() === '[b] alice>', "b's prompt");
    await alice.waitForText('-- #b: 2 unread --');
    const lines = alice.screen.lines();
    const first = lines.findIndex((l) => l.endsWith('bob ?: first in b'));
    const second = lines.findIndex((l) => l.endsWith('bob ?: hey alice, in b'));
    assert.ok(first >= 0 && second > first, alice.screen.text());

    // A line typed here goes to #b, and only there.
    const readerB = await startJsonReader(['127.0.0.1', String(daemon.port), 'readerb', '--room', 'b'], {
      CMD_CHAT_PASSWORD: PW.b,
    });
    const readerChat = await startJsonReader(['127.0.0.1', String(daemon.port), 'readerchat'], {
      CMD_CHAT_PASSWORD: PW.chat,
    });
    try {
      alice.write('to b\r');
      assert.equal(await readerB.waitForMessage('alice'), 'to b');
      alice.write('\x0e'); // Ctrl-N: the next room (wraps to #chat)
      await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice>', "chat's prompt");
      alice.write('to chat\r');
      assert.equal(await readerChat.waitForMessage('alice'), 'to chat');
      alice.write('\x10'); // Ctrl-P: the previous room (wraps to #b)
      await alice.waitForScreen((s) => s.cursorLine() === '[b] alice>', "b's prompt again");
      alice.write('/switch 1\r');
      await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice>', '/switch by number');
      alice.write('/switch b\r');
      await alice.waitForScreen((s) => s.cursorLine() === '[b] alice>', '/switch by name');
      assert.ok(!readerChat.events().some((e) => e.type === 'message' && e.text === 'to b'));
      assert.ok(!readerB.events().some((e) => e.type === 'message' && e.text === 'to chat'));
    } finally {
      await readerB.stop();
      await readerChat.stop();
    }
    alice.write('\x04');
    assert.equal(await alice.exited, 0);
  });

  test('/join asks the password without echoing it; /part leaves one room and keeps the others', async () => {
    const carol = await twoRooms('carol');
    carol.write('/join #c\r'); // the IRC habit: #c is the room c
    await carol.waitForScreen(
      (s) => s.cursorLine().startsWith('password for #c (hidden'),
      'the password question',
    );
    carol.write(PW.c);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!carol.screen.text().includes(PW.c), 'the password is not echoed');
    carol.write('\r');
    await carol.waitForScreen((s) => s.cursorLine() === '[c] carol>', 'now in #c');
    await carol.waitForText('-- joined #c on');
    assert.ok(!carol.screen.text().includes(PW.c));

    // A wrong password: refused, and still in the other rooms.
    carol.write('/part\r');
    await carol.waitForText('-- left #c');
    await carol.waitForScreen((s) => /^\[(chat|b)\] carol>$/.test(s.cursorLine()), 'back in another room');
    carol.write('/join c\r');
    await carol.waitForScreen((s) => s.cursorLine().startsWith('password for #c'), 'asked again');
    carol.write('wrong\r');
    await carol.waitForText('cannot join #c:');
    carol.write('/rooms\r');
    await carol.waitForText('2. #b');
    assert.ok(!carol.screen.text().includes('3. #'), 'no third room after a refused join');

    carol.write('/part b\r');
    await carol.waitForText('-- left #b');
    carol.write('/part\r');
    await carol.waitForText('this is your only room: /quit leaves');
    await carol.waitForScreen((s) => s.cursorLine() === '[chat] carol>', 'in #chat');
    carol.write('\x04');
    assert.equal(await carol.exited, 0);
  });

  test('without a password source, each room asks for its own password, hidden', async () => {
    const erin = startPtyClient(daemon.port, 'erin', {
      extraArgs: ['--room', 'chat', '--room', 'b'],
      env: { CMD_CHAT_PASSWORD: '' },
    });
    ptys.push(erin);
    await erin.waitForText('Password for room chat:', 20_000);
    erin.write(`${PW.chat}\r`);
    await erin.waitForText('Password for room b:');
    erin.write(`${PW.b}\r`);
    await erin.waitForScreen((s) => s.cursorLine() === '[chat] erin>', "erin's prompt", 20_000);
    await erin.waitForText('-- also joined #b');
    assert.ok(!erin.raw().includes(PW.chat) && !erin.raw().includes(PW.b), 'no password echoed');
    erin.write('\x04');
    assert.equal(await erin.exited, 0);
  });

  test('a mention in a room that is not current notifies with that room named', async () => {
    // VTE without notify-send: OSC 777 notifications, which carry a title naming the room.
    const dave = await twoRooms('dave', { PATH: '/nonexistent', VTE_VERSION: '7600' });
    dave.write('\x1b[O'); // focus lost
    await say('b', 'erin', 'dave: in b\n');
    await dave.waitForScreen(
      () => dave.raw().includes('\x1b]777;notify;erin in #b;dave: in b\x07'),
      'a notification naming #b',
    );
    await dave.waitForScreen((s) => s.cursorLine() === '[chat] dave (b:1@)>', 'the unread count');
    assert.ok(dave.raw().includes('\x1b]0;(1) cmd-chat #chat\x07'), 'the unread count in the title');
    dave.write('\x1b[I');
    dave.write('\x1b2');
    await dave.waitForScreen(() => dave.raw().includes('\x1b]0;cmd-chat #b\x07'), 'the title names #b');
    dave.write('\x04');
    assert.equal(await dave.exited, 0);
  });
});
