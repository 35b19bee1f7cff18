/** In-memory transport: the contract, plus the listen-before-connect rule and reset semantics. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { memoryPair, memoryTransport } from '../helpers/memory-transport.js';
import { Collector, transportContract } from './contract.js';

transportContract({
  name: 'memory',
  pair: () => {
    const { server, client } = memoryTransport();
    return { server, clientFor: () => client };
  },
  refusals: () => [
    {
      what: 'no listener yet',
      client: () => memoryTransport().client,
      code: 'connect_failed',
      message: /^cannot connect to memory: nothing is listening$/,
    },
  ],
  closedCode: 'connect_failed',
});

describe('memory specifics', () => {
  it('allows one listener at a time, and a new one after close', async () => {
    const { server, client } = memoryTransport();
    const first = await server.listen(() => {});
    await assert.rejects(
      server.listen(() => {}),
      { code: 'listen_failed' },
    );
    await first.close();
    const accepted: string[] = [];
    const second = await server.listen((conn) => {
      conn.stream.on('error', () => {});
      accepted.push(conn.peer);
    });
    const conn = await client.connect();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(accepted, ['memory']);
    conn.stream.destroy();
    await second.close();
  });

  it('does not run the reader inside the writer’s write() call', async () => {
    const [a, b] = memoryPair();
    b.on('error', () => {});
    let inWrite = false;
    let seenInsideWrite = false;
    b.on('data', () => {
      seenInsideWrite ||= inWrite;
    });
    inWrite = true;
    a.write('x');
    inWrite = false;
    await once(b, 'data');
    assert.equal(seenInsideWrite, false);
    a.destroy();
  });

  it('fails writes to a peer that closed after ending cleanly', async () => {
    const [a, b] = memoryPair();
    const atA = new Collector(a);
    b.end('bye');
    await atA.end();
    b.destroy();
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => {
      a.once('error', resolve);
      a.write('too late');
    });
    assert.equal(err.code, 'EPIPE');
  });

  it('resets the peer when destroyed before ending', async () => {
    const [a, b] = memoryPair();
    const failed = once(b, 'error');
    a.destroy();
    const [err] = (await failed) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNRESET');
    assert.equal(b.destroyed, true);
  });

  it('bounds what a paused reader buffers to its high-water mark', async () => {
    const [a, b] = memoryPair(1024);
    b.on('error', () => {});
    b.pause();
    let accepted = 0;
    while (a.write(Buffer.alloc(256))) accepted++;
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(b.readableLength <= 1024 + 256, `reader holds ${b.readableLength} bytes`);
    assert.ok(accepted < 16, `writer was let through ${accepted} times`);
    a.destroy();
  });
});
