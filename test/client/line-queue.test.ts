/**
 * The session's reading side under a backlog: a burst of records read in one go (a flood
 * that piled up while the client had no CPU) is handled in slices, so the event loop (the
 * keystrokes, the screen) gets turns in between; the lines keep their order, and the end of
 * the connection is reported after the last of them. Over a real TCP connection.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { test } from 'node:test';
import { LineQueue, SLICE_MS } from '../../lib/client/session/line-queue.js';

const LINES = 3000;
/** CPU per line, like opening and verifying a record: the burst takes ~LINES × this. */
const WORK_MS = 0.2;

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin: a stand-in for decrypting and verifying one record
  }
}

test('a burst of lines is handled in slices, in order, with the end after the last line', async () => {
  let serverSide: Socket | undefined;
  const server = createServer((s) => {
    serverSide = s;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const client = tcpConnect(port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  while (!serverSide) await new Promise((r) => setImmediate(r));

  const queue = new LineQueue({ stream: client, peer: 'test' }, 1024);
  const seen: number[] = [];
  /** How many lines had been handled each time the event loop got a turn meanwhile. */
  const turns: number[] = [];
  let ended = -1;
  const done = new Promise<void>((resolve) => {
    queue.onEnd = () => {
      ended = seen.length;
      resolve();
    };
  });
  let ticking = true;
  const tick = (): void => {
    if (!ticking) return;
    turns.push(seen.length);
    setImmediate(tick);
  };
  queue.stream((line) => {
    if (seen.length === 0) setImmediate(tick);
    seen.push(Number(line));
    busy(WORK_MS);
  });

  let burst = '';
  for (let i = 0; i < LINES; i++) burst += `${i}\n`;
  serverSide.end(burst);
  await done;
  ticking = false;
  server.close();
  client.destroy();

  assert.deepEqual(
    seen,
    Array.from({ length: LINES }, (_, i) => i),
    'every line, in order',
  );
  assert.equal(ended, LINES, 'the end is reported after the last line');
  const during = turns.filter((n) => n > 0 && n < LINES);
  // ~600 ms of work in slices of SLICE_MS: the loop turns many times, not once at the end.
  const expected = Math.floor((LINES * WORK_MS) / SLICE_MS / 4);
  assert.ok(during.length >= expected, `event-loop turns during the burst: ${during.length} (≥ ${expected})`);
});

test('a handler that holds the queue gets no further line, nor the end, until it releases it', async () => {
  let serverSide: Socket | undefined;
  const server = createServer((s) => {
    serverSide = s;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const client = tcpConnect(port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  while (!serverSide) await new Promise((r) => setImmediate(r));

  const queue = new LineQueue({ stream: client, peer: 'test' }, 1024);
  const seen: string[] = [];
  let ended = false;
  const done = new Promise<void>((resolve) => {
    queue.onEnd = () => {
      ended = true;
      resolve();
    };
  });
  queue.stream((line) => {
    seen.push(String(line));
    if (line === 'a') queue.hold();
  });
  serverSide.end('a\nb\nc\n');
  // Many turns later, still only the first line: the handler has not released the queue.
  for (let i = 0; i < 50; i++) await new Promise((r) => setTimeout(r, 2));
  assert.deepEqual(seen, ['a']);
  assert.equal(ended, false, 'the end waits for the held line too');
  queue.release();
  await done;
  assert.deepEqual(seen, ['a', 'b', 'c']);
  client.destroy();
  server.close();
});

/** A connected pair over loopback TCP: [our end, the far end]. */
async function socketPair(): Promise<[Socket, Socket]> {
  let far: Socket | undefined;
  const server = createServer((s) => {
    far = s;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const near = tcpConnect(port, '127.0.0.1');
  await new Promise<void>((resolve) => near.once('connect', resolve));
  while (!far) await new Promise((r) => setImmediate(r));
  server.close();
  return [near, far];
}

test('a key read in the same turn as a burst of lines is handled before any of them', async () => {
  // `keys` stands in for the terminal. The lines reach the kernel first (a write is tried at
  // once) and the loop is kept busy meanwhile, so one poll finds both reads, the lines' first.
  const [chat, chatFar] = await socketPair();
  const [keys, keysFar] = await socketPair();
  const order: string[] = [];
  const queue = new LineQueue({ stream: chat, peer: 'test' }, 1024);
  queue.stream((line) => {
    order.push(`line ${line}`);
    busy(1);
  });
  keys.on('data', () => order.push('key'));
  // Several rounds: the order in which one poll reports two ready sockets is the kernel's.
  try {
    for (let round = 0; round < 5; round++) {
      order.length = 0;
      chatFar.write('1\n2\n3\n');
      keysFar.write('k');
      busy(50); // both reads are ready by the next poll
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(order[0], 'key', `round ${round}: ${order.join(', ')}`);
      assert.deepEqual(order.slice(1), ['line 1', 'line 2', 'line 3']);
    }
  } finally {
    for (const s of [chat, chatFar, keys, keysFar]) s.destroy();
  }
});
