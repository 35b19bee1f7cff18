/** TCP transport: the contract over IPv4 and IPv6 loopback, plus listen/connect error wording. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { peerLabel, tcpClient, tcpServer } from '../../lib/transport/tcp.js';
import { TransportError } from '../../lib/transport/transport.js';
import { freePort as closedPort } from '../helpers/processes.js';
import { transportContract } from './contract.js';

async function ipv6Available(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(`::1 is not available here (${err.code})`));
    server.listen(0, '::1', () => server.close(() => resolve(undefined)));
  });
}

let refusedPort4 = 0;
transportContract({
  name: 'tcp over 127.0.0.1',
  async before() {
    refusedPort4 = await closedPort();
  },
  pair: () => ({
    server: tcpServer({ host: '127.0.0.1', port: 0 }),
    clientFor: (listener) => tcpClient({ host: '127.0.0.1', port: listener.port! }),
  }),
  refusals: () => [
    {
      what: 'a closed port',
      client: () => tcpClient({ host: '127.0.0.1', port: refusedPort4 }),
      code: 'connect_failed',
      message: new RegExp(`^cannot connect to 127\\.0\\.0\\.1:${refusedPort4}: connection refused$`),
    },
    {
      what: 'an unknown host',
      client: () => tcpClient({ host: 'no-such-host.invalid', port: 3000 }),
      code: 'connect_failed',
      message: /^cannot connect to no-such-host\.invalid:3000: (host not found|temporary failure)/,
    },
  ],
  closedCode: 'connect_failed',
});

const noIpv6 = await ipv6Available();
let refusedPort6 = 0;
transportContract({
  name: 'tcp over [::1]',
  skip: noIpv6,
  async before() {
    refusedPort6 = await closedPort('::1');
  },
  pair: () => ({
    server: tcpServer({ host: '::1', port: 0 }),
    clientFor: (listener) => tcpClient({ host: '::1', port: listener.port! }),
  }),
  refusals: () => [
    {
      what: 'a closed port',
      client: () => tcpClient({ host: '[::1]', port: refusedPort6 }),
      code: 'connect_failed',
      message: new RegExp(`^cannot connect to \\[::1\\]:${refusedPort6}: connection refused$`),
    },
  ],
  closedCode: 'connect_failed',
});

describe('tcp specifics', () => {
  it('reports the bound port and a printable address', async () => {
    const listener = await tcpServer({ host: '127.0.0.1', port: 0 }).listen(() => {});
    try {
      assert.ok(listener.port !== undefined && listener.port > 0);
      assert.equal(listener.address, `127.0.0.1:${listener.port}`);
    } finally {
      await listener.close();
    }
  });

  it('brackets IPv6 listener addresses', { skip: noIpv6 }, async () => {
    const listener = await tcpServer({ host: '[::1]', port: 0 }).listen(() => {});
    try {
      assert.equal(listener.address, `[::1]:${listener.port}`);
    } finally {
      await listener.close();
    }
  });

  it('says plainly that an address is in use', async () => {
    const first = await tcpServer({ host: '127.0.0.1', port: 0 }).listen(() => {});
    try {
      await assert.rejects(
        tcpServer({ host: '127.0.0.1', port: first.port! }).listen(() => {}),
        {
          name: 'TransportError',
          code: 'listen_failed',
          message: `address 127.0.0.1:${first.port} is already in use`,
        },
      );
    } finally {
      await first.close();
    }
  });

  it('rejects impossible ports as bad options', () => {
    for (const port of [-1, 65536, 1.5, Number.NaN]) {
      assert.throws(() => tcpServer({ host: '127.0.0.1', port }), { code: 'bad_options' });
    }
    assert.throws(() => tcpClient({ host: '127.0.0.1', port: 0 }), { code: 'bad_options' });
  });

  it('labels peers by IP, folding IPv4-mapped addresses', () => {
    assert.equal(peerLabel('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(peerLabel('::1'), '::1');
    assert.equal(peerLabel('127.0.0.1'), '127.0.0.1');
    assert.equal(peerLabel(undefined), 'unknown');
  });

  it('gives accepted and connected sockets Nagle off and half-open on', async () => {
    let accepted: net.Socket | undefined;
    const listener = await tcpServer({ host: '127.0.0.1', port: 0 }).listen((conn) => {
      accepted = conn.stream as net.Socket;
    });
    try {
      const conn = await tcpClient({ host: '127.0.0.1', port: listener.port! }).connect();
      const socket = conn.stream as net.Socket;
      assert.ok(socket instanceof net.Socket);
      assert.equal(socket.allowHalfOpen, true);
      assert.equal(conn.peer, '127.0.0.1');
      socket.destroy();
      while (accepted === undefined) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(accepted.allowHalfOpen, true);
      accepted.destroy();
    } finally {
      await listener.close();
    }
  });

  it('is a TransportError a caller can tell apart', async () => {
    const port = await closedPort();
    const err = await tcpClient({ host: '127.0.0.1', port })
      .connect()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof TransportError);
    assert.equal(err.name, 'TransportError');
  });
});
