/**
 * Turns one ChatEvent into the text shown to a person (renderEvent: REPL, optionally coloured)
 * or to a script (renderPlain: pipe mode). Every string from the network goes through
 * sanitize first, so whatever an event contains, the result is safe to print; with colour off
 * it contains no escape sequence at all, with colour on only the SGR codes of colors.ts (plus
 * those of the injected highlighter, which highlight.ts checks).
 *
 * REPL line shapes (colour off; the gutter after the time marks whose line it is; after
 * another member's name its trust mark: ✓ verified, ? unverified, ✗ KEY CHANGED):
 *   12:34   alice ✓: hello          someone else (verified)
 *   12:34 » bob: hi                 mine (colour: bold name)
 *   12:34 @ alice: hey bob          mentions me (colour: the mention in inverse)
 *   12:34   * alice waves           /me action
 *   12:34   mallory ⚠ claims to be "alice": …   `from` differs from the daemon's attribution
 *   12:34   alice: [cannot decrypt] (not sealed with this room's key)
 *   12:34 -- alice joined / left / is now bob / wiped the room's history   (colour: dim)
 *   12:34 ! message                 error (colour: red)
 *   12:34 ✉ (private) alice ? → you: hi   a private message (`you → bob ✓` for ours)
 *   12:34 -- safety phrase: nine words …   the room's safety phrase (when it changes)
 * An event from another day than `now` gets its date: `2024-05-01 12:34`. Continuation lines
 * of a multi-line body are indented to where the text starts (at most MAX_INDENT columns).
 *
 * Pipe format (renderPlain), stable for scripts: `HH:MM name: text`, `HH:MM * name text`,
 * `HH:MM (private) alice → you: text`, `HH:MM (private) you → bob: text`,
 * `HH:MM -- alice joined`, `HH:MM ! message`, `HH:MM -- safety phrase: words`; a member whose
 * key is not the one pinned or verified for its name gets ` (key changed)` after its name
 * (the other trust states are not marked there: see --json); newlines inside a body are kept and each
 * continuation line starts with two spaces, so a line that does not start with a space
 * always starts a new event.
 */
import { type Colors, createColors, SGR_PATTERN } from './colors.js';
import type { ChatEvent, ConnectionEvent, MessageEvent, PrivateEvent } from './events.js';
import { sanitizeBody, sanitizeName } from './sanitize.js';
import type { TrustState } from './session/member-keys.js';

export interface RenderOptions {
  color: boolean;
  /** My current name, for marking mentions. */
  me: string;
  /** IANA zone for timestamps; the machine's local zone when absent. */
  timeZone?: string;
  /** The current time, to decide whether an event needs its date. */
  now?: () => Date;
  /** Applied to a sanitised body when colour is on (e.g. fence highlighting). */
  highlight?: (body: string) => string;
  /** Text to highlight in the body (a /search match), case-insensitive; colour only. */
  mark?: string;
  /**
   * The terminal's layout (wrap.ts, loaded with the REPL): measures columns and word-wraps
   * bodies with a hanging indent. Without it nothing is wrapped and a character is a column.
   */
  layout?: TextLayout;
}

/** How text is measured and wrapped on the terminal (implemented in wrap.ts). */
export interface TextLayout {
  readonly columns: number;
  width(s: string): number;
  wrapBody(body: string, start: number, indent: number, columns: number): string;
}

// Without a layout: one column per code point, SGR codes excluded.
function roughWidth(s: string): number {
  return [...s.replace(new RegExp(SGR_PATTERN.source, 'g'), '')].length;
}

export interface PlainOptions {
  timeZone?: string;
}

/** Continuation lines are never indented further than this. */
export const MAX_INDENT = 24;

/**
 * Readable 256-colour foregrounds for member names, on dark and light backgrounds alike;
 * reds are left out so a name never looks like an error.
 */
export const NAME_PALETTE: readonly number[] = [33, 37, 71, 98, 130, 134, 136, 166, 169, 31, 64, 61];

/** The palette entry for a name: FNV-1a over the case-folded name, so stable across runs. */
export function nameColor(name: string): number {
  const folded = name.normalize('NFKC').toLowerCase();
  let h = 0x811c9dc5;
  for (let i = 0; i < folded.length; i++) {
    h ^= folded.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return NAME_PALETTE[h % NAME_PALETTE.length]!;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function partsIn(at: number, timeZone: string): Record<string, string> {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  const out: Record<string, string> = {};
  for (const p of f.formatToParts(new Date(at))) out[p.type] = p.value;
  return out;
}

const pad = (n: number): string => String(n).padStart(2, '0');

function validTime(at: number): boolean {
  return Number.isFinite(at) && Math.abs(at) <= 8.64e15;
}

/** `HH:MM` (24 h) in `timeZone` or the local zone; `--:--` for a timestamp that is not a date. */
export function formatTime(at: number, timeZone?: string): string {
  if (!validTime(at)) return '--:--';
  if (timeZone !== undefined) {
    const p = partsIn(at, timeZone);
    return `${p['hour']}:${p['minute']}`;
  }
  const d = new Date(at);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function formatDay(at: number, timeZone?: string): string {
  if (!validTime(at)) return '';
  if (timeZone !== undefined) {
    const p = partsIn(at, timeZone);
    return `${p['year']}-${p['month']}-${p['day']}`;
  }
  const d = new Date(at);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Shown for a name that sanitising left empty (it was all invisible characters). */
const BLANK_NAME = '(blank)';

function safeName(s: string): string {
  const n = sanitizeName(s);
  return n === '' ? BLANK_NAME : n;
}

const mentionCache = new Map<string, RegExp>();

// Word boundaries by Unicode letter/number, so "bob" matches in "hi bob!" and "@Bob" but not
// in "bobby" or "alice@bob.org"-style words.
function mentionPattern(me: string): RegExp | undefined {
  const name = sanitizeName(me).trim();
  if (name === '') return undefined;
  let re = mentionCache.get(name);
  if (!re) {
    // Only syntax characters may be escaped under the u flag ("\\-" would be an error).
    const escaped = name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    re = new RegExp(`(?<![\\p{L}\\p{N}_@])@?${escaped}(?![\\p{L}\\p{N}_])`, 'giu');
    if (mentionCache.size > 16) mentionCache.clear();
    mentionCache.set(name, re);
  }
  re.lastIndex = 0;
  return re;
}

/**
 * True when a message from someone else, received live (not replayed history) and readable,
 * names me: my name as a word, case-insensitive, with or without "@". For the bell and
 * desktop notifications.
 */
export function mentionsMe(ev: ChatEvent, me: string): boolean {
  if (ev.type !== 'message' || ev.mine || ev.history || ev.undecryptable) return false;
  const re = mentionPattern(me);
  if (!re) return false;
  return re.test(sanitizeBody(ev.body));
}

function containsMention(body: string, me: string): boolean {
  const re = mentionPattern(me);
  return re ? re.test(body) : false;
}

// Paints mentions only in the text between SGR codes, so a name can never match inside (and
// break) an escape sequence the highlighter produced.
function markMentions(text: string, me: string, c: Colors): string {
  const re = mentionPattern(me);
  if (!re || !c.enabled) return text;
  return paintOutsideSgr(text, re, (x) => c.inverse(c.bold(x)));
}

function paintOutsideSgr(text: string, re: RegExp, paint: (match: string) => string): string {
  const sgr = new RegExp(SGR_PATTERN.source, 'g');
  let out = '';
  let last = 0;
  for (const m of text.matchAll(sgr)) {
    out += text.slice(last, m.index).replace(re, paint);
    out += m[0];
    last = m.index + m[0].length;
  }
  return out + text.slice(last).replace(re, paint);
}

// A search match in the body: reversed yellow, so it differs from a mention.
function markSearch(text: string, mark: string | undefined, c: Colors): string {
  if (!mark || !c.enabled) return text;
  const re = new RegExp(mark.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), 'giu');
  return paintOutsideSgr(text, re, (x) => c.inverse(c.yellow(x)));
}

// Every continuation line gets the indent, empty ones too, so in the pipe format a line that
// does not start with a space always starts a new event.
function indentContinuation(text: string, indent: number): string {
  if (!text.includes('\n')) return text;
  return text.split('\n').join('\n' + ' '.repeat(indent));
}

// Defence in depth: the injected highlighter may only add SGR codes; if anything else differs
// from the sanitised body, its output is ignored.
function trustedPaint(body: string, painted: string): string {
  return painted.replace(SGR_PATTERN, '') === body ? painted : body;
}

function timePrefix(at: number, opts: RenderOptions): string {
  const time = formatTime(at, opts.timeZone);
  const now = (opts.now ?? (() => new Date()))();
  const today = formatDay(now.getTime(), opts.timeZone);
  const day = formatDay(at, opts.timeZone);
  return day !== '' && day !== today ? `${day} ${time}` : time;
}

function renderMessage(ev: MessageEvent, opts: RenderOptions, c: Colors): string {
  const time = timePrefix(ev.at, opts);
  const name = safeName(ev.username);
  const body = ev.undecryptable ? '' : sanitizeBody(ev.body);
  const mention = !ev.mine && !ev.undecryptable && containsMention(body, opts.me);
  const gutter = ev.mine ? c.bold('»') : mention ? c.yellow(c.bold('@')) : ' ';
  const styledName = ev.mine ? c.bold(c.fg256(nameColor(name))(name)) : c.fg256(nameColor(name))(name);
  const claim =
    ev.forgedFrom !== undefined ? ' ' + c.yellow(c.bold(`⚠ claims to be "${safeName(ev.forgedFrom)}"`)) : '';
  const forged = trustFlag(ev.trust, c) + claim + signatureFlag(ev, c);

  let text: string;
  if (ev.undecryptable) {
    text = c.red('[cannot decrypt]') + ' ' + c.dim("(not sealed with this room's key)");
  } else {
    const painted = c.enabled && opts.highlight ? trustedPaint(body, opts.highlight(body)) : body;
    text = markSearch(markMentions(painted, opts.me, c), opts.mark, c);
  }

  const head =
    ev.kind === 'me' && !ev.undecryptable
      ? `${c.dim(time)} ${gutter} ${c.italic('*')} ${styledName}${forged} `
      : `${c.dim(time)} ${gutter} ${styledName}${forged}: `;
  const layout = opts.layout;
  const start = layout ? layout.width(head) : roughWidth(head);
  const indent = Math.min(start, MAX_INDENT);
  if (layout && layout.columns > 0) return head + layout.wrapBody(text, start, indent, layout.columns);
  return head + indentContinuation(text, indent);
}

/**
 * The trust marks, plain glyphs so they survive NO_COLOR and TERM=dumb: `✓` verified (pinned
 * or /verify'd), `?` unverified, `✗ KEY CHANGED` (another key than the one pinned or verified).
 */
export const TRUST_MARKS: Readonly<Record<TrustState, string>> = {
  verified: '✓',
  unverified: '?',
  changed: '✗ KEY CHANGED',
};

/** ` ✓` / ` ?` / ` ✗ KEY CHANGED` after a name (coloured when colour is on); '' without a state. */
function trustFlag(trust: TrustState | undefined, c: Colors): string {
  if (trust === undefined) return '';
  const mark = TRUST_MARKS[trust];
  if (trust === 'verified') return ` ${c.cyan(c.bold(mark))}`;
  return trust === 'unverified' ? ` ${c.dim(mark)}` : ` ${c.red(c.bold(mark))}`;
}

const SIGNATURE_WORDS = { unsigned: 'unsigned', invalid: 'bad signature', no_card: 'no key' } as const;

/**
 * The words for a message whose author is not proven by a signature ('' when it is). History
 * from a member who has left cannot be checked (its card left with it): "unverified", quietly.
 */
function signatureWords(ev: MessageEvent): string {
  if (ev.signature === undefined || ev.signature === 'valid') return '';
  return ev.signature === 'no_card' && ev.history ? 'unverified' : SIGNATURE_WORDS[ev.signature];
}

/** The REPL's mark: dim for unsigned or unverifiable history, loud for a failed check. */
function signatureFlag(ev: MessageEvent, c: Colors): string {
  const words = signatureWords(ev);
  // The trust mark `?` already says it.
  if (words === '' || (words === 'unverified' && ev.trust === 'unverified')) return '';
  const quiet = ev.signature === 'unsigned' || (ev.signature === 'no_card' && ev.history);
  return quiet ? ` ${c.dim(`(${words})`)}` : ` ${c.red(c.bold(`⚠ ${words}`))}`;
}

/** The line members see when the daemon stops. */
const SHUTDOWN_TEXT = 'the daemon is shutting down';

/** One event as REPL text (may span several lines; no trailing newline). */
export function renderEvent(ev: ChatEvent, opts: RenderOptions): string {
  const c = createColors(opts.color);
  if (ev.type === 'message') return renderMessage(ev, opts, c);
  const time = c.dim(timePrefix(ev.at, opts));
  switch (ev.type) {
    case 'private': {
      const head = `${time} ${c.cyan(c.bold('✉'))} ${c.cyan(privateHead(ev, (t) => trustFlag(t, c)))}: `;
      const text = ev.undecryptable
        ? c.red('[cannot decrypt: not sealed for you by that member]')
        : sanitizeBody(ev.body);
      return head + indentContinuation(text, Math.min((opts.layout?.width ?? roughWidth)(head), MAX_INDENT));
    }
    case 'join':
      return `${time} ${c.dim(`-- ${safeName(ev.username)} joined`)}`;
    case 'leave':
      return `${time} ${c.dim(`-- ${safeName(ev.username)} left`)}`;
    case 'rename':
      return `${time} ${c.dim(`-- ${safeName(ev.old)} is now ${safeName(ev.new)}`)}`;
    case 'cleared':
      return `${time} ${c.dim(`-- ${safeName(ev.by)} wiped the room's history`)}`;
    case 'safety_phrase':
      return `${time} ${c.cyan(`-- ${safetyText(ev.phrase, ev.members)}`)}`;
    case 'shutdown':
      return `${time} ${c.dim(`-- ${SHUTDOWN_TEXT}`)}`;
    case 'error': {
      const head = `${time} `;
      const indent = Math.min((opts.layout?.width ?? roughWidth)(head) + 2, MAX_INDENT);
      return head + c.red(indentContinuation(`! ${sanitizeBody(ev.message)}`, indent));
    }
    case 'disconnected':
    case 'reconnecting':
      return `${time} ${c.yellow(connectionStatusText(ev))}`;
    case 'reconnected':
      return `${time} ${c.cyan(connectionStatusText(ev))}`;
    case 'gap':
      return `${time} ${(ev.lost > 0 ? c.red : c.yellow)(connectionStatusText(ev))}`;
    case 'restarted':
      return `${time} ${c.yellow(connectionStatusText(ev))}`;
  }
}

/** A delay for humans: tenths under 10 s, whole seconds above. */
function seconds(ms: number): string {
  return ms < 10_000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms / 1000)} s`;
}

/** The status line of a connection event (no time, no colour). */
export function connectionStatusText(ev: ConnectionEvent): string {
  switch (ev.type) {
    case 'disconnected':
      return `-- connection lost (${sanitizeBody(ev.reason)})${
        ev.pending > 0 ? `; ${ev.pending} line${ev.pending === 1 ? '' : 's'} pending` : ''
      }`;
    case 'reconnecting':
      return `-- ${
        ev.reason === undefined ? 'connection lost' : `still unreachable (${sanitizeBody(ev.reason)})`
      }, reconnecting in ${seconds(ev.delayMs)} (attempt ${ev.attempt})…`;
    case 'reconnected':
      return `-- reconnected${ev.pending > 0 ? `; sending ${ev.pending} pending line${ev.pending === 1 ? '' : 's'}` : ''}${
        ev.missed > 0 ? ` -- ${ev.missed} missed message${ev.missed === 1 ? '' : 's'}:` : ''
      }`;
    case 'gap':
      return `-- ${[
        ev.lost > 0
          ? `${ev.lost} message${ev.lost === 1 ? ' was' : 's were'} lost while away (older than the daemon keeps)`
          : '',
        ev.wiped > 0 ? `${ev.wiped} message${ev.wiped === 1 ? ' was' : 's were'} wiped while away` : '',
      ]
        .filter((part) => part !== '')
        .join('; ')}`;
    case 'restarted':
      return `-- ${RESTARTED_TEXT}`;
  }
}

/** What a client can know when the room's log started over while it was away. */
export const RESTARTED_TEXT =
  'the room started over (the daemon restarted, or the room was emptied and created again): ' +
  'what was said while you were away is gone, how much is unknown';

/** The announcement of the room's safety phrase (/who says what to do with it). */
export function safetyText(phrase: string, members: number): string {
  return `safety phrase: ${sanitizeBody(phrase)} (${members} members)`;
}

/** `alice → you` or `you → bob`, for a private message, with the other member's trust mark. */
function privateHead(ev: PrivateEvent, mark: (trust: TrustState | undefined) => string): string {
  return ev.mine
    ? `(private) you → ${safeName(ev.to)}${mark(ev.trust)}`
    : `(private) ${safeName(ev.from)}${mark(ev.trust)} → you`;
}

/** The pipe format's only trust mark: the alarm. */
function plainChanged(trust: TrustState | undefined): string {
  return trust === 'changed' ? ' (key changed)' : '';
}

/** One event in the pipe format (no colour; may span several lines; no trailing newline). */
export function renderPlain(ev: ChatEvent, opts: PlainOptions = {}): string {
  const time = formatTime(ev.at, opts.timeZone);
  switch (ev.type) {
    case 'message': {
      const name = safeName(ev.username);
      const claim =
        plainChanged(ev.trust) +
        (ev.forgedFrom !== undefined ? ` (claims to be "${safeName(ev.forgedFrom)}")` : '') +
        (signatureWords(ev) !== '' ? ` (${signatureWords(ev)})` : '');
      if (ev.undecryptable) return `${time} ${name}${claim}: [cannot decrypt]`;
      const body = indentContinuation(sanitizeBody(ev.body), 2);
      return ev.kind === 'me' ? `${time} * ${name}${claim} ${body}` : `${time} ${name}${claim}: ${body}`;
    }
    case 'private': {
      const body = ev.undecryptable ? '[cannot decrypt]' : indentContinuation(sanitizeBody(ev.body), 2);
      return `${time} ${privateHead(ev, plainChanged)}: ${body}`;
    }
    case 'join':
      return `${time} -- ${safeName(ev.username)} joined`;
    case 'leave':
      return `${time} -- ${safeName(ev.username)} left`;
    case 'rename':
      return `${time} -- ${safeName(ev.old)} is now ${safeName(ev.new)}`;
    case 'cleared':
      return `${time} -- ${safeName(ev.by)} wiped the room's history`;
    case 'safety_phrase':
      return `${time} -- safety phrase: ${sanitizeBody(ev.phrase)}`;
    case 'shutdown':
      return `${time} -- ${SHUTDOWN_TEXT}`;
    case 'error':
      return `${time} ! ${indentContinuation(sanitizeBody(ev.message), 2)}`;
    case 'disconnected':
    case 'reconnecting':
    case 'reconnected':
    case 'gap':
    case 'restarted':
      return `${time} ${connectionStatusText(ev)}`;
  }
}
