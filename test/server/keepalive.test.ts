/**
 * Keepalive both ways, against real daemon processes through a fault-injecting proxy: a
 * member behind a blackholed link (no FIN, no RST) or a stopped client process is dropped by
 * the daemon within --keepalive (the others see it leave, its name is free again); a client
 * behind a blackholed link reports the connection lost within its own --keepalive; and idle
 * members on healthy links are kept (the pings inside the channel are answered both ways).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatSession } from '../../lib/client/session/session.js';
import { ExitCode } from '../../lib/exit-codes.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { EventLog } from '../helpers/events.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { spawnCli, startDaemonProcess } from '../helpers/processes.js';

const PW = 'keepalive-pw';
const env = { CMD_CHAT_PASSWORD: PW };

async function member(port: number, name: string, keepaliveMs?: number): Promise<ChatSession> {
  const session = await ChatSession.open({
    reconnect: false,
    transport: tcpClient({ host: '127.0.0.1', port }),
    room: 'team',
    password: PW,
    username: name,
    ...(keepaliveMs !== undefined ? { limits: { keepaliveMs } } : {}),
  });
  await session.join(name);
  return session;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `promise`, or a rejection naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test('the daemon drops a blackholed member within --keepalive; the others see it leave and its name is free', async () => {
  // --resume-grace 0: the name is not held for bob's reconnect (that hold is tested in
  // test/faults/reconnect.test.ts), so it is free as soon as he is dropped.
  const daemon = await startDaemonProcess([
    '--keepalive',
    '1.5',
    '--resume-grace',
    '0',
    '--room',
    `team=${PW}`,
  ]);
  const proxy = await FaultProxy.start(daemon.port);
  try {
    const ann = await member(daemon.port, 'ann');
    const annLog = new EventLog(ann);
    // Bob's own keepalive is off: only the daemon's can notice him gone.
    const bob = await member(proxy.port, 'bob', 0);
    // Idle for twice the keepalive on a healthy link: pinged, answered, kept.
    await sleep(3000);
    assert.equal(
      annLog.events.some((e) => e.type === 'leave'),
      false,
      'an idle member on a healthy link was dropped',
    );
    proxy.blackhole(true);
    const t0 = performance.now();
    await annLog.waitFor((e) => e.type === 'leave' && e.username === 'bob', 'bob to leave', 10_000);
    const tookMs = performance.now() - t0;
    // Within the bound (plus scheduling slack on a loaded machine), and not before a ping could be answered.
    assert.ok(tookMs <= 1500 + 750, `dropped after ${Math.round(tookMs)} ms, bound 1500 ms`);
    assert.ok(tookMs >= 500, `dropped after only ${Math.round(tookMs)} ms`);
    const bob2 = await member(daemon.port, 'bob');
    assert.equal(bob2.me.username, 'bob');
    assert.match(daemon.stderr(), /closed a connection: keepalive/);
    await Promise.all([bob2.close(), ann.close(), bob.close()]);
  } finally {
    await proxy.stop();
    await daemon.stop();
  }
});

/** Starts `connect … --json --follow` as NAME in room team and waits until it is in. */
async function jsonMember(
  port: number,
  name: string,
  extra: string[] = [],
): Promise<ReturnType<typeof spawnCli>> {
  const client = spawnCli(
    [
      'connect',
      '127.0.0.1',
      String(port),
      name,
      '--room',
      'team',
      ...extra,
      '--json',
      '--follow',
      '--commands',
    ],
    env,
  );
  client.proc.stdin.write('/who\n');
  const deadline = Date.now() + 20_000;
  while (!client.stdout().includes('"info"')) {
    if (Date.now() > deadline || client.proc.exitCode !== null)
      throw new Error(`no join: ${client.stderr()}`);
    await sleep(20);
  }
  return client;
}

test('a stopped client process (SIGSTOP) is dropped within --keepalive', async (t) => {
  if (process.platform === 'win32') {
    t.skip('no SIGSTOP on Windows');
    return;
  }
  const daemon = await startDaemonProcess(['--keepalive', '1', '--room', `team=${PW}`]);
  let carl: ReturnType<typeof spawnCli> | undefined;
  try {
    const ann = await member(daemon.port, 'ann');
    const annLog = new EventLog(ann);
    carl = await jsonMember(daemon.port, 'carl', ['--no-reconnect']);
    const pid = carl.proc.pid!;
    process.kill(pid, 'SIGSTOP');
    const t0 = performance.now();
    try {
      await annLog.waitFor((e) => e.type === 'leave' && e.username === 'carl', 'carl to leave', 10_000);
      const tookMs = performance.now() - t0;
      assert.ok(tookMs <= 1000 + 750, `dropped after ${Math.round(tookMs)} ms, bound 1000 ms`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // Woken up, it learns it was dropped and exits with the documented code.
    assert.equal(await within(carl.exited, 10_000, 'carl to exit'), ExitCode.connectionLost);
    assert.match(carl.stderr(), /no sign of life from your side/);
    await ann.close();
  } finally {
    carl?.proc.kill('SIGKILL');
    await daemon.stop();
  }
});

test('a client behind a blackholed link reports the connection lost within its --keepalive', async () => {
  const daemon = await startDaemonProcess(['--room', `team=${PW}`]);
  const proxy = await FaultProxy.start(daemon.port);
  let client: ReturnType<typeof spawnCli> | undefined;
  try {
    client = await jsonMember(proxy.port, 'dana', ['--keepalive', '1.5', '--no-reconnect']);
    // Idle for twice its keepalive against a healthy daemon: its pings are answered.
    await sleep(3000);
    assert.equal(client.proc.exitCode, null, `an idle client on a healthy link gave up: ${client.stderr()}`);
    proxy.blackhole(true);
    const t0 = performance.now();
    const code = await within(client.exited, 10_000, 'the client to give up');
    const tookMs = performance.now() - t0;
    assert.equal(code, ExitCode.connectionLost);
    assert.match(client.stderr(), /no sign of the daemon for 1\.5 s/);
    assert.ok(tookMs <= 1500 + 1000, `noticed after ${Math.round(tookMs)} ms, bound 1500 ms`);
  } finally {
    client?.proc.kill('SIGKILL');
    await proxy.stop();
    await daemon.stop();
  }
});
