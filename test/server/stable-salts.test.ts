/**
 * The same room configuration gives the same salts, room key and fingerprint on every start
 * of the daemon (and on two daemons at once), and an unknown room gets the same challenge
 * after a restart too: real daemon processes, real sockets.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ChatSession } from '../../lib/client/session/session.js';
import { openEnvelope } from '../../lib/crypto/envelope.js';
import { decoyKeyEntry, roomEntry } from '../../lib/server/rooms.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { type DaemonProcess, startDaemonProcess } from '../helpers/processes.js';
import { RawClient, rawAuthenticated } from '../helpers/raw-client.js';

const A_VALID = Buffer.from([2]).toString('base64');

/** The challenge fields that must not change for a room: salt, room_salt, legacy flag. */
async function challenge(port: number, room: string): Promise<string> {
  const c = await RawClient.connect({ port });
  try {
    c.sendJson({ cmd: 'srp_init', v: 3, room, A: A_VALID });
    const reply = await c.nextJson();
    return JSON.stringify({ salt: reply.salt, room_salt: reply.room_salt, legacy: reply.legacy });
  } finally {
    c.destroy();
  }
}

/** Joins, sends one message, returns its token (as the daemon relays it) and the fingerprint. */
async function sendOne(
  port: number,
  room: string,
  password: string,
  body: string,
): Promise<{ token: string; fingerprint: string }> {
  const session = await ChatSession.open({
    reconnect: false,
    transport: tcpClient({ host: '127.0.0.1', port }),
    room,
    password,
    username: 'ann',
  });
  session.close();
  const raw = await rawAuthenticated(port, room, password);
  try {
    await raw.join('bob');
    raw.sendMessage(body, { username: 'bob' });
    const frame = await raw.nextFrameWhere((f) => f.type === 'message');
    return { token: (frame.data as { text: string }).text, fingerprint: session.fingerprint };
  } finally {
    raw.destroy();
  }
}

/** Authenticates to a (re)started daemon and opens a token sealed in an earlier run. */
async function openAcrossRuns(port: number, room: string, password: string, token: string): Promise<string> {
  const raw = await rawAuthenticated(port, room, password);
  try {
    return openEnvelope(raw.fernet!, token).body;
  } finally {
    raw.destroy();
  }
}

async function withDaemon<T>(args: string[], fn: (d: DaemonProcess) => Promise<T>): Promise<T> {
  const d = await startDaemonProcess(args);
  try {
    return await fn(d);
  } finally {
    await d.stop();
  }
}

test('a password room keeps its fingerprint and room key across a restart; unknown rooms keep their challenge', async () => {
  const args = ['--room', 'team=stable-salt-pw', '--room', 'other=second-pw'];
  const first = await withDaemon(args, async (d) => ({
    sent: await sendOne(d.port, 'team', 'stable-salt-pw', 'sealed before the restart'),
    team: await challenge(d.port, 'team'),
    unknown: await challenge(d.port, 'no-such-room'),
  }));
  await withDaemon(args, async (d) => {
    const again = await ChatSession.open({
      reconnect: false,
      transport: tcpClient({ host: '127.0.0.1', port: d.port }),
      room: 'team',
      password: 'stable-salt-pw',
    });
    again.close();
    assert.equal(again.fingerprint, first.sent.fingerprint, 'the fingerprint changed across the restart');
    assert.equal(
      await openAcrossRuns(d.port, 'team', 'stable-salt-pw', first.sent.token),
      'sealed before the restart',
    );
    assert.equal(await challenge(d.port, 'team'), first.team);
    assert.equal(
      await challenge(d.port, 'no-such-room'),
      first.unknown,
      "an unknown room's challenge changed",
    );
    // A decoy still looks like a password room: its salts follow the same rule.
    assert.notEqual(await challenge(d.port, 'no-such-room'), first.team);
  });
});

test('two daemons with the same password rooms give the same salts and fingerprint; another password does not', async () => {
  const a = await startDaemonProcess(['--room', 'team=shared-pw']);
  const b = await startDaemonProcess(['--room', 'team=shared-pw']);
  const c = await startDaemonProcess(['--room', 'team=another-pw']);
  try {
    const open = (d: DaemonProcess, password: string): Promise<ChatSession> =>
      ChatSession.open({
        reconnect: false,
        transport: tcpClient({ host: '127.0.0.1', port: d.port }),
        room: 'team',
        password,
      });
    const [sa, sb, sc] = await Promise.all([
      open(a, 'shared-pw'),
      open(b, 'shared-pw'),
      open(c, 'another-pw'),
    ]);
    for (const s of [sa, sb, sc]) s.close();
    assert.equal(sa.fingerprint, sb.fingerprint);
    assert.notEqual(sa.fingerprint, sc.fingerprint);
    assert.equal(await challenge(a.port, 'team'), await challenge(b.port, 'team'));
    assert.equal(await challenge(a.port, 'ghost'), await challenge(b.port, 'ghost'));
    // The salts do not depend on the password (they are sent to anyone who asks).
    assert.equal(await challenge(a.port, 'team'), await challenge(c.port, 'team'));
  } finally {
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  }
});

test('a rooms-file room keeps its fingerprint across a restart; with a decoy key unknown rooms keep their challenge', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cmd-chat-rooms-'));
  try {
    const file = join(dir, 'rooms.jsonl');
    const withKey = join(dir, 'rooms-key.jsonl');
    const entry = JSON.stringify(await roomEntry('vault', 'file-room-pw'));
    writeFileSync(file, `${entry}\n`);
    writeFileSync(withKey, `${JSON.stringify(decoyKeyEntry())}\n${entry}\n`);

    const first = await withDaemon(['--rooms-file', withKey], async (d) => {
      const seen = {
        sent: await sendOne(d.port, 'vault', 'file-room-pw', 'from the first run'),
        vault: await challenge(d.port, 'vault'),
        unknown: await challenge(d.port, 'unknown-name'),
      };
      // Checked after answers from the daemon: a warning would have come with its start-up lines.
      assert.doesNotMatch(d.stderr(), /decoy_key/);
      return seen;
    });
    await withDaemon(['--rooms-file', withKey], async (d) => {
      assert.equal(
        await openAcrossRuns(d.port, 'vault', 'file-room-pw', first.sent.token),
        'from the first run',
      );
      assert.equal(await challenge(d.port, 'vault'), first.vault);
      assert.equal(
        await challenge(d.port, 'unknown-name'),
        first.unknown,
        "an unknown room's challenge changed",
      );
    });
    // Without the decoy key the room is as stable, and the daemon says what the file lacks.
    await withDaemon(['--rooms-file', file], async (d) => {
      assert.equal(await challenge(d.port, 'vault'), first.vault);
      const s = await ChatSession.open({
        reconnect: false,
        transport: tcpClient({ host: '127.0.0.1', port: d.port }),
        room: 'vault',
        password: 'file-room-pw',
      });
      s.close();
      assert.equal(s.fingerprint, first.sent.fingerprint);
      assert.match(d.stderr(), /WARNING: the rooms file has no decoy_key line.*room-entry --decoy-key/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('legacy mode: the v1 challenge of room chat is the same after a restart', async () => {
  const v1Challenge = async (port: number): Promise<string> => {
    const c = await RawClient.connect({ port });
    try {
      c.sendJson({ cmd: 'srp_init', username: 'old', A: A_VALID });
      const reply = await c.nextJson();
      return JSON.stringify({ salt: reply.salt, room_salt: reply.room_salt });
    } finally {
      c.destroy();
    }
  };
  const cli = ['--room', 'chat=legacy-stable-pw', '--legacy'];
  const first = await withDaemon(cli, async (d) => ({
    v1: await v1Challenge(d.port),
    v2: await challenge(d.port, 'chat'),
  }));
  await withDaemon(cli, async (d) => {
    assert.equal(await v1Challenge(d.port), first.v1);
    assert.equal(await challenge(d.port, 'chat'), first.v2);
  });
});
