/**
 * The transport contract: one set of cases that every transport must pass, registered by
 * each implementation's test file with its own way of making a server/client pair. It pins
 * down what the protocol code relies on: bytes arrive intact both ways, end() half-closes,
 * a reset peer is noticed, a slow reader holds the writer back, and failures are
 * TransportErrors with clear messages.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  type ClientTransport,
  type Connection,
  type Listener,
  type ServerTransport,
  TransportError,
  type TransportErrorCode,
} from '../../lib/transport/transport.js';

export interface TransportPair {
  server: ServerTransport;
  /** The client that reaches the given listener of `server`. */
  clientFor(listener: Listener): ClientTransport;
}

export interface Refusal {
  what: string;
  client(): ClientTransport | Promise<ClientTransport>;
  code: TransportErrorCode;
  message: RegExp;
}

export interface ContractSubject {
  name: string;
  /** A reason to skip the whole suite here (e.g. no IPv6), or undefined to run it. */
  skip?: string | undefined;
  before?(): Promise<void>;
  after?(): Promise<void>;
  pair(): TransportPair | Promise<TransportPair>;
  refusals(): Refusal[];
  /** The error code of a connect after the listener was closed. */
  closedCode: TransportErrorCode;
  /**
   * Why this path cannot half-close (one side's end() closes both directions), or undefined
   * if it can. Only the half-close case is skipped then; every other case avoids needing it.
   */
  noHalfClose?: string | undefined;
}

/** Guards against a hang; no case measures time. */
const CASE = { timeout: 20_000 };
const MiB = 1024 * 1024;

/** Accumulates what a stream delivers and lets a test wait for an amount or the end. */
export class Collector {
  private chunks: Buffer[] = [];
  length = 0;
  ended = false;
  private notify: () => void = () => {};

  constructor(stream: Duplex) {
    stream.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      this.notify();
    });
    stream.on('end', () => {
      this.ended = true;
      this.notify();
    });
    stream.on('close', () => this.notify());
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  private until(done: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (done()) resolve();
        else this.notify = check;
      };
      check();
    });
  }

  async take(n: number): Promise<Buffer> {
    await this.until(() => this.length >= n || this.ended);
    return this.bytes;
  }

  async end(): Promise<Buffer> {
    await this.until(() => this.ended);
    return this.bytes;
  }
}

/** A listening server plus one established connection, both ends. */
interface Session {
  listener: Listener;
  clientTransport: ClientTransport;
  client: Connection;
  server: Connection;
  nextAccepted(): Promise<Connection>;
  errors: { client: Error[]; server: Error[] };
  close(): Promise<void>;
}

async function openSession(subject: ContractSubject): Promise<Session> {
  const { server, clientFor } = await subject.pair();
  const accepted: Connection[] = [];
  let wake: () => void = () => {};
  const listener = await server.listen((conn) => {
    accepted.push(conn);
    wake();
  });
  const nextAccepted = (): Promise<Connection> =>
    new Promise((resolve) => {
      const check = (): void => {
        const conn = accepted.shift();
        if (conn !== undefined) resolve(conn);
        else wake = check;
      };
      check();
    });
  const clientTransport = clientFor(listener);
  const opened: Connection[] = [];
  try {
    const client = await clientTransport.connect();
    opened.push(client);
    const serverSide = await nextAccepted();
    opened.push(serverSide);
    const errors = { client: [] as Error[], server: [] as Error[] };
    client.stream.on('error', (err) => errors.client.push(err));
    serverSide.stream.on('error', (err) => errors.server.push(err));
    return {
      listener,
      clientTransport,
      client,
      server: serverSide,
      nextAccepted,
      errors,
      async close(): Promise<void> {
        client.stream.destroy();
        serverSide.stream.destroy();
        await listener.close();
      },
    };
  } catch (err) {
    for (const conn of opened) conn.stream.destroy();
    await listener.close();
    throw err;
  }
}

function isTransportError(code: TransportErrorCode, message: RegExp): (err: unknown) => boolean {
  return (err: unknown): boolean => {
    assert.ok(err instanceof TransportError, `expected a TransportError, got ${String(err)}`);
    assert.equal(err.code, code, `wrong code for: ${err.message}`);
    assert.match(err.message, message);
    return true;
  };
}

/** Waits for 'drain', or reports false once nothing happened for a while (the writer is stuck). */
function drainOrStall(stream: Duplex, quietMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      stream.off('drain', onDrain);
      resolve(false);
    }, quietMs);
    const onDrain = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    stream.once('drain', onDrain);
  });
}

/** Writes `data` in chunks of varying sizes without waiting for 'drain'. */
function writeInPieces(stream: Duplex, data: Buffer): void {
  let offset = 0;
  let size = 1;
  while (offset < data.length) {
    stream.write(data.subarray(offset, offset + size));
    offset += size;
    size = (size * 7 + 1013) % (256 * 1024);
  }
}

export function transportContract(subject: ContractSubject): void {
  describe(`transport contract: ${subject.name}`, { skip: subject.skip ?? false }, () => {
    if (subject.before) before(() => subject.before?.());
    if (subject.after) after(() => subject.after?.());

    it('connects and carries bytes both ways', CASE, async () => {
      const s = await openSession(subject);
      try {
        assert.ok(s.listener.address.length > 0, 'listener has an address');
        assert.ok(s.clientTransport.description.length > 0, 'client has a description');
        assert.ok(s.server.peer.length > 0 && s.client.peer.length > 0, 'connections have peer labels');
        const atServer = new Collector(s.server.stream);
        const atClient = new Collector(s.client.stream);
        s.client.stream.write('ping from client');
        assert.equal((await atServer.take(16)).toString(), 'ping from client');
        s.server.stream.write('pong from server');
        assert.equal((await atClient.take(16)).toString(), 'pong from server');
        assert.deepEqual(s.errors, { client: [], server: [] });
      } finally {
        await s.close();
      }
    });

    it('delivers everything written before end(), then the end', CASE, async () => {
      const s = await openSession(subject);
      try {
        const atServer = new Collector(s.server.stream);
        s.client.stream.write('one, ');
        s.client.stream.end('two');
        assert.equal((await atServer.end()).toString(), 'one, two');
        assert.deepEqual(s.errors.server, []);
      } finally {
        await s.close();
      }
    });

    it('half-closes: the server sees the end and can still answer', {
      ...CASE,
      skip: subject.noHalfClose ?? false,
    }, async () => {
      const s = await openSession(subject);
      try {
        const atServer = new Collector(s.server.stream);
        const atClient = new Collector(s.client.stream);
        s.client.stream.end('last words');
        assert.equal((await atServer.end()).toString(), 'last words');
        assert.equal(atClient.ended, false, 'the client still has its reading side open');
        s.server.stream.write('answer after your end, ');
        s.server.stream.end('and goodbye');
        assert.equal((await atClient.end()).toString(), 'answer after your end, and goodbye');
        await Promise.all([
          s.client.stream.closed ? undefined : once(s.client.stream, 'close'),
          s.server.stream.closed ? undefined : once(s.server.stream, 'close'),
        ]);
        assert.deepEqual(s.errors, { client: [], server: [] });
      } finally {
        await s.close();
      }
    });

    it('notices a reset peer without hanging', CASE, async () => {
      const s = await openSession(subject);
      try {
        const noticed = new Promise<string>((resolve) => {
          for (const event of ['end', 'error', 'close']) s.client.stream.once(event, () => resolve(event));
        });
        s.client.stream.resume();
        s.server.stream.destroy();
        const first = await noticed;
        assert.ok(['end', 'error', 'close'].includes(first));
        // Whatever the client does next, its stream must reach 'close' rather than linger.
        if (!s.client.stream.closed) {
          const closed = new Promise((resolve) => s.client.stream.once('close', resolve));
          s.client.stream.write('anyone there?');
          s.client.stream.end();
          await closed;
        }
      } finally {
        await s.close();
      }
    });

    it('carries 8 MiB each way at once, byte for byte', CASE, async () => {
      const s = await openSession(subject);
      try {
        const up = randomBytes(8 * MiB);
        const down = randomBytes(8 * MiB);
        const atServer = new Collector(s.server.stream);
        const atClient = new Collector(s.client.stream);
        writeInPieces(s.client.stream, up);
        writeInPieces(s.server.stream, down);
        const [gotUp, gotDown] = await Promise.all([atServer.take(up.length), atClient.take(down.length)]);
        assert.equal(gotUp.length, up.length);
        assert.ok(gotUp.equals(up), 'client → server bytes differ');
        assert.equal(gotDown.length, down.length);
        assert.ok(gotDown.equals(down), 'server → client bytes differ');
        assert.deepEqual(s.errors, { client: [], server: [] });
      } finally {
        await s.close();
      }
    });

    it('holds a writer back while the reader is paused, then drains', CASE, async () => {
      const s = await openSession(subject);
      try {
        s.server.stream.pause();
        const sent = createHash('sha256');
        const chunk = Buffer.alloc(16 * 1024);
        const limit = 256 * MiB;
        let written = 0;
        let stalled = false;
        for (let i = 0; written < limit; i++) {
          chunk.fill(i & 0xff);
          chunk.writeUInt32BE(i);
          sent.update(chunk);
          written += chunk.length;
          if (!s.client.stream.write(Buffer.from(chunk))) {
            if (!(await drainOrStall(s.client.stream, 300))) {
              stalled = true;
              break;
            }
          }
        }
        assert.ok(stalled, `the writer was never held back (wrote ${written} bytes to a paused reader)`);
        assert.ok(
          s.server.stream.readableLength <= 4 * MiB,
          `the paused reader buffered ${s.server.stream.readableLength} bytes`,
        );
        const drained = once(s.client.stream, 'drain');
        const received = createHash('sha256');
        let receivedBytes = 0;
        s.server.stream.on('data', (data: Buffer) => {
          received.update(data);
          receivedBytes += data.length;
        });
        s.server.stream.resume();
        await drained;
        const ended = new Promise((resolve) => s.server.stream.once('end', resolve));
        s.client.stream.end();
        await ended;
        assert.equal(receivedBytes, written);
        assert.equal(received.digest('hex'), sent.digest('hex'));
      } finally {
        await s.close();
      }
    });

    it('serves several connections at once, each on its own', CASE, async () => {
      const { server, clientFor } = await subject.pair();
      const listener = await server.listen((conn) => {
        // An echo server: answers each connection with what it sent, then ends.
        conn.stream.on('error', () => {});
        conn.stream.pipe(conn.stream);
      });
      try {
        const client = clientFor(listener);
        const results = await Promise.all(
          Array.from({ length: 10 }, async (_, i) => {
            const conn = await client.connect();
            const got = new Collector(conn.stream);
            const text = `connection ${i}`;
            conn.stream.write(text);
            const echoed = (await got.take(text.length)).toString();
            conn.stream.destroy();
            return echoed;
          }),
        );
        assert.deepEqual(
          results,
          Array.from({ length: 10 }, (_, i) => `connection ${i}`),
        );
      } finally {
        await listener.close();
      }
    });

    it('refuses new connections after close() but keeps established ones', CASE, async () => {
      const s = await openSession(subject);
      try {
        await s.listener.close();
        await s.listener.close(); // idempotent
        const atServer = new Collector(s.server.stream);
        s.client.stream.write('still here');
        assert.equal((await atServer.take(10)).toString(), 'still here');
        await assert.rejects(s.clientTransport.connect(), isTransportError(subject.closedCode, /./));
      } finally {
        await s.close();
      }
    });

    it('reports failed connections as TransportErrors with clear messages', CASE, async () => {
      const refusals = subject.refusals();
      assert.ok(refusals.length > 0, 'the subject lists at least one failing connect');
      for (const refusal of refusals) {
        const client = await refusal.client();
        await assert.rejects(client.connect(), isTransportError(refusal.code, refusal.message), refusal.what);
      }
    });
  });
}
