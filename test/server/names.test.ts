/**
 * Name rules enforced by a real daemon: invisible padding, look-alike letters and names that
 * forge an output line are refused at join and at /nick, over real sessions on TCP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SessionError } from '../../lib/client/session/session.js';
import { joinAs, openSession, startDaemon, type TestDaemon } from '../helpers/daemon.js';

async function refusedWith(promise: Promise<unknown>, code: string, label: string): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SessionError, `${label}: expected a SessionError, got ${String(err)}`);
    assert.equal(err.code, code, label);
    return;
  }
  assert.fail(`${label}: expected ${code}`);
}

describe('names that impersonate are refused by the daemon', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon({ lobby: 'pw' });
  });
  after(() => d.stop());

  test('alice with invisible padding or look-alike letters cannot join next to alice', async () => {
    const alice = await joinAs(d, 'lobby', 'pw', 'alice');
    const other = await openSession(d, 'lobby', 'pw');
    for (const cp of [0x034f, 0xfe0f, 0xe0020, 0x3164, 0x00ad, 0x2800]) {
      await refusedWith(other.join(`alice${String.fromCodePoint(cp)}`), 'bad_name', `U+${cp.toString(16)}`);
    }
    // Issue 20's look-alikes: a mark NFC does not compose, a filler, a second script …
    for (const lookalike of [
      'ali\u0307ce',
      'a\u04cfice',
      'alice\u{16fe4}',
      'alice\u{1bc9d}',
      'alice\u{1d167}',
      '\u0430lice',
    ]) {
      await refusedWith(other.join(lookalike), 'bad_name', JSON.stringify(lookalike));
    }
    // … and the same class: case, small capitals, i/l/1/I.
    for (const lookalike of [
      'ALICE',
      'a1ice',
      'aIice',
      '\u1d00\u029f\u026a\u1d04\u1d07',
      'al\u0131ce',
      'ɑlice',
    ]) {
      await refusedWith(other.join(lookalike), 'name_taken', lookalike);
    }
    await other.join('mallory');
    await refusedWith(
      other.nick('\u1d00\u029f\u026a\u1d04\u1d07'),
      'name_taken',
      'nick to small-capital alice',
    );
    await refusedWith(other.nick('\u0430lice'), 'bad_name', 'nick to Cyrillic alice');
    await refusedWith(other.nick('bob: I am leaving. carol'), 'bad_name', 'nick with a colon');
    await refusedWith(other.nick('*alice'), 'bad_name', 'nick with a leading star');
    // A member may change the case of its own name.
    await alice.nick('Alice');
    assert.equal(alice.me.username, 'Alice');
    await alice.close();
    await other.close();
  });

  test('real names in many scripts join side by side; b0b is bob', async () => {
    const names = [
      'alice',
      'alice2',
      'Zoë',
      'Łukasz',
      '田中',
      '田中さくら',
      'Дмитрий',
      'प्रिया',
      'สมชาย',
      'bob',
    ];
    const sessions = [];
    for (const name of names) {
      const s = await joinAs(d, 'lobby', 'pw', name);
      assert.equal(s.me.username, name);
      sessions.push(s);
    }
    const late = await openSession(d, 'lobby', 'pw');
    await refusedWith(late.join('b0b'), 'name_taken', 'b0b beside bob');
    await late.close();
    for (const s of sessions) await s.close();
  });
});
