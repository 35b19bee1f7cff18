/**
 * What the client writes to terminals that ask for restraint: the connecting spinner under
 * NO_COLOR and on a terminal that reports 0 columns, and TERM=dumb, which gets plain lines
 * only. The compiled CLI in a real pseudo-terminal; a real daemon, or a TCP listener that
 * never answers, so the spinner keeps spinning for as long as the test looks at it.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { spawn } from '@lydell/node-pty';
import { builtCli } from '../helpers/paths.js';
import { runClient, startDaemonProcess } from '../helpers/processes.js';
import { COLS, ROWS, startJsonReader, startPtyClient, terminalEnv, waitFor } from '../helpers/pty.js';

const SGR = /\x1b\[[0-9;]*m/;

/** A TCP listener that accepts connections and never says a word. */
async function silentListener(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('the connecting spinner', () => {
  test('spins without colour under NO_COLOR', async () => {
    const silent = await silentListener();
    const client = startPtyClient(silent.port, 'zed', { env: { NO_COLOR: '1' } });
    try {
      await client.waitForText('connecting to 127.0.0.1');
      // Several frames: ora draws every 80 ms.
      const mark = client.raw().length;
      await waitFor(
        () => client.raw().length - mark > 40,
        () => `more spinner frames: ${JSON.stringify(client.raw().slice(0, 300))}`,
      );
      assert.doesNotMatch(client.raw(), SGR, 'no colour sequence in the spinner');
    } finally {
      client.kill();
      await silent.close();
    }
  });

  test('is coloured without NO_COLOR (the check above can fail)', async () => {
    const silent = await silentListener();
    // An empty NO_COLOR counts as not set (no-color.org).
    const client = startPtyClient(silent.port, 'zed', { env: { NO_COLOR: '' } });
    try {
      await client.waitForText('connecting to 127.0.0.1');
      await waitFor(
        () => SGR.test(client.raw()),
        () => `a coloured frame: ${JSON.stringify(client.raw().slice(0, 300))}`,
      );
    } finally {
      client.kill();
      await silent.close();
    }
  });

  test('does not start on a terminal reporting 0 columns; the client still joins', {
    skip: process.platform === 'win32',
  }, async () => {
    const daemon = await startDaemonProcess(['--password', 'pw']);
    const shell = spawn(
      'sh',
      [
        '-c',
        `stty cols 0 rows ${ROWS}; exec '${process.execPath}' '${builtCli}' connect 127.0.0.1 ${daemon.port} zed`,
      ],
      { name: 'xterm-256color', cols: COLS, rows: ROWS, env: terminalEnv({ CMD_CHAT_PASSWORD: 'pw' }) },
    );
    // Keeps the start only: the failure this guards against wrote megabytes a second.
    const LIMIT = 64 * 1024;
    let raw = '';
    let bytes = 0;
    let exited = false;
    shell.onData((d) => {
      bytes += d.length;
      if (raw.length < LIMIT) raw += d.slice(0, LIMIT - raw.length);
    });
    const done = new Promise<void>((resolve) =>
      shell.onExit(() => {
        exited = true;
        resolve();
      }),
    );
    try {
      await waitFor(
        () => raw.includes('[chat] zed>') || bytes >= LIMIT,
        () => `the prompt (${bytes} bytes so far): ${JSON.stringify(raw.slice(0, 400))}`,
        20_000,
      );
      assert.ok(
        raw.includes('[chat] zed>'),
        `the prompt, not ${bytes} bytes of ${JSON.stringify(raw.slice(0, 200))}`,
      );
      const before = raw.slice(0, raw.indexOf('[chat] zed>'));
      assert.ok(!before.includes('connecting to'), 'no spinner');
      assert.ok(before.length < 4096, `a few lines before the prompt, not ${before.length} bytes`);
      shell.write('/quit\r');
      await done;
    } finally {
      if (!exited) shell.kill();
      await daemon.stop();
    }
  });
});

describe('TERM=dumb', () => {
  test('gets plain lines: not one escape sequence or bell from start to /quit', async () => {
    const daemon = await startDaemonProcess(['--password', 'pw']);
    const reader = await startJsonReader(daemon.port, 'reader');
    // Colour asked for explicitly stays off too: NO_COLOR is not what keeps it plain here.
    const client = startPtyClient(daemon.port, 'dumb', { env: { TERM: 'dumb', NO_COLOR: '' } });
    try {
      await waitFor(
        () => client.raw().includes('[chat] dumb> '),
        () => `the prompt: ${JSON.stringify(client.raw())}`,
        20_000,
      );
      const said = await runClient(['127.0.0.1', String(daemon.port), 'other'], {
        input: 'hello @dumb, a mention rings the bell elsewhere\n',
        env: { CMD_CHAT_PASSWORD: 'pw' },
      });
      assert.equal(said.code, 0, said.stderr);
      await client.waitForText('other ?: hello @dumb');
      client.write('typed on a dumb terminal\r');
      assert.equal(await reader.waitForMessage('dumb'), 'typed on a dumb terminal');
      await client.waitForText('dumb: typed on a dumb terminal');
      client.write('/help\r');
      await client.waitForText('/quit');
      client.write('/quit\r');
      assert.equal(await client.exited, 0);
      const raw = client.raw();
      assert.ok(!raw.includes('\x1b'), `no ESC in: ${JSON.stringify(raw)}`);
      assert.ok(!raw.includes('\x07'), `no BEL in: ${JSON.stringify(raw)}`);
    } finally {
      client.kill();
      await reader.stop();
      await daemon.stop();
    }
  });
});
