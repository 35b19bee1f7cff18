/**
 * Ctrl-Z and fg: the REPL runs under a real interactive shell with job control in a
 * pseudo-terminal. On Ctrl-Z it turns off the modes it set (bracketed paste, focus
 * reporting) and restores the title; on `fg` it sets them again and keeps working.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type IPty, spawn } from '@lydell/node-pty';
import { builtCli } from '../helpers/paths.js';
import { startDaemonProcess } from '../helpers/processes.js';
import { COLS, type JsonReader, ROWS, startJsonReader, terminalEnv, waitFor } from '../helpers/pty.js';

/**
 * A daemon, a reader, and zed's REPL started from an interactive bash (job control) in a
 * pseudo-terminal, at its prompt.
 */
interface ShellRepl {
  shell: IPty;
  reader: JsonReader;
  /** Everything the terminal got so far. */
  raw(): string;
  /** What the terminal got after `mark` (a length of raw()). */
  after(mark: number): string;
  stop(): Promise<void>;
}

async function replInShell(): Promise<ShellRepl> {
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
  const stop = async (): Promise<void> => {
    shell.kill();
    await reader.stop();
    await daemon.stop();
  };
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
  } catch (err) {
    await stop();
    throw err;
  }
  return { shell, reader, raw: () => raw, after: (mark) => raw.slice(mark), stop };
}

test('Ctrl-Z leaves the terminal as it was; fg brings the REPL back', {
  skip: process.platform === 'win32',
}, async () => {
  const { shell, reader, raw, after, stop } = await replInShell();
  try {
    let mark = raw().length;
    shell.write('\x1a');
    await waitFor(
      () => /SHELL\$ $/.test(after(mark)),
      () => `the shell back: ${after(mark)}`,
    );
    const stopped = after(mark);
    assert.ok(stopped.includes('\x1b[?2004l'), 'bracketed paste off');
    assert.ok(stopped.includes('\x1b[?1004l'), 'focus reporting off');
    assert.ok(stopped.includes('\x1b[23;0t'), 'title restored');
    mark = raw().length;
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
      () => /SHELL\$ $/.test(raw()),
      () => `the shell after /quit: ${raw().slice(-200)}`,
    );
  } finally {
    await stop();
  }
});

/** The pid of the one child of `parent` (Linux: /proc/PID/task/PID/children). */
function onlyChild(parent: number): number {
  const children = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(/\s+/);
  assert.equal(children.length, 1, `one child of the shell: ${children.join(' ')}`);
  return Number(children[0]);
}

test('SIGSTOP and SIGCONT from outside: after fg the REPL is raw again, redrawn, with its draft', {
  skip: process.platform !== 'linux',
}, async () => {
  const { shell, reader, raw, after, stop } = await replInShell();
  try {
    shell.write('draft text');
    await waitFor(
      () => raw().includes('draft text'),
      () => `the draft echoed: ${raw().slice(-200)}`,
    );
    const client = onlyChild(shell.pid);
    let mark = raw().length;
    process.kill(client, 'SIGSTOP');
    await waitFor(
      () => /Stopped[\s\S]*SHELL\$ $/.test(after(mark)),
      () => `the shell reporting the stop: ${JSON.stringify(after(mark))}`,
    );
    // Continued while the shell holds the terminal: it stops again at its first touch of the
    // terminal (tty output or input), as job control wants.
    process.kill(client, 'SIGCONT');
    await new Promise((r) => setTimeout(r, 300));
    mark = raw().length;
    shell.write('fg\r');
    await waitFor(
      () => after(mark).includes('[chat] zed> draft text'),
      () => `the prompt and draft redrawn after fg: ${JSON.stringify(after(mark))}`,
    );
    assert.ok(after(mark).includes('\x1b[?2004h'), 'bracketed paste on again');
    // Raw mode: Ctrl-A moves to the start of the line (cooked mode would insert "^A").
    shell.write('\x01X');
    await waitFor(
      () => after(mark).includes('Xdraft text'),
      () => `Ctrl-A handled by the line editor: ${JSON.stringify(after(mark))}`,
    );
    // A later Ctrl-Z and fg keep the draft too.
    shell.write('\x05 more');
    mark = raw().length;
    shell.write('\x1a');
    await waitFor(
      () => /SHELL\$ $/.test(after(mark)),
      () => `the shell back after Ctrl-Z: ${JSON.stringify(after(mark))}`,
    );
    mark = raw().length;
    shell.write('fg\r');
    await waitFor(
      () => after(mark).includes('[chat] zed> Xdraft text more'),
      () => `the draft after Ctrl-Z and fg: ${JSON.stringify(after(mark))}`,
    );
    shell.write('\r');
    assert.equal(await reader.waitForMessage('zed'), 'Xdraft text more');
    shell.write('/quit\r');
    await waitFor(
      () => /SHELL\$ $/.test(raw()),
      () => `the shell after /quit: ${raw().slice(-200)}`,
    );
  } finally {
    await stop();
  }
});
