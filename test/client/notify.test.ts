/**
 * notify: focus reports are recognised and removed even when split across reads, and no
 * hostile text can end our title/notification sequences early or inject fields.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FOCUS_REPORTING_OFF,
  FOCUS_REPORTING_ON,
  FocusTracker,
  NOTIFY_BODY_MAX,
  notificationSequence,
  notifySendArgs,
  pickNotifier,
  setTitle,
  TITLE_MAX,
  UnreadCounter,
} from '../../lib/client/repl/notify.js';

const HOSTILE = [
  'x\x07\x1b]0;owned\x07',
  'a\x1b\\b\u009cc',
  'semi;colons;everywhere',
  'line\nbreak\rcr',
  '\x1b[2J\x1bc',
  '\u009d0;t\u009c',
  '\u202eevil\u200d',
  'x\ud800',
];

// Our sequence must be: ESC ] <digits> ; <printable text without BEL/ESC/C1/C0> BEL, nothing else.
function assertSingleOsc(seq: string, code: string): string {
  const m = /^\x1b\](\d+);([^\x00-\x1f\x7f-\x9f]*)\x07$/.exec(seq);
  assert.ok(m, `not a single clean OSC: ${JSON.stringify(seq)}`);
  assert.equal(m[1], code);
  assert.doesNotMatch(m[2]!, /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
  return m[2]!;
}

describe('FocusTracker', () => {
  it('has the xterm focus-reporting mode sequences', () => {
    assert.equal(FOCUS_REPORTING_ON, '\x1b[?1004h');
    assert.equal(FOCUS_REPORTING_OFF, '\x1b[?1004l');
  });

  it('recognises and removes focus reports', () => {
    const changes: boolean[] = [];
    const t = new FocusTracker((f) => changes.push(f));
    assert.equal(t.focused, true);
    assert.equal(t.feed('ab\x1b[Ocd'), 'abcd');
    assert.equal(t.focused, false);
    assert.equal(t.feed('\x1b[I'), '');
    assert.equal(t.focused, true);
    assert.deepEqual(changes, [false, true]);
  });

  it('leaves other escape sequences (arrow keys) alone', () => {
    const t = new FocusTracker();
    assert.equal(
      t.feed('\x1b[A\x1b[B\x1b[1;5C\x1b[200~x\x1b[201~'),
      '\x1b[A\x1b[B\x1b[1;5C\x1b[200~x\x1b[201~',
    );
    assert.equal(t.focused, true);
  });

  it('handles a report split across chunks at every point', () => {
    for (const seq of ['\x1b[O', '\x1b[I']) {
      for (let cut = 1; cut < seq.length; cut++) {
        const t = new FocusTracker();
        if (seq === '\x1b[I') t.feed('\x1b[O');
        const a = t.feed('hello' + seq.slice(0, cut));
        const b = t.feed(seq.slice(cut) + 'world');
        assert.equal(a + b, 'helloworld');
        assert.equal(t.focused, seq === '\x1b[I');
      }
    }
  });

  it('handles a report split into single characters', () => {
    const t = new FocusTracker();
    let out = '';
    for (const ch of 'a\x1b[Ob\x1b[Ic\x1b[O') out += t.feed(ch);
    assert.equal(out, 'abc');
    assert.equal(t.focused, false);
  });

  it('releases a held lone Escape on flush or with the next chunk', () => {
    const t = new FocusTracker();
    assert.equal(t.feed('x\x1b'), 'x');
    assert.equal(t.hasPending, true);
    assert.equal(t.flush(), '\x1b');
    assert.equal(t.hasPending, false);
    assert.equal(t.feed('\x1b'), '');
    assert.equal(t.feed('q'), '\x1bq');
    assert.equal(t.feed('\x1b['), '');
    assert.equal(t.feed('D'), '\x1b[D');
  });
});

describe('setTitle', () => {
  it('builds an OSC 0 title', () => {
    assert.equal(setTitle('(3) cmd-chat #room'), '\x1b]0;(3) cmd-chat #room\x07');
  });

  it('cannot be broken out of', () => {
    for (const s of HOSTILE) assertSingleOsc(setTitle(s), '0');
  });

  it('bounds the length without splitting a surrogate pair', () => {
    const text = assertSingleOsc(setTitle('🎉'.repeat(500)), '0');
    assert.equal(Array.from(text).length, TITLE_MAX);
    assert.ok(text.endsWith('…'));
  });
});

describe('notificationSequence', () => {
  it('builds OSC 9 and OSC 777', () => {
    assert.equal(notificationSequence('cmd-chat', 'alice: hi bob', 'osc9'), '\x1b]9;alice: hi bob\x07');
    assert.equal(
      notificationSequence('cmd-chat #room', 'alice: hi bob', 'osc777'),
      '\x1b]777;notify;cmd-chat #room;alice: hi bob\x07',
    );
  });

  it('cannot be broken out of with hostile text', () => {
    for (const s of HOSTILE) {
      assertSingleOsc(notificationSequence(s, s, 'osc9'), '9');
      const payload = assertSingleOsc(notificationSequence(s, s, 'osc777'), '777');
      assert.equal(payload.split(';').length, 3, 'exactly notify;title;body');
      assert.equal(payload.split(';')[0], 'notify');
    }
  });

  it('keeps an OSC 9 body from looking like a ConEmu sub-command', () => {
    assert.equal(notificationSequence('t', '4;3;100', 'osc9'), '\x1b]9; 4;3;100\x07');
  });

  it('bounds the body', () => {
    const body = assertSingleOsc(notificationSequence('t', 'x'.repeat(5000), 'osc9'), '9');
    assert.equal(body.length, NOTIFY_BODY_MAX);
  });
});

describe('notifySendArgs', () => {
  it('ends options before the text and escapes markup', () => {
    assert.deepEqual(notifySendArgs('-u critical', '<a href="x">click</a> & more'), [
      '--app-name=cmd-chat',
      '--',
      '-u critical',
      '&lt;a href="x"&gt;click&lt;/a&gt; &amp; more',
    ]);
  });

  it('sanitises the text', () => {
    for (const s of HOSTILE) {
      for (const a of notifySendArgs(s, s)) assert.doesNotMatch(a, /[\x00-\x1f\x7f-\x9f\u202e\u200d]/);
    }
  });
});

describe('pickNotifier', () => {
  const linux = (env: NodeJS.ProcessEnv, has = true): string => pickNotifier(env, 'linux', has);

  it('follows the documented table', () => {
    assert.equal(pickNotifier({ TERM_PROGRAM: 'iTerm.app' }, 'darwin', false), 'osc9');
    assert.equal(pickNotifier({ TERM_PROGRAM: 'WezTerm' }, 'linux', true), 'osc9');
    assert.equal(linux({ TERM: 'xterm-kitty' }), 'osc9');
    assert.equal(linux({ KITTY_WINDOW_ID: '1', TERM: 'xterm-256color' }), 'osc9');
    assert.equal(linux({ TERM: 'foot' }), 'osc777');
    assert.equal(linux({ TERM: 'rxvt-unicode-256color' }), 'osc777');
    assert.equal(linux({ VTE_VERSION: '7600', TERM: 'xterm-256color' }), 'notify-send');
    assert.equal(linux({ VTE_VERSION: '7600' }, false), 'osc777');
    assert.equal(linux({ TERM: 'xterm-256color' }), 'notify-send');
    assert.equal(linux({ TERM: 'xterm-256color' }, false), 'osc9');
    assert.equal(pickNotifier({ TERM_PROGRAM: 'Apple_Terminal' }, 'darwin', false), 'osc9');
    assert.equal(pickNotifier({}, 'win32', false), 'none');
  });

  it('prefers a terminal escape over SSH', () => {
    assert.equal(linux({ TERM: 'xterm-256color', SSH_CONNECTION: '1 2 3 4' }), 'osc9');
    assert.equal(linux({ VTE_VERSION: '7600', SSH_TTY: '/dev/pts/1' }), 'osc777');
  });

  it('does not send OSC into tmux or screen', () => {
    assert.equal(linux({ TMUX: '/tmp/tmux', TERM_PROGRAM: 'iTerm.app' }), 'notify-send');
    assert.equal(linux({ STY: '1.pts' }, false), 'none');
    assert.equal(pickNotifier({ TMUX: 'x' }, 'darwin', true), 'none');
  });
});

describe('UnreadCounter', () => {
  it('counts only while unfocused and resets on focus', () => {
    const u = new UnreadCounter('cmd-chat #room');
    assert.equal(u.record(false), false);
    assert.equal(u.title(), 'cmd-chat #room');
    u.setFocused(false);
    assert.equal(u.record(false), true);
    u.record(true);
    u.record(false);
    assert.equal(u.unread, 3);
    assert.equal(u.title(), '(3) cmd-chat #room');
    assert.equal(u.setFocused(true), true);
    assert.equal(u.unread, 0);
    assert.equal(u.title(), 'cmd-chat #room');
    assert.equal(u.setFocused(true), false);
  });

  it('counts only mentions in mentions mode', () => {
    const u = new UnreadCounter('t', 'mentions');
    u.setFocused(false);
    assert.equal(u.record(false), false);
    assert.equal(u.record(true), true);
    assert.equal(u.title(), '(1) t');
    u.setBase('t2');
    assert.equal(u.title(), '(1) t2');
  });
});
