/**
 * Queues and inflow under hostile members: a burst from several members at once must not
 * cost a reader its seat (only a member that stays behind is a slow reader, and it is told
 * so), and all queues together stay bounded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatSession } from '../../lib/client/session/session.js';
import { sealEnvelope } from '../../lib/crypto/envelope.js';
import { joinAs, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { type RawClient, rawAuthenticated, waitFor } from '../helpers/raw-client.js';

const PW = 'correct horse battery staple';
/** A message body whose sealed record is about 63 KB (a Fernet token of about 62 K characters). */
const BIG_BODY = 'q'.repeat(45_000);

/** A member that sends but never keeps what it receives (its socket is drained and discarded). */
async function drainingMember(td: TestDaemon, name: string): Promise<RawClient> {
  const c = await rawAuthenticated(td.port, 'chat', PW);
  assert.equal((await c.join(name)).type, 'init');
  c.socket.removeAllListeners('data');
  c.socket.on('data', () => {});
  return c;
}

/** A member that has stopped reading: its socket is paused after the join. */
async function nonReader(td: TestDaemon, name: string): Promise<RawClient> {
  const c = await rawAuthenticated(td.port, 'chat', PW);
  assert.equal((await c.join(name)).type, 'init');
  c.socket.pause();
  return c;
}

/** Sends `count` large messages as one write: the daemon gets them in the same instant. */
function burst(c: RawClient, count: number): void {
  const records: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const token = sealEnvelope(c.fernet!, { from: 'x', kind: 'text', body: BIG_BODY });
    records.push(c.seal(JSON.stringify({ type: 'message', text: token })));
  }
  c.write(Buffer.concat(records));
}

function countMessages(session: ChatSession): { n: number } {
  const seen = { n: 0 };
  session.on('event', (e) => {
    if (e.type === 'message' && !e.history) seen.n++;
  });
  return seen;
}

test('a burst from several members at once: a reader at full speed stays, a non-reader is dropped and told why', async () => {
  // Default flood limits (each burst fits --burst-bytes) and grace; a smaller queue bound makes
  // sure the non-reader passes it. The old bound dropped every member whose queue one event-
  // loop turn filled past it, the reader at full speed included.
  const td = await startDaemon(
    { chat: PW },
    {
      limits: {
        rateFramesPerSecond: 100,
        rateBytesPerSecond: 256 * 1024,
        maxQueueBytes: 1024 * 1024,
      },
    },
  );
  const attackers: RawClient[] = [];
  let reader: ChatSession | undefined;
  let sloth: RawClient | undefined;
  try {
    reader = await joinAs(td, 'chat', PW, 'reader');
    const received = countMessages(reader);
    sloth = await nonReader(td, 'sloth');
    for (let i = 0; i < 8; i++) attackers.push(await drainingMember(td, `burst${i}`));
    const perAttacker = 13;
    for (const a of attackers) burst(a, perAttacker);
    const total = attackers.length * perAttacker;
    await waitFor(() => received.n === total, `the reader getting all ${total} messages`, 30_000);
    await waitFor(() => td.daemon.stats().errors.slow_reader === 1, 'the non-reader dropped', 15_000);
    assert.equal(received.n, total, 'the reader got every message');
    assert.equal(td.daemon.stats().errors.slow_reader, 1, 'only the non-reader was dropped');
    assert.equal(td.daemon.stats().members, 1 + attackers.length);
    // The reader is still served.
    const echo = new Promise<void>((resolve) =>
      reader!.on('event', (e) => e.type === 'message' && e.body === 'still here' && resolve()),
    );
    reader.send('still here');
    await echo;
    // The non-reader, reading again, finds why it was dropped after what it had not read.
    sloth.socket.resume();
    const farewell = await sloth.nextFrameWhere((f) => f.type === 'error');
    assert.equal(farewell.code, 'slow_reader');
    await sloth.waitClosed();
  } finally {
    for (const a of attackers) a.destroy();
    sloth?.destroy();
    await reader?.close();
    await td.stop();
  }
});

test('a backlog the room sealed once counts once in all queues together, in full in each member’s', async () => {
  const td = await startDaemon(
    { chat: PW },
    { limits: { slowReaderGraceMs: 60_000, roomRateBytesPerSecond: 0, rateBytesPerSecond: 0 } },
  );
  const sloths: RawClient[] = [];
  let flooder: RawClient | undefined;
  try {
    for (let i = 0; i < 12; i++) sloths.push(await nonReader(td, `sloth${i}`));
    flooder = await drainingMember(td, 'flood');
    burst(flooder, 100);
    const backlog = 100 * 60_000;
    // Each non-reader has what its socket could not take of the backlog waiting for it (the
    // kernel takes a few MB per connection)…
    await waitFor(() => td.daemon.stats().queuedBytes >= 1024 * 1024, 'the backlog to be queued');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { queuedBytes } = td.daemon.stats();
    // …but the daemon counts it once, not 12 times.
    assert.ok(queuedBytes < backlog, `${queuedBytes} bytes counted for a ${backlog}-byte backlog`);
  } finally {
    for (const c of sloths) c.destroy();
    flooder?.destroy();
    await td.stop();
  }
});

test('all queues together stay under --max-queue-total: the largest (non-readers) go first, readers stay', async () => {
  // A room's backlog counts once however many members have to take it (fanout.ts), so the
  // bound is below what the flood leaves for the non-readers.
  const totalBound = 1024 * 1024;
  const td = await startDaemon(
    { chat: PW },
    {
      limits: {
        maxQueueBytes: 4 * 1024 * 1024,
        slowReaderGraceMs: 60_000, // only the daemon-wide bound acts here
        maxQueueTotalBytes: totalBound,
        rateBytesPerSecond: 4 * 1024 * 1024,
        rateBurstBytes: 4 * 1024 * 1024,
        roomRateBytesPerSecond: 2 * 1024 * 1024,
        roomBurstBytes: 512 * 1024,
      },
    },
  );
  const sloths: RawClient[] = [];
  const flooders: RawClient[] = [];
  let reader: ChatSession | undefined;
  try {
    reader = await joinAs(td, 'chat', PW, 'reader');
    const received = countMessages(reader);
    for (let i = 0; i < 12; i++) sloths.push(await nonReader(td, `sloth${i}`));
    for (let i = 0; i < 3; i++) flooders.push(await drainingMember(td, `flood${i}`));
    let peakSeen = 0;
    const sampler = setInterval(() => {
      peakSeen = Math.max(peakSeen, td.daemon.stats().queuedBytes);
    }, 5);
    const rounds = 5;
    for (let r = 0; r < rounds; r++) {
      for (const f of flooders) burst(f, 8);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const total = rounds * flooders.length * 8;
    await waitFor(() => received.n === total, `the reader getting all ${total} messages`, 30_000);
    clearInterval(sampler);
    const stats = td.daemon.stats();
    assert.ok(stats.droppedForMemory > 0, 'nobody was dropped for the daemon-wide bound');
    // What stays queued after each check is within the bound (the checks' own counter), and
    // what the test saw between checks is within the bound plus what the room relays to its
    // 16 members between two checks.
    assert.ok(stats.peakQueuedBytes <= totalBound, `${stats.peakQueuedBytes} bytes stayed queued`);
    assert.ok(peakSeen <= totalBound + 16 * 1024 * 1024, `${peakSeen} bytes queued at once`);
    // Readers and flooders (who read) stay; only non-readers were dropped.
    assert.equal(stats.members, 1 + flooders.length + sloths.length - stats.droppedForMemory);
    assert.ok(flooders.every((f) => !f.closed));
  } finally {
    for (const c of [...sloths, ...flooders]) c.destroy();
    await reader?.close();
    await td.stop();
  }
});
