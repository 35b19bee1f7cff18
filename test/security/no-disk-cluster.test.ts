/**
 * Nothing on disk in a cluster either: nats-server, run as the cluster tests and docs/cluster.md
 * run it (no JetStream, no store, no log or pid file), carries sealed room traffic, is killed
 * and restarted, all under `strace -f`; it creates, writes, renames or removes no file. The
 * same for a whole `serve --workers 2` tree: the primary, its workers, its private nats-server
 * (killed and restarted by the primary) and the watchdog shell around it. And with JetStream
 * carrying rooms (memory streams and buckets), for one nats-server and for a 3-node NATS
 * cluster with replicated streams: no write anywhere but each server's private tmpfs store,
 * which no other process sees while it runs and which is gone after stop.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { type BusEvent, NatsRoomBus } from '../../lib/cluster/bus.js';
import { deriveClusterKeys } from '../../lib/cluster/keys.js';
import { introduced } from '../helpers/bus-peers.js';
import { member } from '../helpers/cluster.js';
import { exitWithin } from '../helpers/deadline.js';
import { isMessage } from '../helpers/events.js';
import { message, testStore, textOf } from '../helpers/jetstream.js';
import { type NatsServer, startNatsCluster, startNatsServer } from '../helpers/nats.js';
import { builtCli } from '../helpers/paths.js';
import { type DaemonProcess, freePort, spawnCaptured } from '../helpers/processes.js';
import { waitFor } from '../helpers/raw-client.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { STRACE_ARGS, tracee, violations } from '../helpers/strace.js';
import { skipWithoutTools } from '../helpers/system-tools.js';
import { teardown } from '../helpers/teardown.js';

// The suite's runner gives its processes a V8 compile cache on disk (test/run.ts): what runs
// here runs as a user runs it, without one.
delete process.env.NODE_COMPILE_CACHE;

const PW = 'correct horse battery staple';

test('nothing touches disk: nats-server carrying room traffic and restarted, under strace', async (t) => {
  if (process.platform !== 'linux') return t.skip('strace exists only on Linux');
  if (skipWithoutTools(t, 'strace', 'nats-server')) return;
  const defer = teardown(t);
  const server = await startNatsServer({ traced: true });
  defer(() => server.stop());
  const keys = deriveClusterKeys(randomBytes(32));
  const options = { servers: [server.url], reconnectWaitMs: 100 };
  const [a, b] = await Promise.all([
    NatsRoomBus.connect(options, keys, silentLogger),
    NatsRoomBus.connect(options, keys, silentLogger),
  ]);
  defer(() => Promise.all([a.close(), b.close()]));
  const got: BusEvent[] = [];
  try {
    await introduced(a, b);
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
    // Leases of 3 s: under strace on a loaded machine a worker may stall longer than 0.6 s,
    // and its members would be taken for gone; this test is about the disk, not timing.
    '--cluster-heartbeat',
    '1',
    '--room',
    `chat=${PW}`,
    // Joins and leaves in its log: a failed round shows how far each member got.
    '--verbose',
  ]);
  t.after(() => {
    // The traced tree outlives strace: its primary goes first (its workers and nats-server follow).
    const primary = tracee(c.proc.pid!);
    if (primary !== undefined) {
      try {
        process.kill(primary, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    c.proc.kill('SIGKILL');
  });
  await waitFor(() => /listening on /.test(c.stderr()), `the tree to listen:\n${c.stderr()}`, 60_000);
  const daemon = { port } as DaemonProcess;
  const talk = async (tag: string): Promise<void> => {
    const members = [];
    try {
      for (let i = 0; i < 4; i++) members.push(await member(daemon, 'chat', PW, `${tag}${i}`));
      for (const m of members) m.session.send(`${tag} from ${m.name}`);
      for (const m of members)
        for (const o of members)
          await m.log.waitFor(isMessage(`${tag} from ${o.name}`), `${o.name} → ${m.name}`);
    } catch (err) {
      // What the tree logged (strace's lines left out), to tell a stall from a fault.
      const logged = c
        .stderr()
        .split('\n')
        .filter((l) => / cmd-chat: /.test(l) && !/^\[pid/.test(l));
      throw new Error(`${(err as Error).message}\nthe tree's log:\n${logged.slice(-40).join('\n')}`);
    } finally {
      await Promise.all(members.map((m) => m.session.close()));
    }
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
    // Back on the bus and done catching their rooms up (the restarted server lost the streams).
    () => (c.stderr().match(/cluster: resynchronised/g) ?? []).length >= 2,
    'both workers resynchronised',
    30_000,
  );
  await talk('b');
  const primary = tracee(c.proc.pid!);
  assert.ok(primary, 'the traced primary');
  process.kill(primary, 'SIGTERM');
  assert.equal(await exitWithin(c, 30_000, 'the traced tree after SIGTERM'), 0, c.stderr().slice(-2000));
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

/** Room traffic through JetStream: two daemons' stores append and read back 200 messages. */
async function jetStreamTraffic(urls: string[], replicas: number, tag: string): Promise<void> {
  const keys = deriveClusterKeys(randomBytes(32));
  const a = await testStore(urls, keys, { replicas });
  const b = await testStore([...urls].reverse(), keys, { replicas }).catch(async (err: unknown) => {
    await a.close();
    throw err;
  });
  try {
    const [ra, rb] = [await a.store.open('room'), await b.store.open('room')];
    assert.ok(
      await ra.names.create('alice', {
        username: 'alice',
        userId: 'u',
        owner: 'o',
        source: 's',
        state: 'present',
      }),
    );
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 ? ra : rb).log.append(message(`${tag}${i}`.padEnd(300, '.'))),
      ),
    );
    const page = await rb.log.read(0, { maxEvents: 1000, maxChars: 1_000_000 });
    assert.equal(page.events.filter((e) => textOf(e).startsWith(tag)).length, 200);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

/**
 * The checks common to the JetStream no-disk tests: strace saw the server write its store
 * (sanity), every write outside /dev, /proc and /sys is a violation, every write under
 * /dev/shm lies inside one of the stores, and a private store is invisible from outside.
 */
function checkStores(trace: string, stores: string[], privateStore: boolean): void {
  assert.ok(stores.length > 0);
  assert.match(
    trace,
    /mkdirat\([^)]*cmd-chat-js-[^"]*\/jetstream/,
    'sanity: strace saw the store being written',
  );
  const bad = violations(trace);
  assert.deepEqual(bad, [], `file system writes:\n${bad.join('\n')}`);
  const shm = trace
    .split('\n')
    .filter((line) => /"\/dev\/shm\//.test(line) && violations(line.replace(/"\/dev\//g, '"/x/')).length > 0)
    .filter((line) => !stores.some((dir) => line.includes(`"${dir}/`) || line.includes(`"${dir}"`)));
  assert.deepEqual(shm, [], `writes in /dev/shm outside the stores:\n${shm.join('\n')}`);
  if (!privateStore) return;
  for (const dir of stores.filter((d) => existsSync(d))) {
    assert.deepEqual(readdirSync(dir), [], `${dir} is private to its server`);
  }
}

test('nothing touches disk: one nats-server with JetStream carrying rooms, restarted, under strace', async (t) => {
  if (process.platform !== 'linux') return t.skip('strace exists only on Linux');
  if (skipWithoutTools(t, 'strace', 'nats-server')) return;
  const server = await startNatsServer({ traced: true, jetstream: true });
  teardown(t)(() => server.stop());
  const stores: string[] = [];
  let privateStore = false;
  try {
    await jetStreamTraffic([server.url], 1, 'a');
    stores.push(server.storeDir()!);
    privateStore = server.privateStore;
    checkStores(server.output(), stores, privateStore);
    await server.stop('SIGKILL');
    await server.restart();
    stores.push(server.storeDir()!);
    await jetStreamTraffic([server.url], 1, 'b');
    checkStores(server.output(), stores, privateStore);
  } finally {
    await server.stop();
  }
  checkStores(server.output(), stores, false);
  for (const dir of stores) assert.equal(existsSync(dir), false, `${dir} is gone after stop`);
});

test('nothing touches disk: a 3-node NATS cluster with replicated memory streams, under strace', async (t) => {
  if (process.platform !== 'linux') return t.skip('strace exists only on Linux');
  if (skipWithoutTools(t, 'strace', 'nats-server')) return;
  const cluster = await startNatsCluster(3, { traced: true });
  teardown(t)(() => cluster.stop());
  const stores = cluster.servers.map((s: NatsServer) => s.storeDir()!);
  try {
    await jetStreamTraffic(cluster.urls, 3, 'c');
    const trace = cluster.servers.map((s) => s.output()).join('\n');
    // The meta log a NATS cluster keeps even for memory-only streams: written, but in the tmpfs.
    assert.match(trace, /_meta_/, 'sanity: the servers wrote their JetStream meta log');
    checkStores(trace, stores, cluster.servers[0]!.privateStore);
  } finally {
    await cluster.stop();
  }
  for (const dir of stores) assert.equal(existsSync(dir), false, `${dir} is gone after stop`);
});
