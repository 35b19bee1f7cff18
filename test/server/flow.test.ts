/**
 * Flow control under hostile members, on a real daemon over TCP: the room's total inflow is
 * bounded, every frame of a record pays its rate token, and joins from one source are paced.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { type RawClient, rawAuthenticated, waitFor } from '../helpers/raw-client.js';

const PW = 'flow-test-password';

/** Joins a raw client as `name` from `localAddress`. */
async function member(td: TestDaemon, name: string, localAddress = '127.0.0.1'): Promise<RawClient> {
  const c = await rawAuthenticated(td.port, 'chat', PW, localAddress);
  const reply = await c.join(name);
  assert.equal(reply.type, 'init', JSON.stringify(reply));
  return c;
}

/** Reads records as they come and counts the message frames whose sender is `from`. */
function countMessages(c: RawClient, from: string): { count: number; errors: string[]; done: Promise<void> } {
  const state = { count: 0, errors: [] as string[], done: Promise.resolve() };
  state.done = (async () => {
    for (;;) {
      let frames: Array<Record<string, unknown>>;
      try {
        frames = await c.nextFrames(60_000);
      } catch {
        return;
      }
      for (const f of frames) {
        if (f.type === 'message' && (f.data as { username?: string }).username?.startsWith(from))
          state.count++;
        if (f.type === 'error') state.errors.push(String(f.code));
      }
    }
  })();
  return state;
}

/** Sends `count` large messages in one write (one burst). */
function burst(c: RawClient, name: string, count: number, bodyChars: number): void {
  const records: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const body = String(i).padEnd(bodyChars, 'x');
    records.push(c.seal(JSON.stringify({ type: 'message', text: tokenFor(c, name, body) })));
  }
  c.write(Buffer.concat(records));
}

function tokenFor(c: RawClient, name: string, body: string): string {
  let token = '';
  const send = c.sendFrame.bind(c);
  // Borrow the client's own sealing of a message token without sending it.
  c.sendFrame = (frame: unknown) => {
    token = (frame as { text: string }).text;
  };
  c.sendMessage(body, { from: name });
  c.sendFrame = send;
  return token;
}

test("the room's inflow is bounded: the room relays no faster than --room-rate-bytes after its burst", async () => {
  const td = await startDaemon(
    { chat: PW },
    {
      limits: {
        maxClientsPerAddress: 64,
        handshakeRatePerSource: 0,
        joinRatePerSource: 0,
        rateBytesPerSecond: 1024 * 1024,
        rateBurstBytes: 1024 * 1024,
        roomRateBytesPerSecond: 256 * 1024,
        roomBurstBytes: 256 * 1024,
      },
    },
  );
  const clients: RawClient[] = [];
  try {
    const reader = await member(td, 'reader');
    clients.push(reader);
    const received = countMessages(reader, 'flooder');
    const flooders: RawClient[] = [];
    for (let i = 0; i < 4; i++) flooders.push(await member(td, `flooder${i}`));
    clients.push(...flooders);
    const started = performance.now();
    // 4 × 8 records of ~42 KB: about 1.3 MB, each member within its own burst.
    for (const [i, f] of flooders.entries()) burst(f, `flooder${i}`, 8, 23 * 1024);
    await waitFor(() => received.count === 32, 'every message', 30_000);
    const elapsed = performance.now() - started;
    // (1.3 MB - 256 KB burst) at 256 KB/s cannot take less than ~4 s; half of it for slack.
    assert.ok(elapsed > 2000, `the room relayed 1.3 MB in ${Math.round(elapsed)} ms`);
  } finally {
    for (const c of clients) c.destroy();
    await td.stop();
  }
});

test('a record carrying many frames pays a rate token for each before it is handled', async () => {
  const td = await startDaemon(
    { chat: PW },
    { limits: { rateFramesPerSecond: 10, rateBurst: 5, handshakeRatePerSource: 0 } },
  );
  const c = await rawAuthenticated(td.port, 'chat', PW);
  try {
    const pings = Array.from({ length: 60 }, (_, t) => JSON.stringify({ type: 'ping', t }));
    c.sendFrame(pings.join('\n'));
    let pongs = 0;
    const deadline = performance.now() + 400;
    while (performance.now() < deadline) {
      try {
        const frames = await c.nextFrames(Math.max(1, deadline - performance.now()));
        pongs += frames.filter((f) => f.type === 'pong').length;
      } catch {
        break;
      }
    }
    // Burst 5 plus 10/s for 0.4 s: about 9; never the whole record.
    assert.ok(pongs >= 5 && pongs <= 12, `${pongs} pongs in 400 ms`);
    assert.equal(c.closed, false);
  } finally {
    c.destroy();
    await td.stop();
  }
});

test('joins from one source are paced by --join-rate; another source joins at once', async () => {
  const td = await startDaemon(
    { chat: PW },
    { limits: { joinRatePerSource: 5, joinBurstPerSource: 3, handshakeRatePerSource: 0 } },
  );
  const clients: RawClient[] = [];
  try {
    const started = performance.now();
    for (let i = 0; i < 8; i++) {
      const c = await member(td, `churn${i}`, '127.0.0.6');
      c.destroy(); // join, leave, join again
    }
    const elapsed = performance.now() - started;
    // 3 at once, then 5 more at 5/s: at least a second; half of it for slack.
    assert.ok(elapsed >= 500, `8 joins from one source in ${Math.round(elapsed)} ms`);
    const t0 = performance.now();
    clients.push(await member(td, 'other', '127.0.0.7'));
    assert.ok(performance.now() - t0 < 1000, 'another source was held back');
  } finally {
    for (const c of clients) c.destroy();
    await td.stop();
  }
});
