/**
 * render: the shape of every event type, stable name colours, mentions, and that no event,
 * however hostile, can put an escape sequence on the screen other than our own SGR codes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stripSgr } from '../../lib/client/colors.js';
import type { ChatEvent, MessageEvent } from '../../lib/client/events.js';
import {
  formatTime,
  mentionsMe,
  NAME_PALETTE,
  nameColor,
  type RenderOptions,
  renderEvent,
  renderPlain,
} from '../../lib/client/render.js';
import { highlightFences, loadHighlighter } from '../../lib/client/repl/highlight.js';
import { columnsOf } from '../../lib/client/wrap.js';

// 2024-05-01 12:34:56 UTC; all expectations use the UTC zone so the machine's TZ is irrelevant.
const AT = Date.UTC(2024, 4, 1, 12, 34, 56);
const NOW = (): Date => new Date(AT + 60_000);
const OFF: RenderOptions = { color: false, me: 'bob', timeZone: 'UTC', now: NOW };
const ON: RenderOptions = { ...OFF, color: true };

function msg(over: Partial<MessageEvent> = {}): MessageEvent {
  return {
    type: 'message',
    id: 'm1',
    at: AT,
    userId: 'u1',
    username: 'alice',
    kind: 'text',
    body: 'hello',
    mine: false,
    history: false,
    undecryptable: false,
    ...over,
  };
}

// Our own SGR codes, removed with a strict pattern; whatever is left must not be escape-like.
const OUR_SGR = /\x1b\[[0-9;]*m/g;
const ESCAPE_LIKE =
  /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function assertInert(out: string, color: boolean): void {
  if (!color) assert.ok(!out.includes('\x1b'), `no ESC at all without colour: ${JSON.stringify(out)}`);
  const rest = out.replace(OUR_SGR, '');
  assert.doesNotMatch(rest, ESCAPE_LIKE, JSON.stringify(out));
}

const NASTY = [
  'hi\x1b]0;pwned\x07there',
  'a\x1b[2J\x1b[Hb\x1bc',
  'x\x1b[10;10H\x1b[1A\x1b[2K\x1b7\x1b8y',
  'a\u009b2Jb\u009d0;t\u0007',
  'a\x1bP+q544e\x1b\\b\u0090q\u009c',
  'before\x1b]0;never ends',
  'file\u202egnp.exe\u2066',
  'ad\u200dmin\u200b\ufeff',
  'n\x00u\x7fl\x07l',
  'safe\rrm -rf ~\b\b',
  'x\ud800y',
  'multi\nline\x1b[31m\nbody',
  '```js\nconst a = "\x1b]0;t\x07";\n```',
];

function hostileEvents(s: string): ChatEvent[] {
  return [
    msg({ body: s, username: s }),
    msg({ body: s, username: s, kind: 'me', mine: true }),
    msg({ body: s, username: 'bob', forgedFrom: s }),
    msg({ body: s, username: s, undecryptable: true }),
    msg({ body: `bob ${s} @bob`, username: s }),
    { type: 'join', at: AT, userId: 'u', username: s },
    { type: 'leave', at: AT, userId: 'u', username: s },
    { type: 'rename', at: AT, userId: 'u', old: s, new: s },
    { type: 'cleared', at: AT, by: s },
    { type: 'error', at: AT, code: s, message: s },
  ];
}

describe('renderEvent / renderPlain: hostile input', () => {
  it('renders every hostile event inert, with colour and without', async () => {
    await loadHighlighter();
    const hl = (b: string): string => highlightFences(b, true);
    for (const s of NASTY) {
      for (const ev of hostileEvents(s)) {
        assertInert(renderEvent(ev, OFF), false);
        assertInert(renderEvent(ev, { ...ON, highlight: hl }), true);
        assertInert(renderEvent(ev, { ...ON, me: s }), true);
        assertInert(renderPlain(ev, { timeZone: 'UTC' }), false);
      }
    }
  });

  it('shows an escape attempt visibly', () => {
    assert.equal(
      renderPlain(msg({ body: 'hi\x1b]0;pwned\x07there' }), { timeZone: 'UTC' }),
      '12:34 alice: hi␛there',
    );
  });

  it('never prints an empty name', () => {
    assert.equal(renderPlain(msg({ username: '\u200b\u200d' }), { timeZone: 'UTC' }), '12:34 (blank): hello');
  });
});

describe('renderEvent without colour', () => {
  const r = (ev: ChatEvent, o: Partial<RenderOptions> = {}): string => renderEvent(ev, { ...OFF, ...o });

  it('formats messages with a gutter', () => {
    assert.equal(r(msg()), '12:34   alice: hello');
    assert.equal(r(msg({ mine: true, username: 'bob' })), '12:34 » bob: hello');
    assert.equal(r(msg({ body: 'hey bob' })), '12:34 @ alice: hey bob');
  });

  it('formats /me as an action line', () => {
    assert.equal(r(msg({ kind: 'me', body: 'waves' })), '12:34   * alice waves');
    assert.equal(r(msg({ kind: 'me', body: 'waves', mine: true, username: 'bob' })), '12:34 » * bob waves');
  });

  it('formats system lines', () => {
    assert.equal(r({ type: 'join', at: AT, userId: 'u', username: 'alice' }), '12:34 -- alice joined');
    assert.equal(r({ type: 'leave', at: AT, userId: 'u', username: 'alice' }), '12:34 -- alice left');
    assert.equal(
      r({ type: 'rename', at: AT, userId: 'u', old: 'alice', new: 'carol' }),
      '12:34 -- alice is now carol',
    );
    assert.equal(r({ type: 'cleared', at: AT, by: 'alice' }), "12:34 -- alice wiped the room's history");
    assert.equal(r({ type: 'error', at: AT, code: 'rate', message: 'slow down' }), '12:34 ! slow down');
  });

  it('marks undecryptable and forged messages', () => {
    assert.equal(
      r(msg({ undecryptable: true, body: '' })),
      "12:34   alice: [cannot decrypt] (not sealed with this room's key)",
    );
    assert.equal(
      r(msg({ username: 'mallory', forgedFrom: 'alice' })),
      '12:34   mallory ⚠ claims to be "alice": hello',
    );
  });

  it('indents continuation lines under the text', () => {
    assert.equal(
      r(msg({ body: 'one\ntwo\nthree' })),
      '12:34   alice: one\n               two\n               three',
    );
    assert.equal(r(msg({ kind: 'me', body: 'a\nb' })), '12:34   * alice a\n                b');
  });

  it('caps the indent for very long names', () => {
    const out = r(msg({ username: 'x'.repeat(60), body: 'a\nb' }));
    assert.equal(out.split('\n')[1], `${' '.repeat(24)}b`);
  });

  it('adds the date for an event from another day', () => {
    assert.equal(r(msg(), { now: () => new Date(AT + 86_400_000) }), '2024-05-01 12:34   alice: hello');
  });

  it('uses the requested time zone', () => {
    assert.equal(r(msg(), { timeZone: 'Asia/Tokyo', now: () => new Date(AT) }), '21:34   alice: hello');
  });

  it('contains no escape at all', () => {
    assert.ok(
      !r(msg({ body: '```js\nlet x = 1;\n```' }), { highlight: (b) => `\x1b[31m${b}` }).includes('\x1b'),
    );
  });
});

describe('renderEvent with colour', () => {
  it('uses the member colour, bold for my own name', () => {
    const alice = renderEvent(msg(), ON);
    assert.ok(alice.includes(`\x1b[38;5;${nameColor('alice')}malice`));
    const mine = renderEvent(msg({ mine: true, username: 'bob' }), ON);
    assert.ok(mine.includes('\x1b[1m'));
    assert.equal(stripSgr(mine), '12:34 » bob: hello');
  });

  it('highlights mentions in inverse and keeps the text', () => {
    const out = renderEvent(msg({ body: 'hey @Bob and bob, not bobby' }), ON);
    assert.equal(stripSgr(out), '12:34 @ alice: hey @Bob and bob, not bobby');
    assert.equal(out.match(/\x1b\[7m/g)?.length, 2);
    assert.ok(out.includes('\x1b[7m\x1b[1m@Bob\x1b[22m\x1b[27m'));
  });

  it('dims system lines', () => {
    const out = renderEvent({ type: 'join', at: AT, userId: 'u', username: 'alice' }, ON);
    assert.ok(out.includes('\x1b[2m-- alice joined\x1b[22m'));
  });

  it('applies the injected highlighter to the body only', () => {
    const out = renderEvent(msg({ body: 'code' }), { ...ON, highlight: (b) => `\x1b[33m${b}\x1b[39m` });
    assert.ok(out.endsWith('\x1b[33mcode\x1b[39m'));
  });

  it('ignores a highlighter that adds anything but SGR codes', () => {
    const out = renderEvent(msg({ body: 'code' }), { ...ON, highlight: (b) => `\x1b]0;t\x07${b}` });
    assert.ok(out.endsWith(': code'));
    const changed = renderEvent(msg({ body: 'code' }), { ...ON, highlight: () => '\x1b[31mother\x1b[39m' });
    assert.ok(changed.endsWith(': code'));
  });

  it('does not paint a mention inside an SGR code', () => {
    const out = renderEvent(msg({ body: 'x' }), { ...ON, me: '33m', highlight: () => '\x1b[33mx\x1b[39m' });
    assert.ok(out.endsWith('\x1b[33mx\x1b[39m'));
  });
});

describe('renderPlain', () => {
  const p = (ev: ChatEvent): string => renderPlain(ev, { timeZone: 'UTC' });
  it('uses the pipe format', () => {
    assert.equal(p(msg()), '12:34 alice: hello');
    assert.equal(p(msg({ mine: true })), '12:34 alice: hello');
    assert.equal(p(msg({ kind: 'me', body: 'waves' })), '12:34 * alice waves');
    assert.equal(p({ type: 'join', at: AT, userId: 'u', username: 'alice' }), '12:34 -- alice joined');
    assert.equal(p({ type: 'leave', at: AT, userId: 'u', username: 'alice' }), '12:34 -- alice left');
    assert.equal(p({ type: 'rename', at: AT, userId: 'u', old: 'a', new: 'b' }), '12:34 -- a is now b');
    assert.equal(p({ type: 'cleared', at: AT, by: 'alice' }), "12:34 -- alice wiped the room's history");
    assert.equal(p({ type: 'error', at: AT, code: 'x', message: 'oops' }), '12:34 ! oops');
    assert.equal(p(msg({ undecryptable: true, body: '' })), '12:34 alice: [cannot decrypt]');
    assert.equal(p(msg({ forgedFrom: 'carol' })), '12:34 alice (claims to be "carol"): hello');
  });

  it('indents continuation lines by two spaces, empty ones included', () => {
    assert.equal(p(msg({ body: 'one\n\ntwo' })), '12:34 alice: one\n  \n  two');
    for (const line of p(msg({ body: 'a\nb\n\nc' }))
      .split('\n')
      .slice(1))
      assert.ok(line.startsWith('  '));
  });

  it('shows a bad timestamp as --:--', () => {
    assert.equal(p(msg({ at: Number.NaN })), '--:-- alice: hello');
    assert.equal(p(msg({ at: 1e300 })), '--:-- alice: hello');
  });
});

describe('connection status lines', () => {
  it('the first attempt says the connection was lost; later ones why the last attempt failed', () => {
    const first: ChatEvent = { type: 'reconnecting', at: AT, attempt: 1, delayMs: 4000 };
    assert.equal(renderPlain(first, OFF), '12:34 -- connection lost, reconnecting in 4 s (attempt 1)…');
    const later: ChatEvent = {
      type: 'reconnecting',
      at: AT,
      attempt: 3,
      delayMs: 12_400,
      reason: 'cannot connect to 127.0.0.1:7000: connection refused\x1b[2J',
    };
    assert.equal(
      stripSgr(renderEvent(later, OFF)),
      '12:34 -- still unreachable (cannot connect to 127.0.0.1:7000: connection refused␛), reconnecting in 12 s (attempt 3)…',
    );
  });
});

describe('nameColor', () => {
  it('is stable, case-insensitive and in the palette', () => {
    assert.equal(nameColor('alice'), nameColor('alice'));
    assert.equal(nameColor('Alice'), nameColor('ALICE'));
    for (const n of ['alice', 'bob', 'carol', 'dave', 'eve', '李雷', '🎉'])
      assert.ok(NAME_PALETTE.includes(nameColor(n)));
  });

  it('is a fixed function of the name (same colour across runs)', () => {
    // FNV-1a-32 of "alice" is 0x872213e7 (2267157479); 2267157479 mod 12 = 11.
    assert.equal(nameColor('alice'), NAME_PALETTE[11]);
  });

  it('spreads names over the palette', () => {
    const used = new Set<number>();
    for (let i = 0; i < 200; i++) used.add(nameColor(`user${i}`));
    assert.ok(used.size >= 10, `only ${used.size} colours used`);
  });
});

describe('mentionsMe', () => {
  it('matches my name as a word, case-insensitively, with or without @', () => {
    for (const body of ['bob', 'hi bob!', 'Hey BOB', '@bob look', 'ping @Bob.', 'bob: here', '(bob)']) {
      assert.equal(mentionsMe(msg({ body }), 'bob'), true, body);
    }
  });

  it('does not match inside other words', () => {
    for (const body of ['bobby', 'kabob', 'bob_2', 'mail me at x@bob', 'bob2', '']) {
      assert.equal(mentionsMe(msg({ body }), 'bob'), false, body);
    }
  });

  it('ignores my own, history, undecryptable and non-message events', () => {
    assert.equal(mentionsMe(msg({ body: 'bob', mine: true }), 'bob'), false);
    assert.equal(mentionsMe(msg({ body: 'bob', history: true }), 'bob'), false);
    assert.equal(mentionsMe(msg({ body: 'bob', undecryptable: true }), 'bob'), false);
    assert.equal(mentionsMe({ type: 'join', at: AT, userId: 'u', username: 'bob' }, 'bob'), false);
  });

  it('handles names with regex characters and non-ASCII', () => {
    assert.equal(mentionsMe(msg({ body: 'hi a.b+c' }), 'a.b+c'), true);
    assert.equal(mentionsMe(msg({ body: 'hi axb+c' }), 'a.b+c'), false);
    assert.equal(mentionsMe(msg({ body: 'salut José' }), 'josé'), true);
    assert.equal(mentionsMe(msg({ body: 'anything' }), ''), false);
  });

  it('sees through invisible characters hiding a mention', () => {
    assert.equal(mentionsMe(msg({ body: 'b\u200bob' }), 'bob'), true);
  });
});

describe('formatTime / column widths', () => {
  it('formats 24 h time', () => {
    assert.equal(formatTime(Date.UTC(2024, 0, 1, 0, 5), 'UTC'), '00:05');
    assert.equal(formatTime(Date.UTC(2024, 0, 1, 23, 59), 'UTC'), '23:59');
    const d = new Date(2024, 0, 1, 7, 8);
    assert.equal(formatTime(d.getTime()), '07:08');
  });

  it('counts wide characters as two columns', () => {
    assert.equal(columnsOf('abc'), 3);
    assert.equal(columnsOf('李雷'), 4);
    assert.equal(columnsOf('e\u0301'), 1);
    assert.equal(columnsOf('🎉'), 2);
  });
});
