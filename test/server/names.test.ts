/**
 * Name rules enforced by a real daemon: invisible padding, look-alike letters and names that
 * forge an output line are refused at join and at /nick, over real sessions on TCP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SessionError } from '../../lib/client/session.js';
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
    for (const lookalike of ['\u0430lice', 'ALICE', 'a1ice', 'aIice']) {
      await refusedWith(other.join(lookalike), 'name_taken', lookalike);
    }
    await other.join('mallory');
    await refusedWith(other.nick('\u0430lice'), 'name_taken', 'nick to Cyrillic alice');
    await refusedWith(other.nick('bob: I am leaving. carol'), 'bad_name', 'nick with a colon');
    await refusedWith(other.nick('*alice'), 'bad_name', 'nick with a leading star');
    // A member may change the case of its own name.
    await alice.nick('Alice');
    assert.equal(alice.me.username, 'Alice');
    await alice.close();
    await other.close();
  });
});
