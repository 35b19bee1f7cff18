/**
 * The private nats-server of `serve --workers` runs JetStream on memory storage only (no file
 * storage at all), with its store on a tmpfs that is gone after stop, and carries a room's
 * log for a daemon that authenticates with the nkey. Its watchdog shell runs no startup file.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { createUser } from '@nats-io/nkeys';
import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { JetStreamRoomStore } from '../../lib/cluster/jetstream-store.js';
import { deriveClusterKeys } from '../../lib/cluster/keys.js';
import { findNatsServer, startPrivateNats } from '../../lib/cluster/private-nats.js';
import { within } from '../helpers/deadline.js';
import { message } from '../helpers/jetstream.js';
import { skipWithoutNats } from '../helpers/nats.js';

/** Each step's bound: a step that hangs fails the test by name instead of holding the file. */
const STEP_MS = 30_000;

test('the private nats-server: JetStream on memory only, a room log works, its store is gone after stop', async (t) => {
  if (skipWithoutNats(t)) return;
  // Stores are named after the process that makes them: other test files make theirs meanwhile.
  const ours = (): string[] =>
    readdirSync('/dev/shm').filter((d) => d.startsWith(`cmd-chat-js-${process.pid}-`));
  const before = new Set(ours());
  const pair = createUser();
  const user = { seed: pair.getSeed(), publicKey: pair.getPublicKey() };
  const server = await within(
    startPrivateNats({ binary: findNatsServer(), userPublicKey: user.publicKey }),
    STEP_MS,
    'the server to start',
  );
  // Stopped however the test ends: a server left running would keep this file from ending.
  t.after(() => server.stop());
  const stores = ours().filter((d) => !before.has(d));
  assert.equal(stores.length, 1, 'one store directory of its own');
  const store = `/dev/shm/${stores[0]}`;
  const nc = await within(
    connect({ servers: [server.url], authenticator: nkeyAuthenticator(user.seed) }),
    STEP_MS,
    'a connection',
  );
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await assert.rejects(
    within(
      jsm.streams.add({ name: 'ONDISK', subjects: ['ondisk'], storage: 'file' as never }),
      STEP_MS,
      'a file stream to be refused',
    ),
    /insufficient resources|storage/i,
    'no stream can be made on file storage',
  );
  await within(
    jsm.streams.add({ name: 'INRAM', subjects: ['inram'], storage: 'memory' as never }),
    STEP_MS,
    'a memory stream',
  );
  const rooms = await within(
    JetStreamRoomStore.start(nc, deriveClusterKeys(randomBytes(32)), {
      limits: { maxEvents: 100, maxChars: 100_000 },
      holdMs: 5000,
      leaseMs: 3000,
    }),
    STEP_MS,
    'the room store',
  );
  const { log } = await within(rooms.open('room'), STEP_MS, 'a room');
  assert.deepEqual(await within(log.append(message('hello')), STEP_MS, 'an append'), {
    seq: 1,
    duplicate: false,
  });
  await within(rooms.dispose(), STEP_MS, 'the store to close');
  await within(nc.close(), STEP_MS, 'the connection to close');
  await within(server.stop(), STEP_MS, 'the server to stop');
  assert.equal(existsSync(store), false, 'the store is gone');
});

test('the watchdog shell runs no startup file: neither ~/.bashrc nor BASH_ENV', async (t) => {
  if (skipWithoutNats(t)) return;
  const home = mkdtempSync(join(tmpdir(), 'cmd-chat-home-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const ran = join(home, 'ran');
  writeFileSync(join(home, '.bashrc'), `echo bashrc >> '${ran}'\n`);
  writeFileSync(join(home, 'env.sh'), `echo BASH_ENV >> '${ran}'\n`);
  const saved = { HOME: process.env.HOME, BASH_ENV: process.env.BASH_ENV, SHLVL: process.env.SHLVL };
  // As under systemd or cron: no SHLVL, so a bash whose stdin is a socket (Node's pipes) takes
  // itself for a remote shell and would run ~/.bashrc.
  process.env.HOME = home;
  process.env.BASH_ENV = join(home, 'env.sh');
  delete process.env.SHLVL;
  try {
    const pair = createUser();
    const server = await within(
      startPrivateNats({ binary: findNatsServer(), userPublicKey: pair.getPublicKey() }),
      STEP_MS,
      'the server to start',
    );
    await within(server.stop(), STEP_MS, 'the server to stop');
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  assert.equal(existsSync(ran) ? readFileSync(ran, 'utf8') : '', '', 'startup files that ran');
});
