/**
 * The private nats-server of `serve --workers` runs JetStream on memory storage only (no file
 * storage at all), with its store on a tmpfs that is gone after stop, and carries a room's
 * log for a daemon that authenticates with the nkey. Its watchdog shell runs no startup file.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { createUser } from '@nats-io/nkeys';
import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { JetStreamRoomStore } from '../../lib/cluster/jetstream-store.js';
import { deriveClusterKeys } from '../../lib/cluster/keys.js';
import { findNatsServer, startPrivateNats } from '../../lib/cluster/private-nats.js';
import { message } from '../helpers/jetstream.js';
import { skipWithoutNats } from '../helpers/nats.js';

test('the private nats-server: JetStream on memory only, a room log works, its store is gone after stop', async (t) => {
  if (skipWithoutNats(t)) return;
  const before = new Set((await import('node:fs')).readdirSync('/dev/shm'));
  const pair = createUser();
  const user = { seed: pair.getSeed(), publicKey: pair.getPublicKey() };
  const server = await startPrivateNats({ binary: findNatsServer(), userPublicKey: user.publicKey });
  const stores = (await import('node:fs')).readdirSync('/dev/shm').filter((d) => !before.has(d));
  assert.equal(stores.length, 1, 'one store directory of its own');
  const store = `/dev/shm/${stores[0]}`;
  try {
    const nc = await connect({ servers: [server.url], authenticator: nkeyAuthenticator(user.seed) });
    try {
      const jsm = await jetstreamManager(nc);
      await assert.rejects(
        jsm.streams.add({ name: 'ONDISK', subjects: ['ondisk'], storage: 'file' as never }),
        /insufficient resources|storage/i,
        'no stream can be made on file storage',
      );
      await jsm.streams.add({ name: 'INRAM', subjects: ['inram'], storage: 'memory' as never });
      const rooms = await JetStreamRoomStore.start(nc, deriveClusterKeys(randomBytes(32)), {
        limits: { maxEvents: 100, maxChars: 100_000 },
        holdMs: 5000,
        leaseMs: 3000,
      });
      const { log } = await rooms.open('room');
      assert.deepEqual(await log.append(message('hello')), { seq: 1, duplicate: false });
      await rooms.dispose();
    } finally {
      await nc.close();
    }
  } finally {
    await server.stop();
  }
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
    const server = await startPrivateNats({ binary: findNatsServer(), userPublicKey: pair.getPublicKey() });
    await server.stop();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  assert.equal(existsSync(ran) ? readFileSync(ran, 'utf8') : '', '', 'startup files that ran');
});
