/**
 * A client's session with a room: connect through a transport, run the handshake, join,
 * then send and receive over the sealed channel. It turns the daemon's frames into checked,
 * decrypted ChatEvents (own echo, replay, forged sender, undecryptable token) and knows
 * nothing of terminals.
 *
 * The session outlives its connection: when the connection is lost it reconnects by itself
 * (back-off with jitter, a give-up limit), authenticates again from what it kept in wipeable
 * Buffers, takes its name back with the resume secret the daemon issued at the last join,
 * shows what it missed from the history, and sends what was queued meanwhile. Messages carry
 * their id in the clear for the daemon (`mid`), which relays a resend only once.
 */
import { EventEmitter } from 'node:events';
import { ChannelOpener, ChannelSealer } from '../../crypto/channel.js';
import { type Envelope, newMessageId, openEnvelope, sealEnvelope } from '../../crypto/envelope.js';
import { Fernet } from '../../crypto/fernet.js';
import { roomFingerprint } from '../../crypto/kdf.js';
import { wipe } from '../../crypto/secret.js';
import { parseObject } from '../../protocol/codec.js';
import { ErrorText, isErrorCode, ProtocolError } from '../../protocol/errors.js';
import {
  type Member,
  type MessageData,
  messageTimeMs,
  readServerFrame,
  type ServerFrame,
} from '../../protocol/frames.js';
import {
  type ClientHandshakeResult,
  clientHandshake,
  type MasterCache,
  type ProtocolMode,
} from '../../protocol/handshake-client.js';
import { type ClientLimits, defaultClientLimits, defaultDaemonLimits } from '../../protocol/limits.js';
import type { ClientTransport, Connection } from '../../transport/transport.js';
import { TransportError } from '../../transport/transport.js';
import type { ChatEvent, MessageEvent } from '../events.js';
import { checkMessageSize } from '../message-size.js';
import { type BackoffPolicy, defaultBackoff, reconnectDelayMs } from './backoff.js';
import { RoomCursor } from './cursor.js';
import { SessionError } from './error.js';
import { DaemonWatch } from './keepalive.js';
import { LineQueue } from './line-queue.js';
import { MemberKeyring, type TrustState } from './member-keys.js';
import { openBareText, readV1Line, sealBareText } from './original.js';
import { Outbox, type Outgoing } from './outbox.js';
import { type PhraseSnapshot, SafetyPhraseTracker } from './safety-tracker.js';
import type { TrustPins } from './trust-pins.js';

export { SessionError, type SessionErrorCode } from './error.js';

export interface SessionOptions {
  transport: ClientTransport;
  room: string;
  password: string | Buffer;
  /** Open-rooms mode: create the room if it does not exist. */
  create?: boolean;
  /** Consent to join a legacy room of a v2 daemon (over v2; the room key is v1's). */
  legacy?: boolean;
  /**
   * Speak the original protocol (v1), for an original daemon: nothing sealed. It takes the
   * name during the handshake, so `username` is needed then. Never chosen by the daemon.
   */
  original?: boolean;
  username?: string;
  limits?: Partial<ClientLimits>;
  /** Progress for a spinner. */
  onStage?: (stage: 'connecting' | 'deriving' | 'verifying') => void;
  /**
   * Reconnect when the connection is lost after joining (default on; original-protocol
   * sessions never reconnect). `false`: the session ends at the first loss, as it used to.
   */
  reconnect?: boolean | Partial<BackoffPolicy>;
  /** Lines held while disconnected (queued plus unconfirmed); more are refused. */
  maxQueuedLines?: number;
  /** The long-term signing seed (`--identity`); per-session keys without it. */
  identitySeed?: Buffer;
  /** Pinned names and fingerprints (`--trust`). */
  trust?: TrustPins;
  /** A message whose echo is this late on a live connection is written again (ms; RESEND_AFTER_MS). */
  resendAfterMs?: number;
}

/** Largest token we send: the daemon's default limit on a message frame. */
export const MAX_TOKEN_CHARS = defaultDaemonLimits.maxMessageChars;

/** How many message ids are remembered to drop replays. */
const SEEN_IDS = 10_000;

/**
 * How many events are held for a UI that has not attached its listener yet; past this the
 * oldest are dropped (a session nobody listens to must not grow without bound).
 */
const MAX_UNDELIVERED_EVENTS = 10_000;

function toSessionError(err: unknown): SessionError {
  if (err instanceof SessionError) return err;
  if (err instanceof TransportError) {
    return new SessionError(err.code === 'bad_options' ? 'protocol' : 'cannot_connect', err.message);
  }
  if (err instanceof ProtocolError) {
    const code = err.code;
    if (code === 'auth_failed') return new SessionError('auth_failed', err.message, code);
    if (code === 'name_taken' || code === 'bad_name') return new SessionError(code, err.message, code);
    if (code === 'bad_request' || code === 'too_large')
      return new SessionError('protocol', err.message, code);
    return new SessionError('refused', err.message, code);
  }
  return new SessionError('protocol', err instanceof Error ? err.message : String(err));
}

export interface SessionEvents {
  event: [ChatEvent];
  /** The session ended; `error` says why (undefined after a local close). */
  close: [SessionError | undefined];
}

/** One connection of the session: its reader and the channel's keys. */
interface Wire {
  queue: LineQueue;
  sealer: ChannelSealer | undefined;
  opener: ChannelOpener | undefined;
  /** The keepalive on the daemon (absent against an original daemon, or with keepalive 0). */
  watch: DaemonWatch | undefined;
  /** The last error the daemon reported on this connection, and when (monotonic ms). */
  lastError: { error: SessionError; at: number } | undefined;
}

/**
 * An error frame followed this soon by the end of the connection is why the daemon closed
 * it: the session ends with that error instead of reconnecting to be refused again.
 */
const FATAL_ERROR_WINDOW_MS = 2000;

/**
 * A connection that lived less than this after a reconnect does not restart the count of
 * attempts: a daemon that admits us and then drops us each time is given up on, not retried forever.
 */
const STABLE_CONNECTION_MS = 10_000;

/** Messages written but not yet echoed, at most (the daemon remembers more ids than this). */
export const MAX_IN_FLIGHT = 256;

/** A message whose echo has not come this long after it was written is written again (ms). */
export const RESEND_AFTER_MS = 10_000;
/** How often messages in flight are looked at for an overdue echo (ms). */
const RESEND_CHECK_MS = 2_500;

/** Default bound on lines held while disconnected (queued plus unconfirmed). */
export const DEFAULT_MAX_QUEUED_LINES = 1000;

/** Lost connections the session recovers from (a refusal or a wrong password is final). */
function recoverable(err: SessionError): boolean {
  if (err.daemonCode === 'replaced') return false;
  return (
    err.code === 'connection_lost' ||
    err.code === 'cannot_connect' ||
    err.code === 'shutdown' ||
    err.code === 'protocol' ||
    (err.code === 'refused' && err.daemonCode === 'busy')
  );
}

/** The daemon's message id `<run prefix>-<n>` split, to tell what came after what we saw. */
function daemonSeq(id: string): { prefix: string; n: number } | undefined {
  const dash = id.lastIndexOf('-');
  if (dash <= 0) return undefined;
  const n = Number(id.slice(dash + 1));
  return Number.isSafeInteger(n) ? { prefix: id.slice(0, dash), n } : undefined;
}

/** The session's end, held until the events before it have been delivered. */
interface HeldClose {
  error: SessionError | undefined;
}

/** Why a command is not available against an original daemon. */
const V1_UNSUPPORTED = 'not supported by an original (v1) cmd-chat daemon';

export class ChatSession extends EventEmitter<SessionEvents> {
  readonly room: string;
  /** The room fingerprint of the first connection; a reconnect to another one is refused. */
  readonly fingerprint: string;
  /** How the room is protected: 'v2', 'legacy-room' (v1 room key) or 'v1' (no channel). */
  readonly mode: ProtocolMode;
  me: Member = { user_id: '', username: '' };
  private readonly members = new Map<string, string>();
  /** The current connection; undefined while reconnecting and after the end. */
  private wire: Wire | undefined;
  /** The history of an init that arrived before join() asked for it (v1 sends it unasked). */
  private earlyInit: MessageEvent[] | undefined;
  /** Older messages the daemon no longer held when we joined (its history is bounded). */
  historyOmitted = 0;
  private readonly fernet: Fernet;
  /** Per-session member keys and the others' cards; undefined against an original daemon. */
  readonly keyring: MemberKeyring | undefined;
  /** The room's safety phrase over the members' keys (with member keys only). */
  private readonly safety: SafetyPhraseTracker | undefined;
  private readonly seenIds = new Set<string>();
  /** The latest daemon message id seen: a rejoin's history after it is what we missed. */
  private lastSeq: { prefix: string; n: number } | undefined;
  /** Our messages not yet written (queued while disconnected, or beyond MAX_IN_FLIGHT). */
  private readonly outbox = new Outbox();
  /** Our place in the room's log (when the daemon numbers events). */
  private readonly cursor = new RoomCursor();
  /** Writes again, on a live connection, messages whose echo is overdue. */
  private resendTimer: NodeJS.Timeout | undefined;
  /** Our messages written and not yet echoed, in the order sent. */
  /** Sealed private messages whose receipt has not come back (never sent again). */
  private readonly privateUnechoed = new Set<string>();
  private echoWaiters: Array<() => void> = [];
  private writableWaiters: Array<() => void> = [];
  private pendingJoin:
    | { resolve: (history: MessageEvent[]) => void; reject: (err: SessionError) => void }
    | undefined;
  private pendingNick: { resolve: () => void; reject: (err: SessionError) => void } | undefined;
  private readonly pings = new Map<
    number,
    { resolve: (rtt: number) => void; reject: (e: SessionError) => void }
  >();
  private closed = false;
  private joined = false;
  /** Joined on the current connection (false while reconnecting). */
  private connected = false;
  /** The other member of the last private message sent or received. */
  private lastPrivatePeer: string | undefined;
  /**
   * Events (and the end) that came while nobody listened: frames that arrive in the same read
   * as `init` are handled before the caller of `join()` has resumed and attached its
   * listener. They are delivered, in order, as soon as a listener is attached.
   */
  private readonly undelivered: ChatEvent[] = [];
  private heldClose: HeldClose | undefined;
  private flushScheduled = false;
  /**
   * What a reconnect needs, in Buffers wiped at the end: the password (only used if the
   * daemon's salt changed), the master key for the current salt (skips scrypt), and the
   * resume secret of the last join. Undefined when the session does not reconnect.
   */
  private readonly secrets: { password: Buffer; master: MasterCache; resume: Buffer | undefined } | undefined;
  private readonly backoff: BackoffPolicy | undefined;
  private readonly maxQueued: number;
  private rejoinAttempt = 0;
  /** When the last reconnect succeeded (monotonic ms). */
  private rejoinedAt: number | undefined;
  /** Sleep between attempts, cut short by close(). */
  private retryTimer: { timer: NodeJS.Timeout; wake: () => void } | undefined;

  private constructor(
    private readonly options: SessionOptions,
    queue: LineQueue,
    result: ClientHandshakeResult,
    private readonly limits: ClientLimits,
    masterCache: MasterCache,
  ) {
    super();
    // 'newListener' fires before the listener is added: deliver once it is in place.
    (this as EventEmitter).on('newListener', (name: string | symbol) => {
      if (name === 'event' || name === 'close') this.scheduleFlush();
    });
    this.room = result.room;
    this.mode = result.mode;
    this.me.user_id = result.userId;
    this.me.username = options.username ?? '';
    this.fernet = new Fernet(result.roomKey);
    this.fingerprint = roomFingerprint(result.roomKey);
    if (result.mode === 'v2') {
      const { identitySeed, trust: pins } = options;
      this.keyring = new MemberKeyring(this.fernet, result.userId, { identitySeed, pins });
      this.safety = new SafetyPhraseTracker(
        () => this.phraseSnapshot(),
        (phrase, members) => this.emitEvent({ type: 'safety_phrase', at: Date.now(), phrase, members }),
      );
    }
    this.maxQueued = Math.max(1, options.maxQueuedLines ?? DEFAULT_MAX_QUEUED_LINES);
    // Only the v2 protocol can take a name back and recognise a resend.
    if (result.mode === 'v2' && options.reconnect !== false) {
      this.backoff = {
        ...defaultBackoff,
        ...(typeof options.reconnect === 'object' ? options.reconnect : {}),
      };
      const password = options.password;
      this.secrets = {
        password: typeof password === 'string' ? Buffer.from(password, 'utf8') : Buffer.from(password),
        master: masterCache,
        resume: undefined,
      };
    } else {
      wipe(masterCache.master, masterCache.salt);
    }
    this.attach(queue, result);
  }

  /** Connects and authenticates; the session is not in the room until `join()`. */
  static async open(options: SessionOptions): Promise<ChatSession> {
    const limits = { ...defaultClientLimits, ...options.limits };
    options.onStage?.('connecting');
    const masterCache: MasterCache = {};
    try {
      const { queue, result } = await ChatSession.authenticate(
        options,
        limits,
        masterCache,
        options.password,
      );
      options.onStage?.('verifying');
      return new ChatSession(options, queue, result, limits, masterCache);
    } catch (err) {
      wipe(masterCache.master);
      throw toSessionError(err);
    }
  }

  /** One connection and handshake; the caller owns the result's keys. */
  private static async authenticate(
    options: SessionOptions,
    limits: ClientLimits,
    masterCache: MasterCache,
    password: string | Buffer,
    legacy: boolean = options.legacy ?? false,
    original: boolean = options.original ?? false,
  ): Promise<{ queue: LineQueue; result: ClientHandshakeResult }> {
    let conn: Connection;
    try {
      conn = await options.transport.connect();
    } catch (err) {
      throw toSessionError(err);
    }
    const queue = new LineQueue(conn, limits.maxHandshakeLineBytes);
    try {
      const result = await clientHandshake(
        {
          send: (frame) => conn.stream.write(JSON.stringify(frame) + '\n'),
          next: async () => parseObject(await queue.next(limits.stepTimeoutMs)),
        },
        {
          room: options.room,
          password,
          create: options.create ?? false,
          legacy,
          original,
          ...(options.username !== undefined ? { username: options.username } : {}),
          onDeriving: () => options.onStage?.('deriving'),
          masterCache,
        },
      );
      return { queue, result };
    } catch (err) {
      conn.stream.destroy();
      throw toSessionError(err);
    }
  }

  /** Makes an authenticated connection the session's current one. */
  private attach(queue: LineQueue, result: ClientHandshakeResult): void {
    const wire: Wire = {
      queue,
      sealer: undefined,
      opener: undefined,
      watch: undefined,
      lastError: undefined,
    };
    if (result.mode !== 'v1') {
      wire.sealer = new ChannelSealer(result.c2s);
      wire.opener = new ChannelOpener(result.s2c);
    }
    const keepaliveMs = this.limits.keepaliveMs;
    if (result.mode !== 'v1' && keepaliveMs > 0) {
      const seconds = Math.round(keepaliveMs / 100) / 10;
      wire.watch = new DaemonWatch(
        keepaliveMs,
        () => {
          if (this.wire === wire) this.sendFrame({ type: 'ping', t: 0 });
        },
        () =>
          this.onWireLost(
            wire,
            new SessionError(
              'connection_lost',
              `no sign of the daemon for ${seconds} s: the connection is lost`,
            ),
          ),
      );
    }
    wipe(result.c2s, result.s2c, result.roomKey);
    this.wire = wire;
    queue.decoder.setLimit(this.limits.maxRecordBytes);
    queue.onEnd = (err) => this.onWireLost(wire, toSessionError(err));
    queue.conn.stream.on('drain', () => this.pump());
    queue.stream((line) => this.onRecord(wire, line));
  }

  /**
   * Joins the room under `username` and resolves with the room's history (oldest first),
   * which is not emitted as events: the caller shows it, then listens. Events that arrive
   * before a listener is attached are held and delivered to the first one, so none is lost. Rejects with
   * `name_taken` or `bad_name` (the caller may try again with another name).
   */
  join(username: string): Promise<MessageEvent[]> {
    if (this.closed) return Promise.reject(new SessionError('connection_lost', 'the session is closed'));
    if (this.joined) {
      const history = this.earlyInit ?? [];
      this.earlyInit = undefined;
      return Promise.resolve(history);
    }
    return new Promise((resolve, reject) => {
      this.pendingJoin = { resolve, reject };
      // A v1 daemon joined us during the handshake; its init is on its way.
      if (this.keyring) this.sendFrame({ type: 'join', username, card: this.keyring.ownCard() });
      else if (this.mode !== 'v1') this.sendFrame({ type: 'join', username });
    });
  }

  get isJoined(): boolean {
    return this.joined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** In the room on a live connection (false while reconnecting). */
  get isConnected(): boolean {
    return this.connected && !this.closed;
  }

  /** Current members, sorted by name. */
  memberList(): Member[] {
    return [...this.members.entries()]
      .map(([user_id, username]) => ({ user_id, username }))
      .sort((x, y) => x.username.localeCompare(y.username));
  }

  /** A present member by name (exact, else case-insensitive), with its fingerprint if it has a card. */
  whois(
    name: string,
  ): { member: Member; fingerprint: string | undefined; verified: boolean; trust: TrustState } | undefined {
    const list = this.memberList();
    const member =
      list.find((m) => m.username === name) ??
      list.find((m) => m.username.toLowerCase() === name.toLowerCase());
    if (!member) return undefined;
    return {
      member,
      fingerprint: this.keyring?.fingerprintOf(member.user_id),
      verified: this.keyring?.isVerified(member.user_id, member.username) ?? false,
      trust: this.trustOf(member),
    };
  }

  /** A member's trust state ('unverified' without member keys: nothing can be checked). */
  trustOf(member: Member): TrustState {
    return this.keyring?.trustOf(member.user_id, member.username) ?? 'unverified';
  }

  /** The room's safety phrase as this member sees the membership now (undefined without keys). */
  safetyPhrase(): Promise<string> | undefined {
    return this.safety?.current();
  }

  private phraseSnapshot(): PhraseSnapshot {
    const keyring = this.keyring as MemberKeyring;
    const members = [...this.members].map(([userId, name]) => keyring.phraseMember(userId, name));
    return { roomFingerprint: this.fingerprint, members };
  }

  /** The fingerprint of a member's keys, or undefined for a member without a valid card. */
  memberFingerprint(userId: string): string | undefined {
    return this.keyring?.fingerprintOf(userId);
  }

  /** Marks a member verified if `code` is its fingerprint; says why not otherwise. */
  verifyMember(name: string, code: string): 'verified' | 'mismatch' | 'no_card' | 'unknown' | 'self' {
    const found = this.whois(name);
    if (!found) return 'unknown';
    if (found.member.user_id === this.me.user_id) return 'self';
    if (!this.keyring || found.fingerprint === undefined) return 'no_card';
    return this.keyring.verify(found.member.user_id, found.member.username, code) ? 'verified' : 'mismatch';
  }

  /** Throws unless the session is in the room on a live connection (for what is not queued). */
  private requireConnected(what: string): void {
    if (!this.joined || this.closed) throw new SessionError('connection_lost', 'not in the room');
    if (!this.connected) {
      throw new SessionError('connection_lost', `not connected (reconnecting): ${what} not sent`);
    }
  }

  /**
   * Sends a private message to the member named `name` (as /whois finds it); only that member
   * receives it, and the daemon's copy back to us is the receipt. Throws a SessionError when
   * the member is unknown or has no key (an original client), or while reconnecting (private
   * messages are not queued: the member may be gone by then).
   */
  sendPrivate(name: string, body: string): void {
    this.requireConnected('private message');
    checkMessageSize(body);
    const found = this.whois(name);
    if (!found || found.member.user_id === this.me.user_id) {
      throw new SessionError('refused', `no other member named ${name}`);
    }
    if (found.trust === 'changed') {
      throw new SessionError(
        'refused',
        `${found.member.username} has another key than the one you trust (${this.keyring?.expectedFor(found.member.username)}): private message NOT sent`,
      );
    }
    const sealed = this.keyring?.sealPrivateFor(found.member.user_id, Buffer.from(body, 'utf8'));
    if (sealed === undefined) {
      throw new SessionError(
        'refused',
        `${found.member.username} has no key: private messages to it are not possible`,
      );
    }
    if (sealed.length > MAX_TOKEN_CHARS) throw new SessionError('protocol', 'message too long');
    this.lastPrivatePeer = found.member.user_id;
    this.privateUnechoed.add(sealed); // the daemon's receipt carries the same sealed text
    this.sendFrame({ type: 'private', to: found.member.user_id, text: sealed });
  }

  /** The name of the member of the last private exchange still in the room, for /reply. */
  get replyTarget(): string | undefined {
    return this.lastPrivatePeer === undefined ? undefined : this.members.get(this.lastPrivatePeer);
  }

  /** Announces loudly a member who takes a pinned or verified name (or a look-alike) with another key. */
  private checkVerifiedName(userId: string, username: string, at: number): void {
    const expected = this.keyring?.keyChangedFor(userId, username);
    if (expected === undefined) return;
    const now = this.keyring?.fingerprintOf(userId) ?? 'no key';
    this.emitEvent({
      type: 'error',
      at,
      code: 'key_changed',
      message:
        `${username} is NOT the member you trust: key ${now}, expected ${expected}. ` +
        'Private messages to it are refused; verify again out of band.',
    });
  }

  /**
   * Encrypts and sends a message; returns its envelope id. While reconnecting it is queued
   * and sent after rejoining. Throws MessageTooLongError for a body over MAX_MESSAGE_BYTES,
   * and SessionError (`refused`) when the queue is full (nothing is sent). `writable` turns
   * false when the caller should wait (`waitWritable()`).
   */
  send(body: string, kind: 'text' | 'me' = 'text'): string {
    if (!this.joined || this.closed) throw new SessionError('connection_lost', 'not in the room');
    checkMessageSize(body);
    if (this.outbox.size >= this.maxQueued) {
      throw new SessionError(
        'refused',
        `not sent: ${this.outbox.size} lines are already waiting for the connection`,
      );
    }
    let outgoing: Outgoing;
    if (this.mode === 'v2') {
      const id = newMessageId();
      outgoing = { id, kind, body, token: this.seal(id, kind, body), sealedFor: this.me.user_id };
    } else {
      // Shared with v1 clients: bare text, as the original sends it.
      const token = sealBareText(this.fernet, this.me.username, kind, body);
      outgoing = { id: token, kind, body, token, sealedFor: this.me.user_id };
    }
    if (outgoing.token.length > MAX_TOKEN_CHARS) throw new SessionError('protocol', 'message too long');
    this.outbox.push(outgoing);
    this.pump();
    return outgoing.id;
  }

  private seal(id: string, kind: 'text' | 'me', body: string): string {
    const sig = this.keyring?.sign(id, kind, body);
    return sealEnvelope(this.fernet, { from: this.me.username, id, kind, body, ...(sig ? { sig } : {}) });
  }

  /** Writes queued messages while connected, up to MAX_IN_FLIGHT unconfirmed (v2). */
  private pump(): void {
    while (this.connected && !this.closed && this.outbox.queuedCount > 0) {
      if (this.mode === 'v2' && this.outbox.inFlightCount >= MAX_IN_FLIGHT) break;
      const next = this.outbox.take() as Outgoing;
      if (next.sealedFor !== this.me.user_id && this.mode === 'v2') {
        next.token = this.seal(next.id, next.kind, next.body);
        next.sealedFor = this.me.user_id;
      }
      if (this.mode === 'v2') this.sendFrame({ type: 'message', text: next.token, mid: next.id });
      else this.sendFrame({ type: 'message', text: next.token });
    }
    this.armResend();
    this.progress();
  }

  /**
   * While messages are in flight on a live connection, checks now and then for one whose
   * echo is overdue and writes it again with the same `mid`: the daemon appends it once (or
   * answers `received`), so a message never waits for ever on an answer that was lost.
   */
  private armResend(): void {
    if (this.resendTimer || this.mode !== 'v2' || this.outbox.inFlightCount === 0) return;
    const after = this.options.resendAfterMs ?? RESEND_AFTER_MS;
    this.resendTimer = setTimeout(
      () => {
        this.resendTimer = undefined;
        if (!this.connected || this.closed) return;
        for (const m of this.outbox.overdue(after)) {
          this.sendFrame({ type: 'message', text: m.token, mid: m.id });
        }
        this.armResend();
      },
      Math.min(RESEND_CHECK_MS, after / 4),
    );
    this.resendTimer.unref();
  }

  /**
   * True when the caller may send more now. Connected: nothing waits to be written and the
   * connection's buffer has room. Reconnecting: the queue has room.
   */
  get writable(): boolean {
    if (this.closed) return true;
    if (!this.connected) return this.outbox.size < this.maxQueued;
    return this.outbox.queuedCount === 0 && !(this.wire?.queue.conn.stream.writableNeedDrain ?? false);
  }

  waitWritable(): Promise<void> {
    if (this.writable) return Promise.resolve();
    return new Promise((resolve) => this.writableWaiters.push(resolve));
  }

  /** Wakes the waiters whose condition now holds (after an echo, a drain, a reconnect, the end). */
  private progress(): void {
    if (this.writableWaiters.length > 0 && this.writable) {
      for (const resolve of this.writableWaiters.splice(0)) resolve();
    }
    if (this.echoWaiters.length > 0 && (this.unechoedCount === 0 || this.closed)) {
      for (const resolve of this.echoWaiters.splice(0)) resolve();
    }
  }

  /** Messages the daemon told us were lost while we were away (not wiped: gone from its window). */
  get messagesLost(): number {
    return this.cursor.lost;
  }

  /** Number of our messages not yet confirmed by the daemon (queued, unechoed, private receipts). */
  get unechoedCount(): number {
    return this.outbox.size + this.privateUnechoed.size;
  }

  /** Resolves once every message sent so far has come back from the daemon (or the session ended). */
  waitForEchoes(): Promise<void> {
    if (this.unechoedCount === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.echoWaiters.push(resolve));
  }

  /** Our message `id` is confirmed (its echo, or the daemon's `received` for a resend). */
  private confirmed(id: string): Outgoing | undefined {
    const outgoing = this.outbox.confirm(id);
    if (outgoing === undefined) return undefined;
    this.pump();
    return outgoing;
  }

  /** Wipes the room's history on the daemon, for everyone. */
  wipeHistory(): void {
    this.requireConnected('/clear');
    this.sendFrame({ type: 'clear' });
  }

  /** Changes our name; rejects with `name_taken` or `bad_name`. */
  nick(username: string): Promise<void> {
    if (this.mode === 'v1') return Promise.reject(new SessionError('refused', `/nick is ${V1_UNSUPPORTED}`));
    if (this.pendingNick)
      return Promise.reject(new SessionError('refused', 'a rename is already in progress'));
    try {
      this.requireConnected('/nick');
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.pendingNick = { resolve, reject };
      this.sendFrame({ type: 'nick', username });
    });
  }

  /** Round-trip time to the daemon through the channel, in ms. */
  ping(timeoutMs = 10_000): Promise<number> {
    if (this.mode === 'v1')
      return Promise.reject(new SessionError('refused', `round-trip time is ${V1_UNSUPPORTED}`));
    if (this.closed) return Promise.reject(new SessionError('connection_lost', 'the session is closed'));
    if (!this.connected)
      return Promise.reject(new SessionError('connection_lost', 'not connected (reconnecting)'));
    const t = performance.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(t);
        reject(new SessionError('connection_lost', 'no answer to ping'));
      }, timeoutMs);
      this.pings.set(t, {
        resolve: (rtt) => {
          clearTimeout(timer);
          resolve(rtt);
        },
        // The session ended: say so now rather than when the timer runs out.
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.sendFrame({ type: 'ping', t });
    });
  }

  /**
   * Closes the connection after flushing what was written. The daemon is told it is a
   * goodbye, so it does not hold our name for a reconnect.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const stream = this.wire?.queue.conn.stream;
    if (this.connected && this.mode === 'v2') this.sendFrame({ type: 'leave' });
    const done = new Promise<void>((resolve) => {
      if (!stream || stream.destroyed) return resolve();
      stream.once('close', () => resolve());
      setTimeout(() => {
        stream.destroy();
        resolve();
      }, 2000).unref();
    });
    this.end(undefined);
    stream?.end();
    return done;
  }

  private sendFrame(frame: object): void {
    const wire = this.wire;
    if (this.closed || !wire) return;
    const json = JSON.stringify(frame);
    wire.queue.conn.stream.write((wire.sealer ? wire.sealer.seal(json) : json) + '\n');
  }

  /** The connection `wire` ended: reconnect if we may, else end the session. */
  private onWireLost(wire: Wire, lost: SessionError): void {
    if (this.closed || wire !== this.wire) return;
    this.dropWire(wire, true);
    const reported = wire.lastError;
    const error =
      lost.code === 'connection_lost' &&
      lost.daemonCode === undefined &&
      reported !== undefined &&
      performance.now() - reported.at < FATAL_ERROR_WINDOW_MS
        ? reported.error
        : lost;
    if (!this.joined || !this.backoff || !recoverable(error)) {
      this.end(error);
      return;
    }
    this.connected = false;
    const reason = error ?? new SessionError('connection_lost', 'the connection was lost');
    this.pendingNick?.reject(reason);
    this.pendingNick = undefined;
    for (const ping of this.pings.values()) ping.reject(reason);
    this.pings.clear();
    if (this.privateUnechoed.size > 0) {
      const n = this.privateUnechoed.size;
      this.privateUnechoed.clear();
      this.emitEvent({
        type: 'error',
        at: Date.now(),
        code: 'private_unconfirmed',
        message: `${n} private message${n === 1 ? ' was' : 's were'} not confirmed before the connection was lost (not sent again)`,
      });
    }
    this.emitEvent({
      type: 'disconnected',
      at: Date.now(),
      reason: error.message,
      pending: this.outbox.size,
    });
    this.progress();
    void this.reconnect(error);
  }

  private dropWire(wire: Wire, destroy: boolean): void {
    if (this.wire === wire) this.wire = undefined;
    wire.queue.onEnd = undefined;
    wire.watch?.stop();
    wire.sealer?.destroy();
    wire.opener?.destroy();
    if (destroy) wire.queue.conn.stream.destroy();
  }

  /** Tries again with back-off until rejoined, refused for good, closed, or out of attempts. */
  private async reconnect(cause: SessionError): Promise<void> {
    const policy = this.backoff as BackoffPolicy;
    let last = cause;
    const flapping =
      this.rejoinedAt !== undefined && performance.now() - this.rejoinedAt < STABLE_CONNECTION_MS;
    for (let attempt = flapping ? this.rejoinAttempt + 1 : 1; !this.closed; attempt++) {
      if (policy.maxAttempts > 0 && attempt > policy.maxAttempts) {
        this.end(
          new SessionError(
            'connection_lost',
            `gave up reconnecting after ${policy.maxAttempts} attempt${policy.maxAttempts === 1 ? '' : 's'}: ${last.message}`,
            last.daemonCode,
          ),
        );
        return;
      }
      const delayMs = reconnectDelayMs(policy, attempt);
      this.emitEvent({
        type: 'reconnecting',
        at: Date.now(),
        attempt,
        delayMs,
        ...(last !== cause ? { reason: last.message } : {}),
      });
      await this.sleep(delayMs);
      if (this.closed) return;
      try {
        await this.rejoin(attempt);
        return;
      } catch (err) {
        const e = toSessionError(err);
        if (this.closed) return;
        if (!recoverable(e)) {
          this.end(e);
          return;
        }
        last = e;
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.retryTimer = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.retryTimer = { timer, wake };
    });
  }

  /**
   * One reconnect: authenticate again (scrypt only if the daemon's salt changed), refuse a
   * room whose fingerprint changed, take our name back with the resume secret, and wait for
   * the `init`, which the frame handler turns into `reconnected` and the missed messages.
   */
  private async rejoin(attempt: number): Promise<void> {
    const secrets = this.secrets as NonNullable<ChatSession['secrets']>;
    const { queue, result } = await ChatSession.authenticate(
      this.options,
      this.limits,
      secrets.master,
      secrets.password,
      false,
      false,
    );
    const fingerprint = roomFingerprint(result.roomKey);
    if (this.closed || result.mode !== 'v2' || fingerprint !== this.fingerprint) {
      // Not taken: closed meanwhile, or another room.
      wipe(result.c2s, result.s2c, result.roomKey);
      queue.conn.stream.destroy();
      if (this.closed) return;
      const message =
        `the room fingerprint changed from ${this.fingerprint} to ${fingerprint}: the daemon came back ` +
        'with another room configuration (or it is not the same daemon). Not rejoining; verify the new ' +
        'fingerprint out of band before connecting again.';
      this.emitEvent({ type: 'error', at: Date.now(), code: 'fingerprint_changed', message });
      throw new SessionError('fingerprint_changed', message);
    }
    this.attach(queue, result);
    this.me.user_id = result.userId;
    this.keyring?.rebind(result.userId);
    const joined = new Promise<MessageEvent[]>((resolve, reject) => {
      this.pendingJoin = { resolve, reject };
    });
    const timer = setTimeout(() => {
      const wire = this.wire;
      if (wire) this.onJoinTimeout(wire);
    }, this.limits.stepTimeoutMs);
    const resume = secrets.resume?.toString('base64url');
    const after = this.cursor.value;
    this.sendFrame({
      type: 'join',
      username: this.me.username,
      card: this.keyring?.ownCard(),
      ...(resume !== undefined ? { resume } : {}),
      // Our place in the room's log: the daemon sends everything after it.
      ...(resume !== undefined && after !== undefined ? { after } : {}),
    });
    this.rejoinAttempt = attempt;
    try {
      await joined;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The `init` of a rejoin, handled before any frame after it: says so, shows what we missed,
   * then sends what was written but never confirmed (the daemon relays it once) and what was
   * queued meanwhile, in the order it was typed.
   */
  private rejoined(missed: MessageEvent[]): void {
    this.connected = true;
    this.rejoinedAt = performance.now();
    this.emitEvent({
      type: 'reconnected',
      at: Date.now(),
      attempt: this.rejoinAttempt,
      missed: missed.length,
      pending: this.outbox.size,
    });
    for (const event of missed) this.emitEvent(event);
    this.outbox.requeue();
    this.pump();
  }

  private onJoinTimeout(wire: Wire): void {
    const join = this.pendingJoin;
    if (!join || this.connected) return;
    this.pendingJoin = undefined;
    this.dropWire(wire, true);
    join.reject(new SessionError('connection_lost', 'the daemon did not answer the join in time'));
  }

  private end(error: SessionError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.resendTimer);
    this.connected = false;
    this.retryTimer?.wake();
    this.safety?.dispose();
    const wire = this.wire;
    if (wire) this.dropWire(wire, error !== undefined);
    this.fernet.destroy();
    if (this.secrets) wipe(this.secrets.password, this.secrets.master.master, this.secrets.resume);
    const reason = error ?? new SessionError('connection_lost', 'the session is closed');
    this.pendingJoin?.reject(reason);
    this.pendingNick?.reject(reason);
    this.pendingJoin = undefined;
    this.pendingNick = undefined;
    for (const ping of this.pings.values()) ping.reject(reason);
    this.pings.clear();
    this.progress();
    this.heldClose = { error };
    this.flush();
  }

  /** Emits a ChatEvent, or holds it while nobody listens or earlier events wait. */
  private emitEvent(event: ChatEvent): void {
    if (this.undelivered.length === 0 && this.listenerCount('event') > 0) {
      this.emit('event', event);
      return;
    }
    this.undelivered.push(event);
    if (this.undelivered.length > MAX_UNDELIVERED_EVENTS) this.undelivered.shift();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /**
   * Delivers held events to the attached listener, then the held end once they are out (or
   * at once to a caller that listens only for the end).
   */
  private flush(): void {
    const listening = this.listenerCount('event') > 0;
    while (this.undelivered.length > 0 && listening) {
      this.emit('event', this.undelivered.shift() as ChatEvent);
    }
    const held = this.heldClose;
    if (!held || this.listenerCount('close') === 0) return;
    if (listening && this.undelivered.length > 0) return;
    this.heldClose = undefined;
    this.emit('close', held.error);
  }

  private onRecord(wire: Wire, line: string): void {
    if (this.closed || wire !== this.wire) return;
    wire.watch?.heard();
    if (!wire.opener) {
      this.onV1Line(line);
      return;
    }
    let frames: ServerFrame[];
    try {
      const plaintext = wire.opener.open(line).toString('utf8');
      frames = plaintext.split('\n').map((part) => readServerFrame(parseObject(part)));
    } catch {
      this.onWireLost(
        wire,
        new SessionError('protocol', 'a record from the daemon failed to open; the connection was closed'),
      );
      return;
    }
    for (const frame of frames) {
      if (this.closed || wire !== this.wire) return;
      this.onFrame(wire, frame);
    }
  }

  /** A plaintext line from an original daemon (no channel). */
  private onV1Line(line: string): void {
    const read = readV1Line(line, this.me, this.members);
    if (!read) return;
    if ('error' in read) {
      this.emitEvent({ type: 'error', at: Date.now(), code: 'daemon', message: read.error });
      return;
    }
    const wire = this.wire;
    if (wire) this.onFrame(wire, read.frame);
  }

  private onFrame(wire: Wire, frame: ServerFrame): void {
    const at = Date.now();
    switch (frame.type) {
      case 'init': {
        const rejoin = this.joined;
        this.me = { ...frame.you };
        this.members.clear();
        for (const m of frame.users) {
          this.members.set(m.user_id, m.username);
          this.keyring?.addCard(m.user_id, m.card);
        }
        this.members.set(frame.you.user_id, frame.you.username);
        for (const m of frame.users) this.checkVerifiedName(m.user_id, m.username, at);
        this.safety?.changed();
        this.joined = true;
        if (!rejoin) this.connected = true;
        this.historyOmitted = frame.omitted ?? 0;
        if (this.secrets && frame.resume !== undefined) {
          wipe(this.secrets.resume);
          this.secrets.resume = Buffer.from(frame.resume, 'base64url');
        }
        this.cursor.start(frame.epoch, frame.seq);
        const seenBefore = this.lastSeq;
        const history: MessageEvent[] = [];
        for (const data of frame.messages) {
          // After a rejoin only what came after the last message we saw is new to us.
          const seq = daemonSeq(data.id);
          const seen = rejoin && seq && seenBefore?.prefix === seq.prefix && seq.n <= seenBefore.n;
          if (seen) continue;
          const event = this.openMessage(data, true);
          if (event) history.push(event);
        }
        const join = this.pendingJoin;
        this.pendingJoin = undefined;
        if (rejoin) this.rejoined(history);
        else if (!join) this.earlyInit = history;
        join?.resolve(history);
        if (!rejoin) this.pump();
        return;
      }
      case 'message': {
        if (!this.cursor.accept(frame.seq)) return; // handled already
        const event = this.openMessage(frame.data, false);
        if (event) this.emitEvent(event);
        return;
      }
      case 'received': {
        // A resend the daemon had relayed already: shown to us now, since its echo was lost.
        const outgoing = this.confirmed(frame.mid);
        if (!outgoing) return;
        this.rememberId(outgoing.id);
        this.emitEvent({
          type: 'message',
          id: '',
          at,
          userId: this.me.user_id,
          username: this.me.username,
          kind: outgoing.kind,
          body: outgoing.body,
          mine: true,
          history: false,
          undecryptable: false,
          signature: 'valid',
        });
        return;
      }
      case 'user_joined':
        this.members.set(frame.user_id, frame.username);
        this.keyring?.addCard(frame.user_id, frame.card);
        this.emitEvent({ type: 'join', at, userId: frame.user_id, username: frame.username });
        this.checkVerifiedName(frame.user_id, frame.username, at);
        this.safety?.changed();
        return;
      case 'user_left':
        this.members.delete(frame.user_id);
        this.keyring?.forget(frame.user_id);
        this.emitEvent({ type: 'leave', at, userId: frame.user_id, username: frame.username });
        this.safety?.changed();
        return;
      case 'user_renamed': {
        this.members.set(frame.user_id, frame.new);
        if (frame.user_id === this.me.user_id) {
          this.me = { ...this.me, username: frame.new };
          const nick = this.pendingNick;
          this.pendingNick = undefined;
          nick?.resolve();
        }
        this.emitEvent({ type: 'rename', at, userId: frame.user_id, old: frame.old, new: frame.new });
        this.checkVerifiedName(frame.user_id, frame.new, at);
        this.safety?.changed();
        return;
      }
      case 'cleared':
        if (!this.cursor.accept(frame.seq)) return;
        this.emitEvent({ type: 'cleared', at, by: frame.by });
        return;
      case 'gap':
        this.cursor.skip(frame.seq, frame.lost, frame.wiped);
        this.emitEvent({ type: 'gap', at, lost: frame.lost, wiped: frame.wiped });
        return;
      case 'ping': // the daemon's keepalive
        this.sendFrame({ type: 'pong', t: frame.t });
        return;
      case 'pong': {
        const ping = this.pings.get(frame.t);
        this.pings.delete(frame.t);
        ping?.resolve(performance.now() - frame.t);
        return;
      }
      case 'error':
        this.onDaemonError(wire, frame.code, at);
        return;
      case 'shutdown':
        this.emitEvent({ type: 'shutdown', at });
        this.onWireLost(wire, new SessionError('shutdown', 'the daemon is shutting down'));
        return;
      case 'private': {
        const { from, to, text } = frame.data;
        if (from !== this.me.user_id && to !== this.me.user_id) return; // not ours: never shown
        const plaintext = this.keyring?.openPrivateBetween(from, to, text);
        const body = plaintext?.toString('utf8') ?? '';
        plaintext?.fill(0);
        if (from !== this.me.user_id) this.lastPrivatePeer = from;
        else if (this.privateUnechoed.delete(text)) this.progress();
        this.emitEvent({
          type: 'private',
          at: messageTimeMs(frame.data.timestamp),
          fromUserId: from,
          from: this.members.get(from) ?? from,
          toUserId: to,
          to: this.members.get(to) ?? to,
          body,
          mine: from === this.me.user_id,
          undecryptable: plaintext === undefined,
          ...this.trustField(from === this.me.user_id ? to : from),
        });
        return;
      }
    }
  }

  private onDaemonError(wire: Wire, code: string, at: number): void {
    const known = isErrorCode(code) ? code : undefined;
    const message = known ? ErrorText[known] : `the daemon reported an error (${code.slice(0, 40)})`;
    const err = new SessionError(
      code === 'name_taken' || code === 'bad_name' ? code : 'refused',
      message,
      code,
    );
    if (this.pendingJoin && (code === 'name_taken' || code === 'bad_name' || code === 'busy')) {
      const join = this.pendingJoin;
      this.pendingJoin = undefined;
      if (this.joined) {
        // Rejoining: the name went to someone else (its hold ran out) or the room is full.
        this.dropWire(wire, true);
        join.reject(
          code === 'busy'
            ? err
            : new SessionError(err.code, `could not rejoin as ${this.me.username}: ${message}`, code),
        );
        return;
      }
      join.reject(err);
      return;
    }
    if (this.pendingNick && (code === 'name_taken' || code === 'bad_name')) {
      const nick = this.pendingNick;
      this.pendingNick = undefined;
      nick.reject(err);
      return;
    }
    if (code === 'slow_reader' || code === 'timeout' || code === 'keepalive') {
      this.onWireLost(wire, new SessionError('connection_lost', message, code));
      return;
    }
    if (code === 'replaced') {
      // Another connection of ours took our name back: this one must not fight for it.
      this.end(new SessionError('refused', message, code));
      return;
    }
    wire.lastError = { error: err, at: performance.now() };
    this.emitEvent({ type: 'error', at, code, message });
  }

  /** Decrypts and checks one message; undefined for a replay of a message already shown. */
  private openMessage(data: MessageData, history: boolean): MessageEvent | undefined {
    const seq = daemonSeq(data.id);
    if (seq) this.lastSeq = seq;
    const event: MessageEvent = {
      type: 'message',
      id: data.id,
      at: messageTimeMs(data.timestamp),
      userId: data.user_id,
      username: data.username,
      kind: 'text',
      body: '',
      mine: this.keyring ? this.keyring.isOwn(data.user_id) : data.user_id === this.me.user_id,
      history,
      undecryptable: false,
    };
    if (this.mode !== 'v2') return this.openBareMessage(data, event);
    let envelope: Envelope | undefined;
    try {
      envelope = openEnvelope(this.fernet, data.text);
    } catch {
      event.undecryptable = true;
    }
    if (envelope) {
      if (this.keyring) event.signature = this.keyring.check(data.user_id, envelope);
      // A member no longer present (history) has no card left to check: unverified, not changed.
      if (this.keyring && !event.mine)
        event.trust = this.members.has(data.user_id)
          ? this.keyring.trustOf(data.user_id, data.username)
          : 'unverified';
      if (event.signature === 'valid' && event.trust === 'verified') event.verified = true;
      else if (envelope.sig === undefined) event.signature = 'unsigned';
      // A replay is shown once; but a copy attributed to someone whose signature it is not
      // (another member replaying it, a daemon re-attributing it) is shown, flagged.
      const suspicious = event.signature === 'invalid' || event.signature === 'no_card';
      if (this.seenIds.has(envelope.id) && !suspicious) {
        if (event.mine) this.confirmed(envelope.id);
        return undefined;
      }
      this.rememberId(envelope.id);
      event.kind = envelope.kind;
      event.body = envelope.body;
      // A valid signature identifies the member by key: a `from` left over from before a
      // rename is not a forgery. Without one, the sealed name is all there is to compare.
      if (envelope.from !== data.username && event.signature !== 'valid') event.forgedFrom = envelope.from;
      if (event.mine) this.confirmed(envelope.id);
    }
    return event;
  }

  /** A bare-text token (legacy modes): no sender claim to check; replays are dropped by token. */
  private openBareMessage(data: MessageData, event: MessageEvent): MessageEvent | undefined {
    if (this.seenIds.has(data.text)) return undefined;
    const body = openBareText(this.fernet, data.text);
    if (body === undefined) {
      event.undecryptable = true;
      return event;
    }
    event.body = body;
    this.rememberId(data.text);
    if (this.mode === 'v1' && data.username === this.me.username) event.mine = true;
    if (event.mine) this.confirmed(data.text);
    return event;
  }

  /** The trust state of a present member as an event field (none without member keys). */
  private trustField(userId: string): { trust?: TrustState } {
    const username = this.members.get(userId);
    return this.keyring && username !== undefined ? { trust: this.keyring.trustOf(userId, username) } : {};
  }

  private rememberId(id: string): void {
    this.seenIds.add(id);
    if (this.seenIds.size > SEEN_IDS) {
      const oldest = this.seenIds.values().next().value;
      if (oldest !== undefined) this.seenIds.delete(oldest);
    }
  }
}
