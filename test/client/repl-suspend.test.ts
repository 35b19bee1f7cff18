/**
 * Ctrl-Z and fg: the REPL runs under a real interactive shell with job control in a
 * pseudo-terminal. On Ctrl-Z it turns off the modes it set (bracketed paste, focus
 * reporting) and restores the title; on `fg` it sets them again and keeps working.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawn } from '@lydell/node-pty';
import { builtCli } from '../helpers/paths.js';
import { startDaemonProcess } from '../helpers/processes.js';
import { COLS, ROWS, startJsonReader, terminalEnv, waitFor } from '../helpers/pty.js';

test('Ctrl-Z leaves the terminal as it was; fg brings the REPL back', {
  skip: process.platform === 'win32',
}, async () => {
  const daemon = await startDaemonProcess(['--password', 'pw']);
  const reader = await startJsonReader(daemon.port, 'reader');
  const shell = spawn('bash', ['--norc', '--noprofile', '-i'], {
    name: 'xterm-256color',
    cols: COLS,
    rows: ROWS,
    env: terminalEnv({ CMD_CHAT_PASSWORD: 'pw', PS1: 'SHELL$ ' }),
  });
  let raw = '';
  shell.onData((d) => {
    raw += d;
  });
  const after = (mark: number): string => raw.slice(mark);
  try {
    await waitFor(
      () => raw.includes('SHELL$ '),
      () => `the shell prompt: ${raw}`,
      10_000,
    );
    shell.write(`'${process.execPath}' '${builtCli}' connect 127.0.0.1 ${daemon.port} zed\r`);
    await waitFor(
      () => raw.includes('[chat] zed>'),
      () => `the REPL prompt: ${raw}`,
      20_000,
    );
    let mark = raw.length;
    shell.write('\x1a');
    await waitFor(
      () => /SHELL\$ $/.test(after(mark)),
      () => `the shell back: ${after(mark)}`,
    );
    const stopped = after(mark);
    assert.ok(stopped.includes('\x1b[?2004l'), 'bracketed paste off');
    assert.ok(stopped.includes('\x1b[?1004l'), 'focus reporting off');
    assert.ok(stopped.includes('\x1b[23;0t'), 'title restored');
    mark = raw.length;
    shell.write('fg\r');
    await waitFor(
      () => after(mark).includes('[chat] zed>'),
      () => `the REPL again: ${after(mark)}`,
    );
    assert.ok(after(mark).includes('\x1b[?2004h'), 'bracketed paste on again');
    shell.write('back again\r');
    assert.equal(await reader.waitForMessage('zed'), 'back again');
    shell.write('/quit\r');
    await waitFor(
      () => /SHELL\$ $/.test(raw),
      () => `the shell after /quit: ${raw.slice(-200)}`,
    );
  } finally {
    shell.kill();
    await reader.stop();
    await daemon.stop();
  }
});
