/**
 * The bus over TLS against a real nats-server with a test certificate authority (made with
 * openssl in a temporary folder, removed afterwards): the CA file lets the bus in, a client
 * certificate satisfies a server that verifies clients, and a bus that does not trust the
 * server's certificate, or asks for TLS from a server without it, fails with one line.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type BusEvent, NatsRoomBus } from '../../lib/cluster/bus.js';
import { deriveClusterKeys } from '../../lib/cluster/keys.js';
import { introduced } from '../helpers/bus-peers.js';
import { startNatsServer } from '../helpers/nats.js';
import { waitFor } from '../helpers/raw-client.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { skipWithoutTools, toolsProblem } from '../helpers/system-tools.js';
import { teardown } from '../helpers/teardown.js';

const keys = deriveClusterKeys(randomBytes(32));
let dir = '';
const file = (name: string): string => join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

/** A key and a certificate signed by the test CA, valid for 127.0.0.1 and localhost. */
function issue(name: string, usage: string): void {
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file(`${name}.key`));
  openssl('req', '-new', '-key', file(`${name}.key`), '-subj', `/CN=${name}`, '-out', file(`${name}.csr`));
  writeFileSync(
    file(`${name}.ext`),
    `subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=${usage}\n`,
  );
  openssl(
    'x509',
    '-req',
    '-in',
    file(`${name}.csr`),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-set_serial',
    String(Date.now()),
    '-days',
    '1',
    '-extfile',
    file(`${name}.ext`),
    '-out',
    file(`${name}.pem`),
  );
}

const ready = toolsProblem('nats-server', 'openssl') === undefined;

before(() => {
  if (!ready) return;
  dir = mkdtempSync(join(tmpdir(), 'cmd-chat-nats-tls-'));
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('ca.key'));
  openssl(
    'req',
    '-x509',
    '-new',
    '-key',
    file('ca.key'),
    '-subj',
    '/CN=test-ca',
    '-days',
    '1',
    '-out',
    file('ca.pem'),
  );
  issue('server', 'serverAuth');
  issue('client', 'clientAuth');
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function exchange(a: NatsRoomBus, b: NatsRoomBus): Promise<void> {
  await introduced(a, b);
  const got: BusEvent[] = [];
  b.subscribeRoom('r', (e) => got.push(e));
  await b.flush();
  a.publish('r', { type: 'ping' });
  await waitFor(() => got.length === 1, 'the event over TLS');
}

test('over TLS: the CA file lets the bus in; an untrusted server certificate is refused', async (t) => {
  if (skipWithoutTools(t, 'nats-server', 'openssl')) return;
  const server = await startNatsServer({
    config: `tls { cert_file: "${file('server.pem')}", key_file: "${file('server.key')}" }`,
  });
  const defer = teardown(t);
  defer(() => server.stop());
  try {
    const options = { servers: [server.url], tls: { caFile: file('ca.pem') } };
    const [a, b] = await Promise.all([
      NatsRoomBus.connect(options, keys, silentLogger),
      NatsRoomBus.connect(options, keys, silentLogger),
    ]);
    defer(() => Promise.all([a.close(), b.close()]));
    await exchange(a, b);
    await Promise.all([a.close(), b.close()]);
    await assert.rejects(
      NatsRoomBus.connect({ servers: [server.url], tls: {} }, keys, silentLogger),
      (err: Error) => /certificate/i.test(err.message) && !err.message.includes('\n'),
    );
  } finally {
    await server.stop();
  }
});

test('over TLS with client certificates: the bus presents its own', async (t) => {
  if (skipWithoutTools(t, 'nats-server', 'openssl')) return;
  const server = await startNatsServer({
    config: `tls { cert_file: "${file('server.pem')}", key_file: "${file('server.key')}", ca_file: "${file('ca.pem')}", verify: true }`,
  });
  const defer = teardown(t);
  defer(() => server.stop());
  try {
    const tls = { caFile: file('ca.pem'), certFile: file('client.pem'), keyFile: file('client.key') };
    const [a, b] = await Promise.all([
      NatsRoomBus.connect({ servers: [server.url], tls }, keys, silentLogger),
      NatsRoomBus.connect({ servers: [server.url], tls }, keys, silentLogger),
    ]);
    defer(() => Promise.all([a.close(), b.close()]));
    await exchange(a, b);
    await Promise.all([a.close(), b.close()]);
  } finally {
    await server.stop();
  }
});

test('TLS asked of a server without it: a one-line error', async (t) => {
  if (skipWithoutTools(t, 'nats-server', 'openssl')) return;
  const server = await startNatsServer();
  try {
    await assert.rejects(
      NatsRoomBus.connect({ servers: [server.url], tls: { caFile: file('ca.pem') } }, keys, silentLogger),
      (err: Error) => /tls/i.test(err.message) && !err.message.includes('\n'),
    );
  } finally {
    await server.stop();
  }
});
