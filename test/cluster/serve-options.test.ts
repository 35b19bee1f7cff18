/**
 * `serve --cluster` on the command line: secrets from files or the environment, one-line
 * errors for anything missing or wrong (never echoing a secret), and a daemon that cannot
 * reach or log in to NATS stops at once with a clear reason.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NATS_USER, skipWithoutNats } from '../helpers/cluster.js';
import { exitWithin } from '../helpers/deadline.js';
import { startNatsServer } from '../helpers/nats.js';
import { freePort, spawnCli, startDaemonProcess } from '../helpers/processes.js';

const SECRET = randomBytes(32).toString('base64');

async function serve(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stderr: string }> {
  const port = await freePort();
  const c = spawnCli(['serve', '127.0.0.1', String(port), '--open-rooms', ...args], env);
  const code = await exitWithin(c, 20_000, `serve ${args.join(' ')}`);
  return { code, stderr: c.stderr() };
}

/** The error is one line starting with `cmd-chat:` (yargs may add its usage hint). */
function oneLine(stderr: string, pattern: RegExp): void {
  const first = stderr.split('\n')[0] ?? '';
  assert.match(first, /^cmd-chat: /);
  assert.match(first, pattern);
}

test('cluster flags: one-line usage errors', async () => {
  const url = 'nats://127.0.0.1:4222';
  const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [['--cluster', url], {}, /needs the cluster secret/],
    [['--cluster', url], { CMD_CHAT_CLUSTER_SECRET: 'short' }, /at least 32 bytes/],
    [['--nats-user', 'x'], {}, /--nats-user needs --cluster/],
    [['--cluster', 'http://example.org'], { CMD_CHAT_CLUSTER_SECRET: SECRET }, /nats:\/\/HOST:PORT/],
    [['--cluster', 'nats://u:p@host:1'], { CMD_CHAT_CLUSTER_SECRET: SECRET }, /takes no credentials/],
    [['--cluster', url, '--nats-user', 'x'], { CMD_CHAT_CLUSTER_SECRET: SECRET }, /needs a password/],
    [['--cluster', url, '--cluster-heartbeat', '0'], { CMD_CHAT_CLUSTER_SECRET: SECRET }, /heartbeat/],
    [
      ['--cluster', url, '--nats-tls-cert', '/nonexistent'],
      { CMD_CHAT_CLUSTER_SECRET: SECRET },
      /go together/,
    ],
    [
      ['--cluster', url, '--nats-user', 'x'],
      {
        CMD_CHAT_CLUSTER_SECRET: SECRET,
        CMD_CHAT_NATS_PASSWORD: 'p',
        CMD_CHAT_NATS_NKEY: `SU${'A'.repeat(56)}`,
      },
      /not both/,
    ],
    [
      ['--cluster', url, '--cluster-secret-file', '/nonexistent/secret'],
      {},
      /cannot read the cluster secret file/,
    ],
  ];
  for (const [args, env, pattern] of cases) {
    const { code, stderr } = await serve(args, { CMD_CHAT_CLUSTER_SECRET: '', ...env });
    assert.equal(code, 2, `${args.join(' ')}: exit 2\n${stderr}`);
    oneLine(stderr, pattern);
    assert.ok(!stderr.includes(SECRET), 'the secret is never echoed');
  }
});

test('NATS unreachable or refusing the credentials: the daemon stops at once with one line', async (t) => {
  if (skipWithoutNats(t)) return;
  const unreachable = await serve(['--cluster', `nats://127.0.0.1:${await freePort()}`], {
    CMD_CHAT_CLUSTER_SECRET: SECRET,
  });
  assert.equal(unreachable.code, 3, unreachable.stderr);
  assert.match(unreachable.stderr, /cmd-chat: cannot join the cluster: /);

  const password = randomBytes(12).toString('hex');
  const nats = await startNatsServer({
    jetstream: true,
    config: `authorization { user: ${NATS_USER}, password: "${password}" }`,
  });
  t.after(() => nats.stop());
  const wrong = await serve(['--cluster', nats.url, '--nats-user', NATS_USER], {
    CMD_CHAT_CLUSTER_SECRET: SECRET,
    CMD_CHAT_NATS_PASSWORD: 'not-the-password',
  });
  assert.equal(wrong.code, 3, wrong.stderr);
  assert.match(wrong.stderr, /cannot join the cluster: .*Authorization Violation/i);
  assert.ok(!wrong.stderr.includes('not-the-password') && !wrong.stderr.includes(SECRET));

  // Secrets from files: the daemon joins, logs the key id, and neither secret appears in its log.
  const dir = mkdtempSync(join(tmpdir(), 'cmd-chat-cluster-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'secret'), `${SECRET}\n`);
  writeFileSync(join(dir, 'nats'), `${password}\n`);
  const d = await startDaemonProcess(
    [
      '--open-rooms',
      '--cluster',
      nats.url,
      '--cluster-secret-file',
      join(dir, 'secret'),
      '--nats-user',
      NATS_USER,
      '--nats-password-file',
      join(dir, 'nats'),
    ],
    { CMD_CHAT_CLUSTER_SECRET: '', CMD_CHAT_NATS_PASSWORD: '' },
  );
  t.after(() => d.stop());
  assert.match(d.stderr(), /cluster: cluster key id [0-9a-f]{8}/);
  assert.match(d.stderr(), /cluster: connected to the NATS server/);
  assert.ok(!d.stderr().includes(SECRET) && !d.stderr().includes(password));
});
