/**
 * Nothing on disk in a cluster either: nats-server, run as the cluster tests and docs/cluster.md
 * run it (no JetStream, no store, no log or pid file), carries sealed room traffic, is killed
 * and restarted, all under `strace -f`; it creates, writes, renames or removes no file. The
 * same for a whole `serve --workers 2` tree: the primary, its workers, its private nats-server
 * (killed and restarted by the primary) and the watchdog shell around it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { type BusEvent, NatsRoomBus } from '../../lib/cluster/bus.js';
import { deriveClusterKeys } from '../../lib/cluster/keys.js';
import { member } from '../helpers/cluster.js';
import { isMessage } from '../helpers/events.js';
import { startNatsServer } from '../helpers/nats.js';
import { builtCli } from '../helpers/paths.js';
import { type DaemonProcess, freePort, spawnCaptured } from '../helpers/processes.js';
import { waitFor } from '../helpers/raw-client.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { STRACE_ARGS, tracee, violations } from '../helpers/strace.js';
import { skipWithoutTools } from '../helpers/system-tools.js';

const PW = 'correct horse battery staple';

test('nothing touches disk: nats-server carrying room traffic and restarted, under strace', async (t) => {
  if (process.platform !== 'linux') return t.skip('strace exists only on Linux');
  if (skipWithoutTools(t, 'strace', 'nats-server')) return;
  const server = await startNatsServer({ traced: true });
  const keys = deriveClusterKeys(randomBytes(32));
  const options = { servers: [server.url], reconnectWaitMs: 100 };
  const [a, b] = await Promise.all([
    NatsRoomBus.connect(options, keys, silentLogger),
    NatsRoomBus.connect(options, keys, silentLogger),
  ]);
  const got: BusEvent[] = [];
  try {
    b.subscribeRoom('room', (e) => got.push(e));
    await b.flush();
    for (let i = 0; i < 200; i++) a.publish('room', { type: 'message', text: `m${i}`.padEnd(300, '.') });
    await waitFor(() => got.length === 200, 'the traffic before the restart');
    await server.stop('SIGKILL');
    await server.restart();
    await waitFor(
      () => {
        a.publish('room', { type: 'message', text: 'after' });
        return got.some((e) => e.text === 'after');
      },
      'the traffic after the restart',
      20_000,
    );
  } finally {
    await Promise.all([a.close(), b.close()]);
    await server.stop();
  }
  const trace = server.output();
  assert.match(trace, /openat\(/, 'sanity: strace saw nats-server open files');
  const bad = violations(trace);
  assert.deepEqual(bad, [], `file system writes:\n${bad.join('\n')}`);
});

test('nothing touches disk: a whole `serve --workers 2` tree (primary, workers, its nats-server killed and restarted), under strace', async (t) => {
  if (process.platform !== 'linux') return t.skip('strace exists only on Linux');
  if (skipWithoutTools(t, 'strace', 'nats-server')) return;
  const port = await freePort();
  const c = spawnCaptured('strace', [
    ...STRACE_ARGS,
    process.execPath,
    builtCli,
    'serve',
    '127.0.0.1',
    String(port),
    '--workers',
    '2',
    '--cluster-heartbeat',
    '0.2',
    '--room',
    `chat=${PW}`,
  ]);
  t.after(() => c.proc.kill('SIGKILL'));
  await waitFor(() => /listening on /.test(c.stderr()), `the tree to listen:\n${c.stderr()}`, 60_000);
  const daemon = { port } as DaemonProcess;
  const talk = async (tag: string): Promise<void> => {
    const members = [];
    for (let i = 0; i < 4; i++) members.push(await member(daemon, 'chat', PW, `${tag}${i}`));
    for (const m of members) m.session.send(`${tag} from ${m.name}`);
    for (const m of members)
      for (const o of members)
        await m.log.waitFor(isMessage(`${tag} from ${o.name}`), `${o.name} → ${m.name}`);
    await Promise.all(members.map((m) => m.session.close()));
  };
  await talk('a');
  // The primary restarts its nats-server on the same port; the workers reconnect.
  const natsPid = Number(/nats-server \(pid (\d+)\) ready/.exec(c.stderr())![1]);
  process.kill(natsPid, 'SIGKILL');
  await waitFor(
    () => (c.stderr().match(/nats-server \(pid \d+\) ready/g) ?? []).length === 2,
    `nats-server restarted:\n${c.stderr()}`,
    30_000,
  );
  await waitFor(
    () => (c.stderr().match(/NATS server back/g) ?? []).length >= 2,
    'both workers back on the bus',
    30_000,
  );
  await talk('b');
  const primary = tracee(c.proc.pid!);
  assert.ok(primary, 'the traced primary');
  process.kill(primary, 'SIGTERM');
  assert.equal(await c.exited, 0, c.stderr().slice(-2000));
  const trace = c.stderr();
  assert.match(trace, /stopped; 2 worker\(s\) and nats-server gone/);
  assert.match(
    trace,
    /openat\([^)]*"\/dev\/fd\/63"/,
    'sanity: strace followed nats-server reading its config pipe',
  );
  const bad = violations(trace);
  assert.deepEqual(bad, [], `file system writes:\n${bad.join('\n')}`);
});
