/**
 * A private message never exists in clear on the daemon: after a /msg with a distinctive
 * plaintext passes through a real daemon process, that process's memory (every private and
 * anonymous mapping, read through /proc/PID/mem) holds no copy of it, while a string the daemon
 * does hold (the room name, chosen just as distinctive) is found by the same scan, so the scan
 * can fail. A late joiner's history holds the room message and nothing private.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ChatSession } from '../../lib/client/session/session.js';
import { openEnvelope } from '../../lib/crypto/envelope.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { EventLog, isMessage } from '../helpers/events.js';
import { canReadProcessMemory, countInProcessMemory, stringForms } from '../helpers/process-memory.js';
import { type DaemonProcess, startDaemonProcess } from '../helpers/processes.js';
import { rawAuthenticated } from '../helpers/raw-client.js';

const ROOM = `room${randomBytes(12).toString('hex')}`;
const SECRET = `private plan ${randomBytes(12).toString('hex')}`;

describe('daemon memory and private messages', () => {
  let d: DaemonProcess;
  const sessions: ChatSession[] = [];
  async function member(name: string): Promise<ChatSession> {
    const session = await ChatSession.open({
      transport: tcpClient({ host: '127.0.0.1', port: d.port }),
      room: ROOM,
      password: 'pw',
      username: name,
    });
    await session.join(name);
    sessions.push(session);
    return session;
  }

  before(async () => {
    d = await startDaemonProcess(['--room', `${ROOM}=pw`]);
    const alice = await member('alice');
    const alog = new EventLog(alice);
    const bob = await member('bob');
    const blog = new EventLog(bob);
    await alog.waitFor((e) => e.type === 'join' && e.username === 'bob', 'alice sees bob join');
    for (let i = 0; i < 3; i++) alice.sendPrivate('bob', SECRET);
    await blog.waitFor((e) => e.type === 'private' && e.body === SECRET, 'bob gets the private message');
    await alog.waitFor((e) => e.type === 'private' && e.mine, 'the receipt');
    alice.send('fence');
    await blog.waitFor(isMessage('fence'));
  });

  after(async () => {
    for (const s of sessions) await s.close();
    await d.stop();
  });

  test('a /msg plaintext is nowhere in the daemon process; the room name is', async (t) => {
    const pid = d.proc.pid!;
    if (process.platform !== 'linux' || !canReadProcessMemory(pid)) {
      t.skip('needs /proc/PID/mem (Linux)');
      return;
    }
    const [roomHits, ...secretHits] = countInProcessMemory(pid, [
      Buffer.from(ROOM, 'latin1'),
      ...stringForms(SECRET),
    ]);
    assert.ok((roomHits ?? 0) > 0, 'the scan finds a string the daemon holds (the room name)');
    assert.deepEqual(secretHits, [0, 0], 'the private plaintext is not in the daemon memory');

    // The same scan on this process (which did see the plaintext) finds it: the needle is right.
    const [own] = countInProcessMemory(process.pid, [Buffer.from(SECRET, 'latin1')]);
    assert.ok((own ?? 0) > 0, 'the scan finds the plaintext where it exists');
  });

  test('a late joiner gets the room message in history and nothing private', async () => {
    const late = await rawAuthenticated(d.port, ROOM, 'pw');
    const init = (await late.join('dave')) as { messages?: Array<{ text: string }> };
    const bodies = (init.messages ?? []).map((m) => openEnvelope(late.fernet!, m.text).body);
    assert.deepEqual(bodies, ['fence'], 'the room message only');
    assert.ok(!late.plaintexts.some((p) => p.includes(SECRET) || p.includes('"private"')));
    late.destroy();
  });
});
