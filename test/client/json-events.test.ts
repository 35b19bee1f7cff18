/**
 * json-events: every event becomes one JSON line that parses back to the documented fields,
 * with hostile strings preserved in value but inert in the raw line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatEvent } from '../../lib/client/events.js';
import { eventToJson, JSON_SCHEMA_VERSION, jsonLine } from '../../lib/client/json-events.js';

const AT = Date.UTC(2024, 4, 1, 12, 34, 56, 789);
const TIME = '2024-05-01T12:34:56.789Z';

/** Parses an event's line; checks it is one line starting with the schema version. */
function roundTrip(ev: ChatEvent): Record<string, unknown> {
  const line = eventToJson(ev);
  assert.ok(!line.includes('\n'), 'one line');
  assert.ok(line.startsWith('{"v":1,"type":'), line);
  const parsed: unknown = JSON.parse(line);
  assert.equal(typeof parsed, 'object');
  return parsed as Record<string, unknown>;
}

const base = {
  type: 'message' as const,
  id: 'm7',
  at: AT,
  userId: 'u1',
  username: 'alice',
  kind: 'text' as const,
  body: 'hello',
  mine: false,
  history: true,
  undecryptable: false,
};

describe('eventToJson', () => {
  it('reconnecting, with the reason of the failed attempt when there was one', () => {
    assert.deepEqual(roundTrip({ type: 'reconnecting', at: AT, attempt: 1, delayMs: 500 }), {
      v: 1,
      type: 'reconnecting',
      time: TIME,
      attempt: 1,
      delay_ms: 500,
    });
    assert.deepEqual(
      roundTrip({ type: 'reconnecting', at: AT, attempt: 2, delayMs: 900, reason: 'connection refused' }),
      { v: 1, type: 'reconnecting', time: TIME, attempt: 2, delay_ms: 900, reason: 'connection refused' },
    );
  });

  it('message', () => {
    assert.deepEqual(roundTrip(base), {
      v: 1,
      type: 'message',
      id: 'm7',
      time: TIME,
      user: 'alice',
      user_id: 'u1',
      kind: 'text',
      text: 'hello',
      mine: false,
      history: true,
    });
  });

  it('message: undecryptable and claimed_from only when set', () => {
    const o = roundTrip({ ...base, kind: 'me', undecryptable: true, body: 'ignored', forgedFrom: 'bob' });
    assert.equal(o['undecryptable'], true);
    assert.equal(o['claimed_from'], 'bob');
    assert.equal(o['text'], '');
    assert.equal(o['kind'], 'me');
    assert.ok(!('undecryptable' in roundTrip(base)));
    assert.ok(!('claimed_from' in roundTrip(base)));
  });

  it('join, leave, rename, cleared, error', () => {
    assert.deepEqual(roundTrip({ type: 'join', at: AT, userId: 'u2', username: 'bob' }), {
      v: 1,
      type: 'join',
      time: TIME,
      user: 'bob',
      user_id: 'u2',
    });
    assert.deepEqual(roundTrip({ type: 'leave', at: AT, userId: 'u2', username: 'bob' }), {
      v: 1,
      type: 'leave',
      time: TIME,
      user: 'bob',
      user_id: 'u2',
    });
    assert.deepEqual(roundTrip({ type: 'rename', at: AT, userId: 'u2', old: 'bob', new: 'rob' }), {
      v: 1,
      type: 'rename',
      time: TIME,
      old: 'bob',
      new: 'rob',
      user_id: 'u2',
    });
    assert.deepEqual(roundTrip({ type: 'cleared', at: AT, by: 'alice' }), {
      v: 1,
      type: 'cleared',
      time: TIME,
      by: 'alice',
    });
    assert.deepEqual(roundTrip({ type: 'error', at: AT, code: 'rate_limited', message: 'slow' }), {
      v: 1,
      type: 'error',
      time: TIME,
      code: 'rate_limited',
      message: 'slow',
    });
  });

  it('keeps field order stable', () => {
    assert.equal(
      eventToJson(base),
      `{"v":1,"type":"message","id":"m7","time":"${TIME}","user":"alice","user_id":"u1","kind":"text","text":"hello","mine":false,"history":true}`,
    );
  });

  it('every kind of event carries the schema version first, then the room when given', () => {
    // A Record over every ChatEvent type: a new kind of event fails to compile until it is here.
    const samples: { [K in ChatEvent['type']]: Extract<ChatEvent, { type: K }> } = {
      message: base,
      private: {
        type: 'private',
        at: AT,
        fromUserId: 'u2',
        from: 'bob',
        toUserId: 'u1',
        to: 'alice',
        body: 'psst',
        mine: false,
        undecryptable: false,
      },
      join: { type: 'join', at: AT, userId: 'u2', username: 'bob' },
      leave: { type: 'leave', at: AT, userId: 'u2', username: 'bob' },
      rename: { type: 'rename', at: AT, userId: 'u2', old: 'bob', new: 'rob' },
      cleared: { type: 'cleared', at: AT, by: 'alice' },
      safety_phrase: { type: 'safety_phrase', at: AT, phrase: 'one two three', members: 2 },
      error: { type: 'error', at: AT, code: 'command', message: 'no' },
      shutdown: { type: 'shutdown', at: AT },
      disconnected: { type: 'disconnected', at: AT, reason: 'reset', pending: 2 },
      reconnecting: { type: 'reconnecting', at: AT, attempt: 1, delayMs: 500 },
      reconnected: { type: 'reconnected', at: AT, attempt: 1, missed: 0, pending: 0 },
      gap: { type: 'gap', at: AT, lost: 700, wiped: 3 },
      restarted: { type: 'restarted', at: AT },
    };
    assert.equal(JSON_SCHEMA_VERSION, 1);
    for (const ev of Object.values(samples)) {
      const line = eventToJson(ev);
      assert.ok(line.startsWith(`{"v":1,"type":"${ev.type}"`), line);
      const inRoom = eventToJson(ev, 'ops');
      assert.ok(inRoom.startsWith(`{"v":1,"room":"ops","type":"${ev.type}"`), inRoom);
      assert.deepEqual(JSON.parse(inRoom), { ...JSON.parse(line), room: 'ops' });
    }
    // The lines that are not chat events (the output of /who and the like) too.
    assert.equal(
      jsonLine({ type: 'info', time: TIME, text: 'x' }),
      `{"v":1,"type":"info","time":"${TIME}","text":"x"}`,
    );
  });

  it('preserves hostile strings exactly while keeping the raw line inert', () => {
    const body = 'a\x1b]0;t\x07\u009b2J\u202e\u200d\x7f\r\n\ud800\u2028z';
    const line = eventToJson({ ...base, body, username: 'x\u009dy' });
    assert.doesNotMatch(line, /[\x00-\x1f\x7f-\x9f\u202e\u2028]|\u200d/);
    assert.doesNotMatch(line, /[\ud800-\udfff]/);
    const o = JSON.parse(line) as Record<string, unknown>;
    assert.equal(o['text'], body);
    assert.equal(o['user'], 'x\u009dy');
  });

  it('gives a null time for an invalid timestamp instead of throwing', () => {
    assert.equal(roundTrip({ type: 'cleared', at: Number.NaN, by: 'a' })['time'], null);
    assert.equal(roundTrip({ type: 'cleared', at: 1e300, by: 'a' })['time'], null);
  });
});
