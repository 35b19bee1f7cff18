/**
 * A client's session with a room: connect through a transport, run the handshake, join,
 * then send and receive over the sealed channel. It turns the daemon's frames into checked,
 * decrypted ChatEvents (own echo, replay, forged sender, undecryptable token) and knows
 * nothing of terminals.
 */
import { EventEmitter } from 'node:events';
import { ChannelOpener, ChannelSealer } from '../crypto/channel.js';
import { type Envelope, newMessageId, openEnvelope, sealEnvelope } from '../crypto/envelope.js';
import { Fernet } from '../crypto/fernet.js';
import { roomFingerprint } from '../crypto/kdf.js';
import { wipe } from '../crypto/secret.js';
import { parseObject } from '../protocol/codec.js';
import { ErrorText, isErrorCode, ProtocolError } from '../protocol/errors.js';
import {
  type Member,
  type MessageData,
  messageTimeMs,
  readServerFrame,
  type ServerFrame,
} from '../protocol/frames.js';
import {
  type ClientHandshakeResult,
  clientHandshake,
  type ProtocolMode,
} from '../protocol/handshake-client.js';
import { type ClientLimits, defaultClientLimits, defaultDaemonLimits } from '../protocol/limits.js';
import { nameKey } from '../protocol/names.js';
import type { ClientTransport, Connection } from '../transport/transport.js';
import { TransportError } from '../transport/transport.js';
import type { ChatEvent, MessageEvent } from './events.js';
import { DaemonWatch } from './keepalive.js';
import { LineQueue } from './line-queue.js';
import { MemberKeyring } from './member-keys.js';
import { checkMessageSize } from './message-size.js';
import { SessionError } from './session-error.js';
import { openBareText, readV1Line, sealBareText } from './session-legacy.js';

export { SessionError, type SessionErrorCode } from './session-error.js';

export interface SessionOptions {
  transport: ClientTransport;
  room: string;
  password: string | Buffer;
  /** Open-rooms mode: create the room if it does not exist. */
  create?: boolean;
  /**
   * Consent to legacy mode (an original v1 daemon, or a legacy room of ours). A v1 daemon
   * takes the name during the handshake, so `username` is needed then.
   */
  legacy?: boolean;
  username?: string;
  limits?: Partial<ClientLimits>;
  /** Progress for a spinner. */
  onStage?: (stage: 'connecting' | 'deriving' | 'verifying') => void;
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

/** The session's end, held until the events before it have been delivered. */
interface HeldClose {
  error: SessionError | undefined;
}

/** Why a command is not available against an original daemon. */
const V1_UNSUPPORTED = 'not supported by an original (v1) cmd-chat daemon';

export class ChatSession extends EventEmitter<SessionEvents> {
  readonly room: string;
  readonly fingerprint: string;
  /** How the room is protected: 'v2', 'legacy-room' (v1 room key) or 'v1' (no channel). */
  readonly mode: ProtocolMode;
  me: Member = { user_id: '', username: '' };
  private readonly members = new Map<string, string>();
  /** Undefined in 'v1' mode, where frames travel in plaintext. */
  private readonly sealer: ChannelSealer | undefined;
  private readonly opener: ChannelOpener | undefined;
  /** The history of an init that arrived before join() asked for it (v1 sends it unasked). */
  private earlyInit: MessageEvent[] | undefined;
  /** Older messages the daemon no longer held when we joined (its history is bounded). */
  historyOmitted = 0;
  private readonly fernet: Fernet;
  /** Per-session member keys and the others' cards; undefined against an original daemon. */
  readonly keyring: MemberKeyring | undefined;
  private readonly seenIds = new Set<string>();
  /** Envelope ids (tokens, for bare bodies) we sent and whose echo has not come back yet. */
  private readonly unechoed = new Set<string>();
  private echoWaiters: Array<() => void> = [];
  private pendingJoin:
    | { resolve: (history: MessageEvent[]) => void; reject: (err: SessionError) => void }
    | undefined;
  private pendingNick: { resolve: () => void; reject: (err: SessionError) => void } | undefined;
  private readonly pings = new Map<
    number,
    { resolve: (rtt: number) => void; reject: (e: SessionError) => void }
  >();
  private closed = false;
  /** The keepalive on the daemon (absent against an original daemon, or with keepalive 0). */
  private readonly watch: DaemonWatch | undefined;
  private joined = false;
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

  private constructor(
    private readonly queue: LineQueue,
    result: ClientHandshakeResult,
    limits: ClientLimits,
    username: string,
  ) {
    super();
    // 'newListener' fires before the listener is added: deliver once it is in place.
    (this as EventEmitter).on('newListener', (name: string | symbol) => {
      if (name === 'event' || name === 'close') this.scheduleFlush();
    });
    this.room = result.room;
    this.mode = result.mode;
    this.me.user_id = result.userId;
    this.me.username = username;
    if (result.mode !== 'v1') {
      this.sealer = new ChannelSealer(result.c2s);
      this.opener = new ChannelOpener(result.s2c);
    }
    this.fernet = new Fernet(result.roomKey);
    this.fingerprint = roomFingerprint(result.roomKey);
    if (result.mode === 'v2') this.keyring = new MemberKeyring(this.fernet, result.userId);
    wipe(result.c2s, result.s2c, result.roomKey);
    queue.decoder.setLimit(limits.maxRecordBytes);
    if (result.mode !== 'v1' && limits.keepaliveMs > 0) {
      const seconds = Math.round(limits.keepaliveMs / 100) / 10;
      this.watch = new DaemonWatch(
        limits.keepaliveMs,
        () => this.sendFrame({ type: 'ping', t: 0 }),
        () =>
          this.end(
            new SessionError(
              'connection_lost',
              `no sign of the daemon for ${seconds} s: the connection is lost`,
            ),
          ),
      );
    }
    queue.onEnd = (err) => this.end(toSessionError(err));
    queue.stream((line) => this.onRecord(line));
  }

  /** Connects and authenticates; the session is not in the room until `join()`. */
  static async open(options: SessionOptions): Promise<ChatSession> {
    const limits = { ...defaultClientLimits, ...options.limits };
    options.onStage?.('connecting');
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
          password: options.password,
          create: options.create ?? false,
          legacy: options.legacy ?? false,
          ...(options.username !== undefined ? { username: options.username } : {}),
          onDeriving: () => options.onStage?.('deriving'),
        },
      );
      options.onStage?.('verifying');
      return new ChatSession(queue, result, limits, options.username ?? '');
    } catch (err) {
      conn.stream.destroy();
      throw toSessionError(err);
    }
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

  /** Current members, sorted by name. */
  memberList(): Member[] {
    return [...this.members.entries()]
      .map(([user_id, username]) => ({ user_id, username }))
      .sort((x, y) => x.username.localeCompare(y.username));
  }

  /** A present member by name (exact, else case-insensitive), with its fingerprint if it has a card. */
  whois(name: string): { member: Member; fingerprint: string | undefined; verified: boolean } | undefined {
    const list = this.memberList();
    const member =
      list.find((m) => m.username === name) ??
      list.find((m) => m.username.toLowerCase() === name.toLowerCase());
    if (!member) return undefined;
    return {
      member,
      fingerprint: this.keyring?.fingerprintOf(member.user_id),
      verified: this.keyring?.isVerified(member.user_id) ?? false,
    };
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
    return this.keyring.verify(found.member.user_id, nameKey(found.member.username), code)
      ? 'verified'
      : 'mismatch';
  }

  /**
   * Sends a private message to the member named `name` (as /whois finds it); only that member
   * receives it, and the daemon's copy back to us is the receipt. Throws a SessionError when
   * the member is unknown or has no key (an original client).
   */
  sendPrivate(name: string, body: string): void {
    if (!this.joined || this.closed) throw new SessionError('connection_lost', 'not in the room');
    checkMessageSize(body);
    const found = this.whois(name);
    if (!found || found.member.user_id === this.me.user_id) {
      throw new SessionError('refused', `no other member named ${name}`);
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
    this.unechoed.add(sealed); // the daemon's receipt carries the same sealed text
    this.sendFrame({ type: 'private', to: found.member.user_id, text: sealed });
  }

  /** The name of the member of the last private exchange still in the room, for /reply. */
  get replyTarget(): string | undefined {
    return this.lastPrivatePeer === undefined ? undefined : this.members.get(this.lastPrivatePeer);
  }

  /** Announces loudly a member who takes a verified name with another key. */
  private checkVerifiedName(userId: string, username: string, at: number): void {
    const verified = this.keyring?.keyChangedFor(userId, nameKey(username));
    if (verified === undefined) return;
    const now = this.keyring?.fingerprintOf(userId) ?? 'no key';
    this.emitEvent({
      type: 'error',
      at,
      code: 'key_changed',
      message: `${username} is NOT the member you verified: key ${now}, verified ${verified}. Verify again out of band.`,
    });
  }

  /**
   * Encrypts and sends a message; returns its envelope id. Throws MessageTooLongError for a
   * body over MAX_MESSAGE_BYTES (nothing is sent). `writable` turns false when the transport
   * wants a pause.
   */
  send(body: string, kind: 'text' | 'me' = 'text'): string {
    if (!this.joined || this.closed) throw new SessionError('connection_lost', 'not in the room');
    checkMessageSize(body);
    let id: string;
    let token: string;
    if (this.mode === 'v2') {
      id = newMessageId();
      const sig = this.keyring?.sign(id, kind, body);
      token = sealEnvelope(this.fernet, { from: this.me.username, id, kind, body, ...(sig ? { sig } : {}) });
    } else {
      // Shared with v1 clients: bare text, as the original sends it.
      token = sealBareText(this.fernet, this.me.username, kind, body);
      id = token;
    }
    if (token.length > MAX_TOKEN_CHARS) throw new SessionError('protocol', 'message too long');
    this.unechoed.add(id);
    this.sendFrame({ type: 'message', text: token });
    return id;
  }

  /** False when the connection's write buffer is full; wait for `waitWritable()`. */
  get writable(): boolean {
    return !this.queue.conn.stream.writableNeedDrain;
  }

  waitWritable(): Promise<void> {
    if (this.writable || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.queue.conn.stream.off('drain', done);
        this.off('close', done);
        resolve();
      };
      this.queue.conn.stream.once('drain', done);
      this.once('close', done);
    });
  }

  /** Number of sent messages whose echo (the delivery receipt) has not arrived. */
  get unechoedCount(): number {
    return this.unechoed.size;
  }

  /** Resolves once every message sent so far has come back from the daemon (or the session ended). */
  waitForEchoes(): Promise<void> {
    if (this.unechoed.size === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.echoWaiters.push(resolve));
  }

  /** Wipes the room's history on the daemon, for everyone. */
  wipeHistory(): void {
    this.sendFrame({ type: 'clear' });
  }

  /** Changes our name; rejects with `name_taken` or `bad_name`. */
  nick(username: string): Promise<void> {
    if (this.mode === 'v1') return Promise.reject(new SessionError('refused', `/nick is ${V1_UNSUPPORTED}`));
    if (this.pendingNick)
      return Promise.reject(new SessionError('refused', 'a rename is already in progress'));
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

  /** Closes the connection after flushing what was written. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const stream = this.queue.conn.stream;
    const done = new Promise<void>((resolve) => {
      if (stream.destroyed) return resolve();
      stream.once('close', () => resolve());
      setTimeout(() => {
        stream.destroy();
        resolve();
      }, 2000).unref();
    });
    this.end(undefined);
    stream.end();
    return done;
  }

  private sendFrame(frame: object): void {
    if (this.closed) return;
    const json = JSON.stringify(frame);
    this.queue.conn.stream.write((this.sealer ? this.sealer.seal(json) : json) + '\n');
  }

  private end(error: SessionError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.watch?.stop();
    this.sealer?.destroy();
    this.opener?.destroy();
    this.fernet.destroy();
    const reason = error ?? new SessionError('connection_lost', 'the session is closed');
    this.pendingJoin?.reject(reason);
    this.pendingNick?.reject(reason);
    this.pendingJoin = undefined;
    this.pendingNick = undefined;
    for (const ping of this.pings.values()) ping.reject(reason);
    this.pings.clear();
    for (const resolve of this.echoWaiters.splice(0)) resolve();
    if (error) this.queue.conn.stream.destroy();
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

  private onRecord(line: string): void {
    if (this.closed) return;
    this.watch?.heard();
    if (!this.opener) {
      this.onV1Line(line);
      return;
    }
    let frames: ServerFrame[];
    try {
      const plaintext = this.opener.open(line).toString('utf8');
      frames = plaintext.split('\n').map((part) => readServerFrame(parseObject(part)));
    } catch {
      this.end(
        new SessionError('protocol', 'a record from the daemon failed to open; the connection was closed'),
      );
      return;
    }
    for (const frame of frames) {
      if (this.closed) return;
      this.onFrame(frame);
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
    this.onFrame(read.frame);
  }

  private onFrame(frame: ServerFrame): void {
    const at = Date.now();
    switch (frame.type) {
      case 'init': {
        this.me = { ...frame.you };
        this.members.clear();
        for (const m of frame.users) {
          this.members.set(m.user_id, m.username);
          this.keyring?.addCard(m.user_id, m.card);
        }
        this.members.set(frame.you.user_id, frame.you.username);
        this.joined = true;
        this.historyOmitted = frame.omitted ?? 0;
        const history: MessageEvent[] = [];
        for (const data of frame.messages) {
          const event = this.openMessage(data, true);
          if (event) history.push(event);
        }
        const join = this.pendingJoin;
        this.pendingJoin = undefined;
        if (join) join.resolve(history);
        else this.earlyInit = history;
        return;
      }
      case 'message': {
        const event = this.openMessage(frame.data, false);
        if (event) this.emitEvent(event);
        return;
      }
      case 'user_joined':
        this.members.set(frame.user_id, frame.username);
        this.keyring?.addCard(frame.user_id, frame.card);
        this.emitEvent({ type: 'join', at, userId: frame.user_id, username: frame.username });
        this.checkVerifiedName(frame.user_id, frame.username, at);
        return;
      case 'user_left':
        this.members.delete(frame.user_id);
        this.keyring?.forget(frame.user_id);
        this.emitEvent({ type: 'leave', at, userId: frame.user_id, username: frame.username });
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
        return;
      }
      case 'cleared':
        this.emitEvent({ type: 'cleared', at, by: frame.by });
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
        this.onDaemonError(frame.code, at);
        return;
      case 'shutdown':
        this.emitEvent({ type: 'shutdown', at });
        this.end(new SessionError('shutdown', 'the daemon is shutting down'));
        return;
      case 'private': {
        const { from, to, text } = frame.data;
        if (from !== this.me.user_id && to !== this.me.user_id) return; // not ours: never shown
        const plaintext = this.keyring?.openPrivateBetween(from, to, text);
        const body = plaintext?.toString('utf8') ?? '';
        plaintext?.fill(0);
        if (from !== this.me.user_id) this.lastPrivatePeer = from;
        else if (this.unechoed.delete(text) && this.unechoed.size === 0) {
          for (const resolve of this.echoWaiters.splice(0)) resolve();
        }
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
        });
        return;
      }
    }
  }

  private onDaemonError(code: string, at: number): void {
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
      this.end(new SessionError('connection_lost', message, code));
      return;
    }
    this.emitEvent({ type: 'error', at, code, message });
  }

  /** Decrypts and checks one message; undefined for a replay of a message already shown. */
  private openMessage(data: MessageData, history: boolean): MessageEvent | undefined {
    const event: MessageEvent = {
      type: 'message',
      id: data.id,
      at: messageTimeMs(data.timestamp),
      userId: data.user_id,
      username: data.username,
      kind: 'text',
      body: '',
      mine: data.user_id === this.me.user_id,
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
      if (event.signature === 'valid' && this.keyring?.isVerified(data.user_id)) event.verified = true;
      else if (envelope.sig === undefined) event.signature = 'unsigned';
      // A replay is shown once; but a copy attributed to someone whose signature it is not
      // (another member replaying it, a daemon re-attributing it) is shown, flagged.
      const suspicious = event.signature === 'invalid' || event.signature === 'no_card';
      if (this.seenIds.has(envelope.id) && !suspicious) return undefined;
      this.rememberId(envelope.id);
      event.kind = envelope.kind;
      event.body = envelope.body;
      // A valid signature identifies the member by key: a `from` left over from before a
      // rename is not a forgery. Without one, the sealed name is all there is to compare.
      if (envelope.from !== data.username && event.signature !== 'valid') event.forgedFrom = envelope.from;
      if (event.mine && this.unechoed.delete(envelope.id) && this.unechoed.size === 0) {
        for (const resolve of this.echoWaiters.splice(0)) resolve();
      }
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
    if (event.mine && this.unechoed.delete(data.text) && this.unechoed.size === 0) {
      for (const resolve of this.echoWaiters.splice(0)) resolve();
    }
    return event;
  }

  private rememberId(id: string): void {
    this.seenIds.add(id);
    if (this.seenIds.size > SEEN_IDS) {
      const oldest = this.seenIds.values().next().value;
      if (oldest !== undefined) this.seenIds.delete(oldest);
    }
  }
}
