/**
 * Pipe mode end to end: the real daemon process, real client processes, real pipes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type DaemonProcess,
  freePort,
  type JsonReader,
  runClient,
  startDaemonProcess,
  startJsonReader,
} from '../helpers/processes.js';

const ENV = { CMD_CHAT_PASSWORD: 'pipe-pw' };

const joinReader = (port: number, name: string): Promise<JsonReader> =>
  startJsonReader(['127.0.0.1', String(port), name], ENV);

describe('pipe mode', () => {
  let daemon: DaemonProcess;
  before(async () => {
    daemon = await startDaemonProcess(
      ['--rate', '5000', '--burst', '1000', '--rate-bytes', '4000000', '--history', '5'],
      ENV,
    );
  });
  after(() => daemon.stop());

  test('seq 1 10000 | cmd-chat connect … arrives complete and in order at a --json reader', async () => {
    const reader = await joinReader(daemon.port, 'reader');
    const lines = Array.from({ length: 10_000 }, (_, i) => String(i + 1));
    const sender = await runClient(['127.0.0.1', String(daemon.port), 'seq'], {
      input: `${lines.join('\n')}\n`,
      env: ENV,
      timeoutMs: 60_000,
    });
    assert.equal(sender.code, 0, sender.stderr);
    await reader.waitFor(
      (evs) => evs.filter((e) => e.type === 'message' && e.user === 'seq').length >= 10_000,
    );
    const got = reader
      .events()
      .filter((e) => e.type === 'message' && e.user === 'seq')
      .map((e) => e.text);
    assert.deepEqual(got, lines);
    assert.equal(await reader.stop(), 0);
  });

  test('plain output, /me, // escape, unknown commands and blank lines', async () => {
    const reader = await joinReader(daemon.port, 'plainreader');
    const r = await runClient(['127.0.0.1', String(daemon.port), 'plain'], {
      input: 'hello there\n\n/me waves\n//not a command\n/frobnicate\n',
      env: ENV,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d\d:\d\d plain: hello there$/m);
    assert.match(r.stdout, /^\d\d:\d\d \* plain waves$/m);
    assert.match(r.stdout, /^\d\d:\d\d plain: \/not a command$/m);
    assert.match(r.stderr, /unknown command \/frobnicate/);
    await reader.waitFor((evs) => evs.some((e) => e.text === '/not a command'));
    const mine = reader.events().filter((e) => e.type === 'message' && e.user === 'plain');
    assert.deepEqual(
      mine.map((e) => [e.kind, e.text]),
      [
        ['text', 'hello there'],
        ['me', 'waves'],
        ['text', '/not a command'],
      ],
    );
    await reader.stop();
  });

  test('--follow keeps printing after stdin ends, until SIGINT (exit 0)', async () => {
    const reader = await joinReader(daemon.port, 'follower');
    const r = await runClient(['127.0.0.1', String(daemon.port), 'later'], {
      input: 'after stdin ended\n',
      env: ENV,
    });
    assert.equal(r.code, 0);
    await reader.waitFor((evs) => evs.some((e) => e.text === 'after stdin ended'));
    assert.equal(await reader.stop(), 0);
  });

  test('a late joiner in pipe mode gets the history, flagged as history in JSON', async () => {
    await runClient(['127.0.0.1', String(daemon.port), 'historian'], { input: 'for the record\n', env: ENV });
    const r = await runClient(['127.0.0.1', String(daemon.port), 'latecomer', '--json'], {
      input: '',
      env: ENV,
    });
    assert.equal(r.code, 0, r.stderr);
    const evs = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(evs.some((e) => e.type === 'message' && e.text === 'for the record' && e.history === true));
  });

  test('a wrong password exits 4 with a one-line error', async () => {
    const r = await runClient(['127.0.0.1', String(daemon.port), 'intruder'], {
      input: 'x\n',
      env: { CMD_CHAT_PASSWORD: 'wrong' },
    });
    assert.equal(r.code, 4);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /authentication failed/);
    assert.equal(r.stdout, '');
  });

  test('an unknown room exits 4 with the same message as a wrong password', async () => {
    const wrong = await runClient(['127.0.0.1', String(daemon.port), 'x1'], {
      input: '',
      env: { CMD_CHAT_PASSWORD: 'wrong' },
    });
    const unknown = await runClient(['127.0.0.1', String(daemon.port), 'x2', '--room', 'nosuchroom'], {
      input: '',
      env: ENV,
    });
    assert.equal(unknown.code, 4);
    assert.equal(unknown.stderr, wrong.stderr);
  });

  test('a taken name exits 5', async () => {
    const reader = await joinReader(daemon.port, 'taken');
    const r = await runClient(['127.0.0.1', String(daemon.port), 'TAKEN'], { input: 'x\n', env: ENV });
    assert.equal(r.code, 5);
    assert.match(r.stderr, /already used/);
    await reader.stop();
  });

  test('a missing password in pipe mode is a usage error (2)', async () => {
    const r = await runClient(['127.0.0.1', String(daemon.port), 'nopw'], {
      input: '',
      env: { CMD_CHAT_PASSWORD: '' },
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no password/);
  });
});

test('a dead port exits 3 with a clear message', async () => {
  const port = await freePort();
  const r = await runClient(['127.0.0.1', String(port), 'nobody'], { input: 'x\n', env: ENV });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /cannot connect to 127\.0\.0\.1:\d+: connection refused/);
});

test('the daemon going away under a --follow reader exits 6 with a clear message', async () => {
  const d = await startDaemonProcess([], ENV);
  const orphan = await joinReader(d.port, 'orphan');
  assert.equal(await d.stop('SIGTERM'), 0);
  assert.equal(await orphan.exited, 6);
  assert.match(orphan.stderr(), /shutting down/);
});
