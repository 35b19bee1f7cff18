/**
 * SIGTERM is one announcement, not a mass exit: every member of a real daemon process sees
 * one "-- the daemon is shutting down" line (a `shutdown` event in --json), and nobody sees
 * the other members leave first. Members: a REPL in a pseudo-terminal, a plain and a --json
 * --follow reader, and a library session.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatSession } from '../../lib/client/session/session.js';
import { ExitCode } from '../../lib/exit-codes.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { EventLog } from '../helpers/events.js';
import { spawnCli, startDaemonProcess } from '../helpers/processes.js';
import { startPtyClient } from '../helpers/pty.js';
import { waitFor } from '../helpers/raw-client.js';

const PW = 'shutdown-pw';

const until = (check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> =>
  waitFor(check, what, timeoutMs, 25);

test('SIGTERM: every member sees one shutdown line and nobody sees the others leave', async () => {
  const daemon = await startDaemonProcess(['--password', PW]);
  const env = { CMD_CHAT_PASSWORD: PW };
  // Ann joins first, so she sees the others join.
  const ann = await ChatSession.open({
    transport: tcpClient({ host: '127.0.0.1', port: daemon.port }),
    room: 'chat',
    password: PW,
    username: 'ann',
    reconnect: false,
  });
  await ann.join('ann');
  const annLog = new EventLog(ann);
  const ended = new Promise((resolve) => ann.once('close', resolve));
  // Without reconnecting, each ends after the line (reconnecting after a shutdown is tested
  // with a restarted daemon in reconnect-cli.test.ts).
  const once = '--no-reconnect';
  const plain = spawnCli(['connect', '127.0.0.1', String(daemon.port), 'plain', '--follow', once], env);
  const json = spawnCli(
    ['connect', '127.0.0.1', String(daemon.port), 'json', '--json', '--follow', once],
    env,
  );
  const repl = startPtyClient(daemon.port, 'terminal', { password: PW, extraArgs: [once] });
  try {
    // Everyone is in once the last joiner is seen by all.
    for (const name of ['plain', 'json', 'terminal'])
      await annLog.waitFor((e) => e.type === 'join' && e.username === name, `${name} to join`, 20_000);
    ann.send('all here');
    await until(
      () => plain.stdout().includes('all here') && json.stdout().includes('all here'),
      'the message',
    );
    await repl.waitForText('all here');

    assert.equal(await daemon.stop('SIGTERM'), 0);
    const [plainCode, jsonCode, replCode] = await Promise.all([plain.exited, json.exited, repl.exited]);
    await ended;

    assert.deepEqual(
      annLog.events.filter((e) => e.type === 'leave' || e.type === 'shutdown').map((e) => e.type),
      ['shutdown'],
    );
    const plainAfter = plain.stdout().slice(plain.stdout().indexOf('all here'));
    assert.equal(plainAfter.match(/-- the daemon is shutting down/g)?.length, 1, plain.stdout());
    assert.doesNotMatch(plainAfter, / left\n/);
    assert.equal(plainCode, ExitCode.connectionLost);

    const events = json
      .stdout()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { type: string });
    const after = events.slice(events.findIndex((e) => e.type === 'message'));
    assert.deepEqual(
      after.filter((e) => e.type === 'leave' || e.type === 'shutdown').map((e) => e.type),
      ['shutdown'],
    );
    assert.equal(jsonCode, ExitCode.connectionLost);
    assert.match(json.stderr(), /the daemon is shutting down/);

    const screen = repl.screen.text();
    assert.equal(screen.match(/-- the daemon is shutting down/g)?.length, 1, screen);
    assert.doesNotMatch(screen.slice(screen.indexOf('all here')), / left$/m);
    assert.equal(replCode, ExitCode.connectionLost);
  } finally {
    for (const c of [plain, json]) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    repl.kill();
    await daemon.stop('SIGKILL');
  }
});
