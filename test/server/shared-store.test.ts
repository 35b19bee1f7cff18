/**
 * Two daemons in one process sharing one in-memory room store: the daemon's single code path
 * for a cluster (names by compare-and-set, presence from the name table's watch, messages from
 * the log's watch), unit-tested without nats-server. Members on either daemon are in one
 * room: one order of messages, one set of names (a look-alike refused on the other daemon),
 * renames and private messages across, and a member's resume on the other daemon takes its
 * name back and closes its old connection `replaced`. A name table whose watch lags the log
 * (as a cluster's may) does not let a newcomer speak before it joined.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatEvent } from '../../lib/client/events.js';
import { ChatSession } from '../../lib/client/session/session.js';
import { defaultDaemonLimits } from '../../lib/protocol/limits.js';
import { MemoryRoomStore } from '../../lib/rooms/memory.js';
import type { NameTable, RoomStore } from '../../lib/rooms/seam.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { joinAs, startDaemon } from '../helpers/daemon.js';
import { within } from '../helpers/deadline.js';
import { EventLog, isMessage } from '../helpers/events.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { rawAuthenticated, waitFor } from '../helpers/raw-client.js';
import { teardown } from '../helpers/teardown.js';

const PW = 'correct horse battery staple';
const isJoin = (name: string) => (e: ChatEvent) => e.type === 'join' && e.username === name;

test('two daemons on one store: one room, one order, one set of names, resume across', async (t) => {
  const store = new MemoryRoomStore({ maxEvents: 1000, maxChars: 1_000_000 });
  const limits = { resumeGraceMs: 30_000 };
  const defer = teardown(t);
  const a = await startDaemon({ chat: PW }, { store, limits: { ...defaultDaemonLimits, ...limits } });
  defer(() => a.stop());
  const b = await startDaemon({ chat: PW }, { store, limits: { ...defaultDaemonLimits, ...limits } });
  defer(() => b.stop());
  const proxy = await FaultProxy.start(a.port);
  defer(() => proxy.stop());
  const alice = await within(
    ChatSession.open({
      transport: tcpClient({ host: '127.0.0.1', port: proxy.port }),
      room: 'chat',
      password: PW,
      username: 'alice',
      reconnect: { initialDelayMs: 50, maxDelayMs: 200, maxAttempts: 0 },
    }),
    10_000,
    "alice's session",
  );
  const aliceLog = new EventLog(alice);
  await within(alice.join('alice'), 10_000, 'alice to join');
  t.after(() => alice.close());
  const bob = await joinAs(b, 'chat', PW, 'bob');
  const bobLog = new EventLog(bob);
  t.after(() => bob.close());
  await aliceLog.waitFor(isJoin('bob'), 'bob (daemon B) seen by alice (daemon A)');
  assert.deepEqual(
    bob
      .memberList()
      .map((m) => m.username)
      .sort(),
    ['alice', 'bob'],
  );

  for (let i = 0; i < 20; i++) {
    alice.send(`a${i}`);
    bob.send(`b${i}`);
  }
  const all = (log: EventLog): string[] => log.bodies().filter((x) => /^[ab]\d+$/.test(x));
  await aliceLog.waitFor(() => all(aliceLog).length === 40, 'all at alice');
  await bobLog.waitFor(() => all(bobLog).length === 40, 'all at bob');
  assert.deepEqual(all(aliceLog), all(bobLog), 'one order on both daemons');

  // A look-alike of a name present on A is refused on B.
  const raw = await rawAuthenticated(b.port, 'chat', PW);
  const answer = await raw.join('ALICE');
  raw.destroy();
  assert.equal(answer.type === 'error' ? answer.code : answer.type, 'name_taken');

  await within(bob.nick('robert'), 10_000, "bob's rename");
  await aliceLog.waitFor((e) => e.type === 'rename' && e.new === 'robert', 'the rename at alice');
  alice.sendPrivate('robert', 'psst');
  await bobLog.waitFor((e) => e.type === 'private' && e.body === 'psst' && !e.mine, 'private across');

  // Alice's link is cut; she comes back through B and takes her name back there.
  proxy.retarget(b.port);
  proxy.cut();
  await aliceLog.waitFor((e) => e.type === 'reconnected', 'alice back through B');
  assert.equal(alice.me.username, 'alice');
  await waitFor(() => a.daemon.stats().members === 0, 'A has no member left');
  assert.equal(b.daemon.stats().members, 2);
  alice.send('after the move');
  await bobLog.waitFor(isMessage('after the move'), 'alice to robert after the move');
});

/** The store's name tables tell their watchers `ms` late (a cluster's KV watch lagging its log's). */
function lateNames(store: MemoryRoomStore, ms: number): RoomStore {
  return {
    open: async (key) => {
      const backing = await store.open(key);
      const inner = backing.names;
      const names: NameTable = {
        get: (k) => inner.get(k),
        list: () => inner.list(),
        create: (k, r) => inner.create(k, r),
        update: (k, r, rev) => inner.update(k, r, rev),
        hold: (k, r, rev, holdMs) => inner.hold(k, r, rev, holdMs),
        remove: (k, rev) => inner.remove(k, rev),
        watch: (listener) =>
          inner.watch((change) => {
            setTimeout(() => listener(change), ms);
          }),
      };
      return { log: backing.log, names, direct: backing.direct };
    },
    close: (key) => store.close(key),
    dispose: () => store.dispose(),
  };
}

test("a newcomer's first message on another daemon waits for its join there", async (t) => {
  const store = new MemoryRoomStore({ maxEvents: 1000, maxChars: 1_000_000 });
  const defer = teardown(t);
  const a = await startDaemon({ chat: PW }, { store: lateNames(store, 200) });
  defer(() => a.stop());
  const b = await startDaemon({ chat: PW }, { store });
  defer(() => b.stop());
  const bob = await joinAs(a, 'chat', PW, 'bob');
  const bobLog = new EventLog(bob);
  t.after(() => bob.close());
  const carol = await joinAs(b, 'chat', PW, 'carol');
  t.after(() => carol.close());
  carol.send('first words');
  await bobLog.waitFor(isMessage('first words'), 'the message at bob');
  const kinds = bobLog.events.flatMap((e) =>
    e.type === 'join' && e.username === 'carol' ? ['join'] : isMessage('first words')(e) ? ['message'] : [],
  );
  assert.deepEqual(kinds, ['join', 'message'], 'carol joined before she spoke');
});
