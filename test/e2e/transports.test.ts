/**
 * Whole chat sessions over each transport the CLI offers: a Unix domain socket and SOCKS5
 * through a real proxy (Debian's microsocks), with the clear errors when the proxy is down or
 * refuses the target.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startMicrosocks } from '../helpers/microsocks.js';
import { freePort, runClient, startDaemonProcess, startJsonReader } from '../helpers/processes.js';

const ENV = { CMD_CHAT_PASSWORD: 'transport-pw' };

/**
 * A `--json --follow` reader joins with `readerArgs`, then a pipe client sends `text` with
 * `senderArgs`: the reader must receive it from `senderName`.
 */
async function relayThrough(
  readerArgs: string[],
  senderArgs: string[],
  senderName: string,
  text: string,
): Promise<void> {
  const reader = await startJsonReader(readerArgs, ENV);
  const r = await runClient(senderArgs, { input: `${text}\n`, env: ENV });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await reader.waitForMessage(senderName, 15_000), text);
  assert.equal(await reader.stop(), 0);
}

describe('Unix domain socket', () => {
  test('serve --socket and connect --socket carry a chat; the socket file goes away with the daemon', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmd-chat-test-'));
    const path = join(dir, 'chat.sock');
    try {
      const daemon = await startDaemonProcess(['--socket', path], ENV);
      assert.ok(existsSync(path));
      await relayThrough(
        ['--socket', path, 'sockreader'],
        ['--socket', path, 'sockwriter'],
        'sockwriter',
        'over the socket',
      );
      assert.equal(await daemon.stop(), 0);
      assert.ok(!existsSync(path), 'the daemon removes its own socket file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('connect --socket to a missing path exits 3 with a clear message', async () => {
    const r = await runClient(['--socket', join(tmpdir(), 'cmd-chat-no-such.sock'), 'x'], {
      input: '',
      env: ENV,
    });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /cannot connect/);
  });
});

describe('SOCKS5 through microsocks', () => {
  let proxy: Awaited<ReturnType<typeof startMicrosocks>>;
  before(async () => {
    proxy = await startMicrosocks();
  });
  after(() => proxy.stop());

  for (const scheme of ['socks5h', 'socks5'] as const) {
    test(`a full chat session through --proxy ${scheme}://`, async () => {
      const daemon = await startDaemonProcess([], ENV);
      try {
        const via = ['--proxy', proxy.url(scheme)];
        // "localhost" exercises name resolution: by the proxy (socks5h) or locally (socks5).
        const target = ['localhost', String(daemon.port)];
        await relayThrough(
          [...target, `reader-${scheme}`, ...via],
          [...target, `writer-${scheme}`, ...via],
          `writer-${scheme}`,
          `through ${scheme}`,
        );
      } finally {
        await daemon.stop();
      }
    });
  }

  test('the proxy refusing the target (closed port) exits 3 with a clear message', async () => {
    const port = await freePort();
    const r = await runClient(['127.0.0.1', String(port), 'x', '--proxy', proxy.url('socks5h')], {
      input: '',
      env: ENV,
    });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /SOCKS5 proxy refused the connection/);
  });

  test('a proxy that is down exits 3 with a clear message', async () => {
    const dead = await freePort();
    const r = await runClient(['127.0.0.1', '3000', 'x', '--proxy', `socks5h://127.0.0.1:${dead}`], {
      input: '',
      env: ENV,
    });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /SOCKS5 proxy at 127\.0\.0\.1:\d+ is not reachable/);
  });

  test('a malformed proxy URL is a usage error (2)', async () => {
    const r = await runClient(['127.0.0.1', '3000', 'x', '--proxy', 'http://127.0.0.1:8080'], {
      input: '',
      env: ENV,
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /socks5/);
  });
});
