/**
 * Unix socket transport: the contract, plus the rules for the socket file: never replace a
 * live socket, replace a stale one, never touch a non-socket, remove only our own file.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { maxSocketPathBytes, pipeNameFor, unixClient, unixServer } from '../../lib/transport/unix.js';
import { transportContract } from './contract.js';

const posix = process.platform !== 'win32';
let dir = '';
let counter = 0;
const fresh = (): string => join(dir, `s${++counter}.sock`);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cc-unix-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Leaves a socket file at `path` that nobody listens on, as a crashed daemon would. */
async function makeStaleSocket(path: string): Promise<void> {
  const server = net.createServer();
  const bound = `${path}.tmp`;
  await new Promise<void>((resolve) => server.listen(bound, resolve));
  linkSync(bound, path);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(lstatSync(path).isSocket(), 'test setup: stale socket exists');
}

/**
 * Connects to `path`, reads until the daemon ends its side, then ends ours. The client is
 * half-open (allowHalfOpen): since Node 24 a finished `for await` loop no longer destroys the
 * socket, so without end() both ends would stay open and keep the test process alive.
 */
async function readAll(path: string): Promise<string> {
  const conn = await unixClient({ path }).connect();
  const chunks: Buffer[] = [];
  for await (const chunk of conn.stream) chunks.push(chunk as Buffer);
  conn.stream.end();
  return Buffer.concat(chunks).toString();
}

transportContract({
  name: 'unix socket',
  skip: posix ? undefined : 'socket files are POSIX; the named-pipe mapping is untested',
  pair: () => {
    const path = fresh();
    return { server: unixServer({ path }), clientFor: () => unixClient({ path }) };
  },
  refusals: () => {
    const missing = join(dir, 'missing.sock');
    return [
      {
        what: 'a missing socket',
        client: () => unixClient({ path: missing }),
        code: 'connect_failed',
        message: new RegExp(
          `^cannot connect to ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no such socket`,
        ),
      },
      {
        what: 'a stale socket',
        client: async () => {
          const stale = fresh();
          await makeStaleSocket(stale);
          return unixClient({ path: stale });
        },
        code: 'connect_failed',
        message: /connection refused \(no daemon is listening there\)$/,
      },
    ];
  },
  closedCode: 'connect_failed',
});

describe('unix socket file handling', { skip: posix ? false : 'POSIX only' }, () => {
  it('refuses to start over a live socket, and leaves it working', async () => {
    const path = fresh();
    const first = await unixServer({ path }).listen((conn) => {
      conn.stream.on('error', () => {});
      conn.stream.end('first daemon');
    });
    try {
      await assert.rejects(
        unixServer({ path }).listen(() => {}),
        {
          code: 'listen_failed',
          message: `another daemon is listening on ${path}`,
        },
      );
      assert.equal(await readAll(path), 'first daemon');
    } finally {
      await first.close();
    }
  });

  it('replaces a stale socket left by a dead daemon', async () => {
    const path = fresh();
    await makeStaleSocket(path);
    const staleInode = lstatSync(path).ino;
    const listener = await unixServer({ path }).listen((conn) => {
      conn.stream.on('error', () => {});
      conn.stream.end('new daemon');
    });
    try {
      assert.notEqual(lstatSync(path).ino, staleInode);
      assert.equal(await readAll(path), 'new daemon');
    } finally {
      await listener.close();
    }
  });

  it('never removes a file that is not a socket', async () => {
    const path = fresh();
    writeFileSync(path, 'precious');
    await assert.rejects(
      unixServer({ path }).listen(() => {}),
      {
        code: 'listen_failed',
        message: `${path} exists and is not a socket; it was left untouched`,
      },
    );
    assert.equal(readFileSync(path, 'utf8'), 'precious');
  });

  it('creates the socket owner-only, leaves no temporary file, and removes it on close', async () => {
    const path = fresh();
    const before = new Set(readdirSync(dir));
    const listener = await unixServer({ path }).listen(() => {});
    const stat = lstatSync(path);
    assert.ok(stat.isSocket());
    assert.equal(stat.mode & 0o777, 0o600);
    assert.equal(listener.address, path);
    assert.equal(listener.port, undefined);
    const added = readdirSync(dir).filter((name) => !before.has(name));
    assert.deepEqual(added, [path.slice(dir.length + 1)]);
    await listener.close();
    assert.equal(existsSync(path), false);
    assert.deepEqual(new Set(readdirSync(dir)), before);
  });

  it('on close, leaves alone a file that replaced its socket', async () => {
    const path = fresh();
    const listener = await unixServer({ path }).listen(() => {});
    rmSync(path);
    writeFileSync(path, 'someone else');
    await listener.close();
    assert.equal(readFileSync(path, 'utf8'), 'someone else');
  });

  it('on close, leaves alone another daemon’s socket that replaced its own', async () => {
    const path = fresh();
    const mine = await unixServer({ path }).listen(() => {});
    rmSync(path);
    const theirs = await unixServer({ path }).listen((conn) => {
      conn.stream.on('error', () => {});
      conn.stream.end('still here');
    });
    try {
      await mine.close();
      assert.ok(lstatSync(path).isSocket());
      assert.equal(await readAll(path), 'still here');
    } finally {
      await theirs.close();
    }
  });

  it('still works when the path is too close to the limit for a temporary sibling name', async () => {
    // Build a directory so that DIR/a is exactly as long as bind() allows.
    const room = maxSocketPathBytes() - Buffer.byteLength(dir) - '/a'.length;
    let deep = dir;
    let left = room;
    while (left > 0) {
      const part = 'd'.repeat(Math.min(left - 1, 50) || 1);
      if (left - part.length - 1 < 0) break;
      deep = join(deep, part);
      mkdirSync(deep);
      left -= part.length + 1;
    }
    const path = join(deep, 'a'.repeat(1 + left));
    assert.equal(Buffer.byteLength(path), maxSocketPathBytes());
    const listener = await unixServer({ path }).listen((conn) => {
      conn.stream.on('error', () => {});
      conn.stream.end('near the limit');
    });
    try {
      assert.equal(lstatSync(path).mode & 0o777, 0o600);
      assert.equal(await readAll(path), 'near the limit');
    } finally {
      await listener.close();
    }
    assert.equal(existsSync(path), false);
  });

  it('says why it cannot create the socket', async () => {
    await assert.rejects(
      unixServer({ path: join(dir, 'no-such-dir', 'x.sock') }).listen(() => {}),
      {
        code: 'listen_failed',
        message: /does not exist$/,
      },
    );
  });

  it('rejects paths the system cannot bind as bad options', () => {
    const tooLong = join(dir, 'x'.repeat(maxSocketPathBytes()));
    assert.throws(() => unixServer({ path: tooLong }), { code: 'bad_options', message: /too long/ });
    assert.throws(() => unixClient({ path: tooLong }), { code: 'bad_options' });
    assert.throws(() => unixServer({ path: '' }), { code: 'bad_options' });
  });
});

describe('windows named-pipe mapping (pure function; the pipe itself is untested)', () => {
  it('maps a path to a pipe name both sides agree on', () => {
    assert.equal(pipeNameFor('C:\\Users\\me\\chat.sock'), '\\\\.\\pipe\\Users\\me\\chat.sock');
    assert.equal(pipeNameFor('/tmp/chat.sock'), '\\\\.\\pipe\\tmp\\chat.sock');
    assert.equal(pipeNameFor('\\\\.\\pipe\\mine'), '\\\\.\\pipe\\mine');
  });
});
