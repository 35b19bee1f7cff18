/**
 * Pipe mode end to end: the real daemon process, real client processes, real pipes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAX_MESSAGE_BYTES } from '../../lib/client/message-size.js';
import { builtCli } from '../helpers/paths.js';
import {
  type DaemonProcess,
  freePort,
  type JsonReader,
  jsonLines,
  runClient,
  spawnCli,
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

  test('--commands: plain output, /me, // escape, unknown commands (exit 10) and blank lines', async () => {
    const reader = await joinReader(daemon.port, 'plainreader');
    const r = await runClient(['127.0.0.1', String(daemon.port), 'plain', '--commands'], {
      input: 'hello there\n\n/me waves\n//not a command\n/frobnicate\n',
      env: ENV,
    });
    assert.equal(r.code, 10, r.stderr);
    assert.match(r.stdout, /^\d\d:\d\d plain: hello there$/m);
    assert.match(r.stdout, /^\d\d:\d\d \* plain waves$/m);
    assert.match(r.stdout, /^\d\d:\d\d plain: \/not a command$/m);
    assert.match(r.stderr, /^cmd-chat: line 5: unknown command \/frobnicate/m);
    assert.match(r.stderr, /^cmd-chat: 1 command failed$/m);
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

  test('with --history a late joiner gets the history, flagged as history in JSON', async () => {
    await runClient(['127.0.0.1', String(daemon.port), 'historian'], { input: 'for the record\n', env: ENV });
    const r = await runClient(['127.0.0.1', String(daemon.port), 'latecomer', '--json', '--history'], {
      input: '',
      env: ENV,
    });
    assert.equal(r.code, 0, r.stderr);
    const evs = jsonLines(r.stdout);
    assert.ok(evs.some((e) => e.type === 'message' && e.text === 'for the record' && e.history === true));
  });

  test("a sender prints only its own delivered lines: no history, no one else's messages", async () => {
    await runClient(['127.0.0.1', String(daemon.port), 'gossip'], { input: 'a private remark\n', env: ENV });
    const chatter = await joinReader(daemon.port, 'chatter');
    const { proc, stdout, stderr, exited } = spawnCli(
      ['connect', '127.0.0.1', String(daemon.port), 'ci'],
      ENV,
    );
    proc.stdin.write('build done\n');
    // Someone else speaks while the sender is in the room.
    await chatter.waitFor((evs) => evs.some((e) => e.text === 'build done'));
    await runClient(['127.0.0.1', String(daemon.port), 'gossip'], { input: 'another remark\n', env: ENV });
    await chatter.waitFor((evs) => evs.some((e) => e.text === 'another remark'));
    proc.stdin.end('second line\n');
    assert.equal(await exited, 0, stderr());
    const lines = stdout().trim().split('\n');
    assert.equal(lines.length, 2, stdout());
    assert.match(lines[0]!, /^\d\d:\d\d ci: build done$/);
    assert.match(lines[1]!, /^\d\d:\d\d ci: second line$/);
    assert.doesNotMatch(stdout(), /remark|chatter/);
    await chatter.stop();
  });

  test('/msg in a script: only the recipient gets it, the sender prints the receipt; an impossible /msg exits 7', async () => {
    const recipient = await joinReader(daemon.port, 'pmreader');
    const bystander = await joinReader(daemon.port, 'pmbystander');
    const r = await runClient(['127.0.0.1', String(daemon.port), 'pmsender', '--json', '--commands'], {
      input: '/msg pmreader hello in private\n/msg ghost nobody there\nin public\n',
      env: ENV,
    });
    assert.equal(r.code, 7, r.stderr);
    const out = jsonLines(r.stdout);
    assert.ok(
      out.some(
        (e) =>
          e.type === 'private' && e.mine === true && e.to === 'pmreader' && e.text === 'hello in private',
      ),
    );
    assert.ok(
      out.some((e) => e.type === 'error' && String(e.message).includes('line 2 not sent')),
      r.stdout,
    );
    await recipient.waitFor((evs) => evs.some((e) => e.text === 'in public'));
    await bystander.waitFor((evs) => evs.some((e) => e.text === 'in public'));
    const got = recipient.events().find((e) => e.type === 'private');
    assert.equal(got?.text, 'hello in private');
    assert.equal(got?.from, 'pmsender');
    assert.ok(!bystander.events().some((e) => e.type === 'private' || e.text === 'hello in private'));
    await recipient.stop();
    await bystander.stop();
  });

  test('an oversized line is not sent: exit 7 naming the line and the limit; the others arrive', async () => {
    const reader = await joinReader(daemon.port, 'sizereader');
    const big = 'x'.repeat(200 * 1024);
    const r = await runClient(['127.0.0.1', String(daemon.port), 'big'], {
      input: `before\n${big}\nafter\n`,
      env: ENV,
    });
    assert.equal(r.code, 7, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^cmd-chat: line 2 not sent: ${big.length} bytes, the limit is ${MAX_MESSAGE_BYTES} bytes$`,
        'm',
      ),
    );
    await reader.waitFor((evs) => evs.some((e) => e.text === 'after'));
    const got = reader
      .events()
      .filter((e) => e.type === 'message' && e.user === 'big')
      .map((e) => e.text);
    assert.deepEqual(got, ['before', 'after']);
    // A line exactly at the limit goes through.
    const edge = 'y'.repeat(MAX_MESSAGE_BYTES);
    const ok = await runClient(['127.0.0.1', String(daemon.port), 'edge'], { input: `${edge}\n`, env: ENV });
    assert.equal(ok.code, 0, ok.stderr);
    await reader.stop();
  });

  test('a slow reader behind a real pipe still gets every line (no exit before stdout drains)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmd-chat-slow-'));
    try {
      const input = join(dir, 'in.txt');
      // 3,000 lines of 120 characters: sent in well under a second, and several times what a
      // pipe buffers (64 KiB), so most of the output is still queued in the client at the end.
      const pad = '.'.repeat(110);
      writeFileSync(input, Array.from({ length: 3000 }, (_, i) => `${pad}${i + 1}`).join('\n') + '\n');
      const client = `'${process.execPath}' '${builtCli}' connect 127.0.0.1 ${daemon.port} slowpoke`;
      // The reader sleeps while the pipe fills: the client finishes sending long before it reads.
      const sh = spawn('sh', ['-c', `${client} < '${input}' | (sleep 2; wc -l)`], {
        env: { ...process.env, ...ENV, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      sh.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      sh.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const [code] = await once(sh, 'exit');
      assert.equal(code, 0, err);
      assert.equal(Number(out.trim()), 3000, err);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // A client that cannot get in: exactly one line on stderr saying why, nothing on stdout, and
  // the exit code for that reason. An unknown room and a wrong password read alike.
  const AUTH_FAILED = /^cmd-chat: authentication failed: wrong password or no such room\n$/;
  const refusals: Array<{
    what: string;
    name: string;
    args?: string[];
    env?: NodeJS.ProcessEnv;
    /** A member already in the room for the test. */
    present?: string;
    code: number;
    error: RegExp;
  }> = [
    {
      what: 'a wrong password exits 4',
      name: 'intruder',
      env: { CMD_CHAT_PASSWORD: 'wrong' },
      code: 4,
      error: AUTH_FAILED,
    },
    {
      what: 'an unknown room exits 4 with the same message as a wrong password',
      name: 'x2',
      args: ['--room', 'nosuchroom'],
      code: 4,
      error: AUTH_FAILED,
    },
    { what: 'a taken name exits 5', name: 'TAKEN', present: 'taken', code: 5, error: /already used/ },
    {
      what: 'a missing password in pipe mode is a usage error (2)',
      name: 'nopw',
      env: { CMD_CHAT_PASSWORD: '' },
      code: 2,
      error: /no password/,
    },
  ];
  for (const refusal of refusals) {
    test(`${refusal.what}: one line on stderr, nothing on stdout`, async () => {
      const present = refusal.present ? await joinReader(daemon.port, refusal.present) : undefined;
      try {
        const r = await runClient(['127.0.0.1', String(daemon.port), refusal.name, ...(refusal.args ?? [])], {
          input: 'x\n',
          env: refusal.env ?? ENV,
        });
        assert.equal(r.code, refusal.code, r.stderr);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, refusal.error);
        assert.equal(r.stdout, '');
      } finally {
        await present?.stop();
      }
    });
  }
});

test('a dead port exits 3 with a clear message', async () => {
  const port = await freePort();
  const r = await runClient(['127.0.0.1', String(port), 'nobody'], { input: 'x\n', env: ENV });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /cannot connect to 127\.0\.0\.1:\d+: connection refused/);
});

test('the daemon going away under a --follow reader: it tries again, then gives up and exits 6 with a clear message', async () => {
  const d = await startDaemonProcess([], ENV);
  const orphan = await startJsonReader(
    ['127.0.0.1', String(d.port), 'orphan', '--reconnect-attempts', '2'],
    ENV,
  );
  assert.equal(await d.stop('SIGTERM'), 0);
  assert.equal(await orphan.exited, 6);
  assert.match(orphan.stderr(), /gave up reconnecting after 2 attempts: .*(shutting down|cannot connect)/);
  const types = orphan.events().map((e) => e.type);
  assert.ok(types.includes('disconnected') && types.includes('reconnecting'), types.join(' '));
});
