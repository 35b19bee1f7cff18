/**
 * The cluster's promises under real failures, three real `serve --cluster` daemons on one real
 * nats-server (shared by this file's tests, each test a cluster of its own secret): the
 * daemon whose member is posting is SIGKILLed, another SIGSTOPped then SIGKILLed in between,
 * and every message reaches every surviving member exactly once, in order (an acknowledged
 * one from the log, an unacknowledged one retried by its client and de-duplicated); daemons
 * whose clocks run 150 s ahead and 30 s behind keep names unique and messages crossing; and
 * throwaway connections from one source cannot evict a held name on another daemon.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ChatEvent } from '../../lib/client/events.js';
import { ChatSession } from '../../lib/client/session/session.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import {
  type ClusterNats,
  member,
  skipWithoutNats,
  startCluster,
  startClusterNats,
} from '../helpers/cluster.js';
import { EventLog, isMessage } from '../helpers/events.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { natsProblem } from '../helpers/nats.js';
import { repoRoot } from '../helpers/paths.js';
import { ARRIVAL_MS } from '../helpers/patience.js';
import { rawAuthenticated, waitFor } from '../helpers/raw-client.js';

const PW = 'correct horse battery staple';
const FAST = { initialDelayMs: 100, maxDelayMs: 300, maxAttempts: 0 };
/** Shifts `Date` in a daemon by CMD_CHAT_TEST_CLOCK_MS (see the fixture). */
const CLOCK_SHIFT = join(repoRoot, 'test', 'fixtures', 'clock-shift.mjs');

let shared: ClusterNats | undefined;
before(async () => {
  if (natsProblem() === undefined) shared = await startClusterNats();
});
after(async () => {
  await shared?.nats.stop();
});

/** A session on `port` through a proxy that can be pointed at another daemon. */
async function proxied(
  port: number,
  name: string,
): Promise<{ session: ChatSession; log: EventLog; proxy: FaultProxy }> {
  const proxy = await FaultProxy.start(port);
  const session = await ChatSession.open({
    transport: tcpClient({ host: '127.0.0.1', port: proxy.port }),
    room: 'chat',
    password: PW,
    username: name,
    reconnect: FAST,
  });
  const log = new EventLog(session);
  await session.join(name);
  return { session, log, proxy };
}

test('the posting daemon SIGKILLed, another stopped then killed: every message once, in order, at every survivor', async (t) => {
  if (skipWithoutNats(t) || !shared) return;
  const cluster = await startCluster(3, ['--room', `chat=${PW}`, '--resume-grace', '30'], shared);
  t.after(() => cluster.stop());
  const [a, b, c] = cluster.daemons as [
    (typeof cluster.daemons)[0],
    (typeof cluster.daemons)[0],
    (typeof cluster.daemons)[0],
  ];
  const poster = await proxied(a.port, 'poster');
  t.after(async () => {
    await poster.session.close().catch(() => {});
    await poster.proxy.stop();
  });
  const onB = await member(b, 'chat', PW, 'bea');
  const onC = await member(c, 'chat', PW, 'cid');
  await waitFor(() => onC.session.memberList().length === 3, 'cid sees everyone');

  const TOTAL = 300;
  const sent: string[] = [];
  let sending = true;
  const posting = (async () => {
    for (let i = 0; i < TOTAL; i++) {
      const body = `m${i}`;
      poster.session.send(body); // queued by the session while it reconnects
      sent.push(body);
      await new Promise((r) => setTimeout(r, 5));
    }
    sending = false;
  })();

  // B stops mid-stream (its lease lapses, the others hold its member's name), then dies.
  await onC.log.waitFor(isMessage('m40'), 'traffic at cid');
  b.proc.kill('SIGSTOP');
  await onC.log.waitFor((e) => e.type === 'leave' && e.username === 'bea', 'bea taken for gone', 15_000);
  await b.stop('SIGKILL');
  // A dies under its poster; the poster's next connection lands on C.
  await onC.log.waitFor(isMessage('m120'), 'more traffic at cid');
  poster.proxy.retarget(c.port);
  await a.stop('SIGKILL');
  await posting;
  assert.equal(sending, false);
  await poster.log.waitFor((e) => e.type === 'reconnected', 'the poster back through C', 20_000);
  await waitFor(() => poster.session.unechoedCount === 0, 'every message of the poster confirmed', 30_000);

  const bodies = (log: EventLog): string[] => log.bodies().filter((x) => /^m\d+$/.test(x));
  await onC.log.waitFor(() => bodies(onC.log).length >= TOTAL, `all ${TOTAL} at cid`, 30_000);
  await poster.log.waitFor(() => bodies(poster.log).length >= TOTAL, `all ${TOTAL} at the poster`, 30_000);
  assert.deepEqual(bodies(onC.log), sent, 'cid: every message once, in order');
  assert.deepEqual(bodies(poster.log), sent, 'the poster: every message once, in order');
  assert.equal(poster.session.me.username, 'poster', 'the poster kept its name');
  // A newcomer on the survivor reads the same log.
  const late = await member(c, 'chat', PW, 'late');
  assert.deepEqual(late.history, sent.slice(-late.history.length));
  await Promise.all([onC.session.close(), late.session.close(), onB.session.close().catch(() => {})]);
});

test('clocks 150 s ahead and 30 s behind: names stay unique across daemons and messages cross', async (t) => {
  if (skipWithoutNats(t) || !shared) return;
  // Leases of 1.5 s: short enough to watch two of them pass, long enough for a loaded machine.
  const cluster = await startCluster(1, ['--room', `chat=${PW}`, '--cluster-heartbeat', '0.5'], shared);
  t.after(() => cluster.stop());
  const ahead = await cluster.addDaemon(undefined, {
    NODE_OPTIONS: `--import=${CLOCK_SHIFT}`,
    CMD_CHAT_TEST_CLOCK_MS: String(150_000),
  });
  const behind = await cluster.addDaemon(undefined, {
    NODE_OPTIONS: `--import=${CLOCK_SHIFT}`,
    CMD_CHAT_TEST_CLOCK_MS: String(-30_000),
  });
  const [normal] = cluster.daemons as [typeof ahead];
  const alice = await member(ahead, 'chat', PW, 'alice');
  // The same name (and a confusable of it) on the other two: refused everywhere.
  for (const [d, name] of [
    [behind, 'alice'],
    [normal, 'ALICE'],
  ] as const) {
    const raw = await rawAuthenticated(d.port, 'chat', PW);
    const answer = await raw.join(name);
    raw.destroy();
    assert.equal(
      answer.type === 'error' ? answer.code : answer.type,
      'name_taken',
      `${name} on another daemon`,
    );
  }
  const bob = await member(behind, 'chat', PW, 'bob');
  const carol = await member(normal, 'chat', PW, 'carol');
  alice.session.send('from the future');
  bob.session.send('from the past');
  carol.session.send('from now');
  for (const m of [alice, bob, carol]) {
    for (const body of ['from the future', 'from the past', 'from now']) {
      await m.log.waitFor(isMessage(body), `${body} at ${m.name}`);
    }
  }
  // A lease and two sweeps later nobody was taken for gone (leases age on the server's clock).
  await new Promise((r) => setTimeout(r, 3500));
  for (const m of [alice, bob, carol]) assert.equal(m.session.memberList().length, 3, `${m.name} sees three`);
  assert.ok(!alice.log.events.some((e) => e.type === 'leave'));
  await Promise.all([alice, bob, carol].map((m) => m.session.close()));
});

test("throwaway connections from one source on another daemon cannot evict alice's hold; her resume takes it back", async (t) => {
  if (skipWithoutNats(t) || !shared) return;
  const cluster = await startCluster(
    2,
    [
      '--room',
      `chat=${PW}`,
      '--resume-grace',
      '60',
      '--max-members',
      '8',
      '--max-holds-per-address',
      '2',
      '--join-rate',
      '0',
      '--handshake-rate',
      '0',
      // Leases of 3 s, not the suite's 0.6 s: this test is about holds, not failure detection.
      '--cluster-heartbeat',
      '1',
    ],
    shared,
  );
  t.after(() => cluster.stop());
  const [a, b] = cluster.daemons as [(typeof cluster.daemons)[0], (typeof cluster.daemons)[0]];
  const alice = await proxied(a.port, 'alice');
  t.after(async () => {
    await alice.session.close().catch(() => {});
    await alice.proxy.stop();
  });
  const watcher = await member(b, 'chat', PW, 'watcher');
  await waitFor(() => watcher.session.memberList().length === 2, 'the watcher sees alice');
  // Alice's link is lost, and stays lost while the attack runs.
  alice.proxy.refuse(true);
  alice.proxy.cut();
  await watcher.log.waitFor((e) => e.type === 'leave' && e.username === 'alice', 'alice held');

  const listed = (name: string): boolean => watcher.session.memberList().some((m) => m.username === name);
  // Twelve throwaway members from one address on B, each dropped without a goodbye.
  for (let i = 0; i < 12; i++) {
    const since = watcher.log.events.length;
    const raw = await rawAuthenticated(b.port, 'chat', PW);
    const answer = await raw.join(`temp${i}`);
    assert.equal(answer.type, 'init', JSON.stringify(answer));
    raw.destroy();
    // Its leave; or, if the watcher had to resume meanwhile (a daemon that stalls past its
    // lease has its members resume), a member list without it.
    const after = (): ChatEvent[] => watcher.log.events.slice(since);
    await waitFor(
      () =>
        after().some((e) => e.type === 'leave' && e.username === `temp${i}`) ||
        (after().some((e) => e.type === 'reconnected') && !listed(`temp${i}`)),
      `temp${i} gone for the watcher`,
      ARRIVAL_MS,
    );
  }
  // A stranger cannot take her name, on either daemon.
  for (const d of [a, b]) {
    const raw = await rawAuthenticated(d.port, 'chat', PW);
    const answer = await raw.join('alice');
    raw.destroy();
    assert.equal(answer.type === 'error' ? answer.code : answer.type, 'name_taken');
  }
  // Her resume, through the other daemon, takes her name back.
  alice.proxy.retarget(b.port);
  alice.proxy.refuse(false);
  await alice.log.waitFor((e) => e.type === 'reconnected', 'alice back through B', 20_000);
  assert.equal(alice.session.me.username, 'alice');
  await waitFor(() => listed('alice'), 'alice back for the watcher', ARRIVAL_MS);
  await watcher.session.close();
});
