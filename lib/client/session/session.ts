/**
 * A client's session with a room: connect, authenticate, join, then send and receive; the
 * daemon's frames become checked ChatEvents, and nothing here knows of terminals. This file
 * holds the lifecycle; the connection and its records, the protocol adapter, the room view
 * and feed, the sender and the reconnection loop are the modules beside it.
 *
 * The session outlives its connection: a lost one is re-established (back-off), the name is
 * taken back with the resume secret of the last join, what was missed is shown, and what was
 * queued or unconfirmed is sent once (messages carry their id, `mid`, for the daemon).
 */
import { Fernet } from '../../crypto/fernet.js';
import { roomFingerprint } from '../../crypto/kdf.js';
import { wipe } from '../../crypto/secret.js';
import type { ServerFrame } from '../../protocol/frames.js';
import type { ClientHandshakeResult, MasterCache, ProtocolMode } from '../../protocol/handshake-client.js';
import { type ClientLimits, defaultClientLimits } from '../../protocol/limits.js';
import type { MessageEvent } from '../events.js';
import { checkMessageSize } from '../message-size.js';
import { type BackoffPolicy, defaultBackoff } from './backoff.js';
import {
  daemonError,
  firstHandshake,
  handshakeRequest,
  reauthenticate,
  recoverable,
  toSessionError,
  Wire,
} from './connection.js';
import { SessionError } from './error.js';
import type { LineQueue } from './line-queue.js';
import { MemberKeyring } from './member-keys.js';
import { DEFAULT_MAX_QUEUED_LINES, RESEND_AFTER_MS, type SessionOptions } from './options.js';
import { Pings } from './pings.js';
import { protocolFor, type SessionProtocol } from './protocol.js';
import { Reconnector, ResumeSecrets } from './reconnect.js';
import { RoomFeed } from './room-feed.js';
import { RoomQueries } from './room-queries.js';
import { Sender } from './sender.js';

export { SessionError, type SessionErrorCode } from './error.js';
export type { SessionEvents } from './held-events.js';
export {
  DEFAULT_MAX_QUEUED_LINES,
  MAX_TOKEN_CHARS,
  RESEND_AFTER_MS,
  type SessionOptions,
} from './options.js';
export { MAX_IN_FLIGHT } from './protocol.js';

type Waiter<T> = { resolve: (value: T) => void; reject: (err: SessionError) => void };

export class ChatSession extends RoomQueries {
  readonly room: string;
  /** How the room is protected: 'v2', 'legacy-room' (v1 room key) or 'v1' (no channel). */
  readonly mode: ProtocolMode;
  /** Older messages the daemon no longer held when we joined (its history is bounded). */
  historyOmitted = 0;
  private readonly protocol: SessionProtocol;
  private readonly fernet: Fernet;
  /** The current connection; undefined while reconnecting and after the end. */
  private wire: Wire | undefined;
  /** The history of an init that arrived before join() asked for it (v1 sends it unasked). */
  private earlyInit: MessageEvent[] | undefined;
  /** Our messages from `send()` to their echo. */
  private readonly sender: Sender;
  /** The room's events made into ChatEvents; our place in the room's log. */
  private readonly feed: RoomFeed;
  private pendingJoin: Waiter<MessageEvent[]> | undefined;
  private pendingNick: Waiter<void> | undefined;
  private readonly pings = new Pings();
  private closed = false;
  private joined = false;
  /** Joined on the current connection (false while reconnecting). */
  private connected = false;
  /** What a reconnect needs; undefined when the session does not reconnect. */
  private readonly secrets: ResumeSecrets | undefined;
  private readonly reconnector: Reconnector | undefined;

  private constructor(
    private readonly options: SessionOptions,
    password: string | Buffer,
    queue: LineQueue,
    result: ClientHandshakeResult,
    private readonly limits: ClientLimits,
    masterCache: MasterCache,
  ) {
    const fernet = new Fernet(result.roomKey);
    const { identitySeed, trust: pins } = options;
    super(
      roomFingerprint(result.roomKey),
      result.mode === 'v2' ? new MemberKeyring(fernet, result.userId, { identitySeed, pins }) : undefined,
    );
    this.fernet = fernet;
    this.room = result.room;
    this.mode = result.mode;
    this.view.me = { user_id: result.userId, username: options.username ?? '' };
    this.protocol = protocolFor(result.mode, {
      fernet: this.fernet,
      view: this.view,
      confirmed: (id) => this.sender.confirmed(id),
      daemonError: (message) => this.emitEvent({ type: 'error', at: Date.now(), code: 'daemon', message }),
    });
    const maxQueued = Math.max(1, options.maxQueuedLines ?? DEFAULT_MAX_QUEUED_LINES);
    this.sender = new Sender(this.protocol, maxQueued, options.resendAfterMs ?? RESEND_AFTER_MS, {
      isClosed: () => this.closed,
      isConnected: () => this.connected && !this.closed,
      needsDrain: () => this.wire?.stream.writableNeedDrain ?? false,
      write: (frame) => this.sendFrame(frame),
    });
    this.feed = new RoomFeed(this.protocol, this.view, this.sender, (event) => this.emitEvent(event));
    // Only a protocol with message ids can take a name back and recognise a resend.
    if (this.protocol.resumable && options.reconnect !== false) {
      const policy: BackoffPolicy = {
        ...defaultBackoff,
        ...(typeof options.reconnect === 'object' ? options.reconnect : {}),
      };
      this.reconnector = new Reconnector(policy, {
        isClosed: () => this.closed,
        emitEvent: (event) => this.emitEvent(event),
        end: (error) => this.end(error),
        rejoin: () => this.rejoin(),
      });
      this.secrets = new ResumeSecrets(password, masterCache);
    } else {
      wipe(masterCache.master, masterCache.salt);
    }
    this.attach(queue, result);
  }

  /** Connects and authenticates (firstHandshake); the session is not in the room until `join()`. */
  static async open(options: SessionOptions): Promise<ChatSession> {
    const limits = { ...defaultClientLimits, ...options.limits };
    options.onStage?.('connecting');
    const masterCache: MasterCache = {};
    const { password: source, legacy, original } = options;
    try {
      const request = handshakeRequest(options, limits, masterCache, source, legacy, original);
      const { queue, result, password } = await firstHandshake(request);
      options.onStage?.('verifying');
      return new ChatSession(options, password, queue, result, limits, masterCache);
    } catch (err) {
      wipe(masterCache.master);
      throw toSessionError(err);
    }
  }

  /** Makes an authenticated connection the session's current one. */
  private attach(queue: LineQueue, result: ClientHandshakeResult): void {
    const records = this.protocol.records(result);
    wipe(result.c2s, result.s2c, result.tag, result.roomKey);
    const keepaliveMs = this.protocol.keepalive ? this.limits.keepaliveMs : 0;
    const wire = new Wire(queue, records, keepaliveMs, this.limits.maxRecordBytes, {
      frame: (from, frame) => this.onFrame(from, frame),
      lost: (from, error) => this.onWireLost(from, error),
      drain: () => this.sender.pump(),
    });
    this.wire = wire;
    wire.start();
  }

  /**
   * Joins the room under `username` and resolves with the room's history (oldest first),
   * which is not emitted as events: the caller shows it, then listens. Events that arrive
   * before a listener is attached are held and delivered to the first one, so none is lost.
   * Rejects with `name_taken` or `bad_name` (the caller may try again with another name).
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
      const frame = this.protocol.joinFrame(username);
      if (frame) this.sendFrame(frame);
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
    const frame = this.view.sealPrivate(name, body);
    this.sender.privateSent(frame.text);
    this.sendFrame(frame);
  }

  /**
   * Encrypts and sends a message; returns its id. While reconnecting it is queued and sent
   * after rejoining. Throws MessageTooLongError for a body over MAX_MESSAGE_BYTES, and
   * SessionError (`refused`) when the queue is full (nothing is sent). `writable` turns false
   * when the caller should wait (`waitWritable()`).
   */
  send(body: string, kind: 'text' | 'me' = 'text'): string {
    if (!this.joined || this.closed) throw new SessionError('connection_lost', 'not in the room');
    checkMessageSize(body);
    return this.sender.send(kind, body);
  }

  /**
   * True when the caller may send more now. Connected: nothing waits to be written and the
   * connection's buffer has room. Reconnecting: the queue has room.
   */
  get writable(): boolean {
    return this.sender.writable;
  }

  waitWritable(): Promise<void> {
    return this.sender.waitWritable();
  }

  /** Messages the daemon told us were lost while we were away (not wiped: gone from its window). */
  get messagesLost(): number {
    return this.feed.lost;
  }

  /** Number of our messages not yet confirmed by the daemon (queued, unechoed, private receipts). */
  get unechoedCount(): number {
    return this.sender.unechoedCount;
  }

  /** Resolves once every message sent so far has come back from the daemon (or the session ended). */
  waitForEchoes(): Promise<void> {
    return this.sender.waitForEchoes();
  }

  /** Wipes the room's history on the daemon, for everyone. */
  wipeHistory(): void {
    this.requireConnected('/clear');
    this.sendFrame({ type: 'clear' });
  }

  /** Changes our name; rejects with `name_taken` or `bad_name`. */
  nick(username: string): Promise<void> {
    const unsupported = this.protocol.unsupported('/nick');
    if (unsupported) return Promise.reject(new SessionError('refused', unsupported));
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
    const unsupported = this.protocol.unsupported('round-trip time');
    if (unsupported) return Promise.reject(new SessionError('refused', unsupported));
    if (this.closed) return Promise.reject(new SessionError('connection_lost', 'the session is closed'));
    if (!this.connected)
      return Promise.reject(new SessionError('connection_lost', 'not connected (reconnecting)'));
    return this.pings.start((t) => this.sendFrame({ type: 'ping', t }), timeoutMs);
  }

  /**
   * Closes the connection after flushing what was written. The daemon is told it is a
   * goodbye, so it does not hold our name for a reconnect.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const wire = this.wire;
    const leave = this.protocol.leaveFrame();
    if (this.connected && leave) this.sendFrame(leave);
    this.end(undefined);
    return wire ? wire.end() : Promise.resolve();
  }

  private sendFrame(frame: object): void {
    if (this.closed) return;
    this.wire?.send(frame);
  }

  /** The connection `wire` ended: reconnect if we may, else end the session. */
  private onWireLost(wire: Wire, lost: SessionError): void {
    if (this.closed || wire !== this.wire) return;
    this.dropWire(wire, true);
    const error = wire.lostBecause(lost);
    if (!this.joined || !this.reconnector || !recoverable(error)) {
      this.end(error);
      return;
    }
    this.connected = false;
    this.pendingNick?.reject(error);
    this.pendingNick = undefined;
    this.pings.fail(error);
    const unconfirmed = this.sender.privateLost();
    if (unconfirmed) this.emitEvent(unconfirmed);
    this.emitEvent({
      type: 'disconnected',
      at: Date.now(),
      reason: error.message,
      pending: this.sender.pending,
    });
    this.sender.progress();
    void this.reconnector.run(error);
  }

  private dropWire(wire: Wire, destroy: boolean): void {
    if (this.wire === wire) this.wire = undefined;
    wire.drop(destroy);
  }

  /**
   * One reconnect: authenticate again (scrypt only if the daemon's salt changed), refuse a
   * room whose fingerprint changed, take our name back with the resume secret, and wait for
   * the `init`, which the frame handler turns into `reconnected` and the missed messages.
   */
  private async rejoin(): Promise<void> {
    const secrets = this.secrets as ResumeSecrets;
    const request = handshakeRequest(this.options, this.limits, secrets.master, secrets.password);
    const auth = await reauthenticate(request, this.fingerprint);
    const { queue, result } = auth;
    if (this.closed) {
      wipe(result.c2s, result.s2c, result.tag, result.roomKey);
      queue.conn.stream.destroy();
      return;
    }
    this.attach(queue, result);
    this.view.me.user_id = result.userId;
    this.keyring?.rebind(result.userId);
    const joined = new Promise<MessageEvent[]>((resolve, reject) => {
      this.pendingJoin = { resolve, reject };
    });
    const timer = setTimeout(() => {
      const wire = this.wire;
      if (wire) this.onJoinTimeout(wire);
    }, this.limits.stepTimeoutMs);
    const resume = secrets.token;
    const after = this.feed.position;
    this.sendFrame({
      ...this.protocol.joinFrame(this.me.username),
      ...(resume !== undefined ? { resume } : {}),
      // Our place in the room's log: the daemon sends everything after it.
      ...(resume !== undefined && after !== undefined ? { after } : {}),
    });
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
  private rejoined(missed: MessageEvent[], behind: number, restarted: boolean): void {
    this.connected = true;
    this.reconnector?.rejoined();
    this.emitEvent({
      type: 'reconnected',
      at: Date.now(),
      attempt: this.reconnector?.attempt ?? 0,
      // What the init carried, and the events it says follow after our cursor (exact).
      missed: missed.length + behind,
      pending: this.sender.pending,
    });
    // Not a gap: the count of what was said meanwhile is unknown, and is not counted as lost.
    if (restarted) this.emitEvent({ type: 'restarted', at: Date.now() });
    for (const event of missed) this.emitEvent(event);
    this.sender.resume();
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
    this.connected = false;
    this.reconnector?.wake();
    this.view.dispose();
    const wire = this.wire;
    if (wire) this.dropWire(wire, error !== undefined);
    this.fernet.destroy();
    this.secrets?.wipe();
    const reason = error ?? new SessionError('connection_lost', 'the session is closed');
    this.pendingJoin?.reject(reason);
    this.pendingNick?.reject(reason);
    this.pendingJoin = undefined;
    this.pendingNick = undefined;
    this.pings.fail(reason);
    this.sender.stop();
    this.emitClose(error);
  }

  private onFrame(wire: Wire, frame: ServerFrame): void {
    if (this.closed || wire !== this.wire) return;
    const at = Date.now();
    if (this.feed.handle(frame, at)) {
      if (frame.type === 'user_renamed' && frame.user_id === this.me.user_id) {
        const nick = this.pendingNick;
        this.pendingNick = undefined;
        nick?.resolve();
      }
      return;
    }
    switch (frame.type) {
      case 'init':
        this.onInit(frame);
        return;
      case 'ping': // the daemon's keepalive
        this.sendFrame({ type: 'pong', t: frame.t });
        return;
      case 'pong':
        this.pings.answered(frame.t);
        return;
      case 'error':
        this.onDaemonError(wire, frame.code, at);
        return;
      case 'shutdown':
        this.emitEvent({ type: 'shutdown', at });
        this.onWireLost(wire, new SessionError('shutdown', 'the daemon is shutting down'));
        return;
    }
  }

  private onInit(frame: Extract<ServerFrame, { type: 'init' }>): void {
    const rejoin = this.joined;
    this.joined = true;
    if (!rejoin) this.connected = true;
    this.historyOmitted = frame.omitted ?? 0;
    if (frame.resume !== undefined) this.secrets?.issued(frame.resume);
    const { history, behind, restarted } = this.feed.init(frame, rejoin);
    const join = this.pendingJoin;
    this.pendingJoin = undefined;
    if (rejoin) this.rejoined(history, behind, restarted);
    else if (!join) this.earlyInit = history;
    join?.resolve(history);
    if (!rejoin) this.sender.pump();
  }

  private onDaemonError(wire: Wire, code: string, at: number): void {
    const err = daemonError(code);
    const message = err.message;
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
}
