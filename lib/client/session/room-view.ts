/**
 * What a session knows of its room: who we are, who is present, the members' keys and trust
 * states, the safety phrase, and the peer of the last private message. Membership frames
 * update it and become join, leave and rename events; a member taking a trusted name with
 * another key is announced loudly.
 */
import { type Member, messageTimeMs, type ServerFrame } from '../../protocol/frames.js';
import type { ChatEvent, PrivateEvent } from '../events.js';
import { checkMessageSize } from '../message-size.js';
import { SessionError } from './error.js';
import type { MemberKeyring, TrustState } from './member-keys.js';
import { MAX_TOKEN_CHARS } from './options.js';
import { type PhraseSnapshot, SafetyPhraseTracker } from './safety-tracker.js';

/** What /whois says of a present member. */
export interface WhoisResult {
  member: Member;
  fingerprint: string | undefined;
  verified: boolean;
  trust: TrustState;
}

type InitFrame = Extract<ServerFrame, { type: 'init' }>;
type PrivateData = Extract<ServerFrame, { type: 'private' }>['data'];
type MembershipFrame = Extract<ServerFrame, { type: 'user_joined' | 'user_left' | 'user_renamed' }>;

export class RoomView {
  me: Member = { user_id: '', username: '' };
  /** Present members: user_id → name. */
  readonly members = new Map<string, string>();
  /** The other member of the last private message sent or received. */
  lastPrivatePeer: string | undefined;
  /** The room's safety phrase over the members' keys (with member keys only). */
  private readonly safety: SafetyPhraseTracker | undefined;

  constructor(
    /** The room fingerprint of the first connection. */
    readonly fingerprint: string,
    /** Per-session member keys and the others' cards; undefined in the original protocol. */
    readonly keyring: MemberKeyring | undefined,
    private readonly emit: (event: ChatEvent) => void,
  ) {
    if (keyring) {
      this.safety = new SafetyPhraseTracker(
        () => this.phraseSnapshot(keyring),
        (phrase, members) => this.emit({ type: 'safety_phrase', at: Date.now(), phrase, members }),
      );
    }
  }

  /** An `init`: the membership as the daemon sees it now. */
  reset(frame: InitFrame, at: number): void {
    this.me = { ...frame.you };
    this.members.clear();
    for (const m of frame.users) {
      this.members.set(m.user_id, m.username);
      this.keyring?.addCard(m.user_id, m.card);
    }
    this.members.set(frame.you.user_id, frame.you.username);
    for (const m of frame.users) this.checkVerifiedName(m.user_id, m.username, at);
    this.safety?.changed();
  }

  /** A member joined, left or was renamed: updated and announced. */
  apply(frame: MembershipFrame, at: number): void {
    switch (frame.type) {
      case 'user_joined':
        this.members.set(frame.user_id, frame.username);
        this.keyring?.addCard(frame.user_id, frame.card);
        this.emit({ type: 'join', at, userId: frame.user_id, username: frame.username });
        this.checkVerifiedName(frame.user_id, frame.username, at);
        break;
      case 'user_left':
        this.members.delete(frame.user_id);
        this.keyring?.forget(frame.user_id);
        this.emit({ type: 'leave', at, userId: frame.user_id, username: frame.username });
        break;
      case 'user_renamed':
        this.members.set(frame.user_id, frame.new);
        if (frame.user_id === this.me.user_id) this.me = { ...this.me, username: frame.new };
        this.emit({ type: 'rename', at, userId: frame.user_id, old: frame.old, new: frame.new });
        this.checkVerifiedName(frame.user_id, frame.new, at);
        break;
    }
    this.safety?.changed();
  }

  /** Current members, sorted by name. */
  memberList(): Member[] {
    return [...this.members.entries()]
      .map(([user_id, username]) => ({ user_id, username }))
      .sort((x, y) => x.username.localeCompare(y.username));
  }

  /** A present member by name (exact, else case-insensitive), with its fingerprint if it has a card. */
  whois(name: string): WhoisResult | undefined {
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

  /** The trust state of a present member as an event field (none without member keys). */
  trustField(userId: string): { trust?: TrustState } {
    const username = this.members.get(userId);
    return this.keyring && username !== undefined ? { trust: this.keyring.trustOf(userId, username) } : {};
  }

  /** Marks a member verified if `code` is its fingerprint; says why not otherwise. */
  verifyMember(name: string, code: string): 'verified' | 'mismatch' | 'no_card' | 'unknown' | 'self' {
    const found = this.whois(name);
    if (!found) return 'unknown';
    if (found.member.user_id === this.me.user_id) return 'self';
    if (!this.keyring || found.fingerprint === undefined) return 'no_card';
    return this.keyring.verify(found.member.user_id, found.member.username, code) ? 'verified' : 'mismatch';
  }

  /** The room's safety phrase as this member sees the membership now (undefined without keys). */
  safetyPhrase(): Promise<string> | undefined {
    return this.safety?.current();
  }

  /** The name of the member of the last private exchange still in the room, for /reply. */
  get replyTarget(): string | undefined {
    return this.lastPrivatePeer === undefined ? undefined : this.members.get(this.lastPrivatePeer);
  }

  /**
   * A private message to the member named `name`, sealed to its key: the frame to write.
   * Throws a SessionError when the member is unknown, has no key (an original client), or
   * has another key than the one we trust.
   */
  sealPrivate(name: string, body: string): { type: 'private'; to: string; text: string } {
    checkMessageSize(body);
    const found = this.whois(name);
    if (!found || found.member.user_id === this.me.user_id) {
      throw new SessionError('refused', `no other member named ${name}`);
    }
    const { user_id: to, username } = found.member;
    if (found.trust === 'changed') {
      throw new SessionError(
        'refused',
        `${username} has another key than the one you trust (${this.keyring?.expectedFor(username)}): private message NOT sent`,
      );
    }
    const text = this.keyring?.sealPrivateFor(to, Buffer.from(body, 'utf8'));
    if (text === undefined) {
      throw new SessionError('refused', `${username} has no key: private messages to it are not possible`);
    }
    if (text.length > MAX_TOKEN_CHARS) throw new SessionError('protocol', 'message too long');
    this.lastPrivatePeer = to;
    return { type: 'private', to, text };
  }

  /** A private message to us or from us (our own is the daemon's receipt); undefined if not ours. */
  openPrivate(data: PrivateData): PrivateEvent | undefined {
    const { from, to, text } = data;
    const me = this.me.user_id;
    if (from !== me && to !== me) return undefined; // not ours: never shown
    const plaintext = this.keyring?.openPrivateBetween(from, to, text);
    const body = plaintext?.toString('utf8') ?? '';
    plaintext?.fill(0);
    if (from !== me) this.lastPrivatePeer = from;
    return {
      type: 'private',
      at: messageTimeMs(data.timestamp),
      fromUserId: from,
      from: this.members.get(from) ?? from,
      toUserId: to,
      to: this.members.get(to) ?? to,
      body,
      mine: from === me,
      undecryptable: plaintext === undefined,
      ...this.trustField(from === me ? to : from),
    };
  }

  dispose(): void {
    this.safety?.dispose();
  }

  /** Announces loudly a member who takes a pinned or verified name (or a look-alike) with another key. */
  private checkVerifiedName(userId: string, username: string, at: number): void {
    const expected = this.keyring?.keyChangedFor(userId, username);
    if (expected === undefined) return;
    const now = this.keyring?.fingerprintOf(userId) ?? 'no key';
    this.emit({
      type: 'error',
      at,
      code: 'key_changed',
      message:
        `${username} is NOT the member you trust: key ${now}, expected ${expected}. ` +
        'Private messages to it are refused; verify again out of band.',
    });
  }

  private phraseSnapshot(keyring: MemberKeyring): PhraseSnapshot {
    const members = [...this.members].map(([userId, name]) => keyring.phraseMember(userId, name));
    return { roomFingerprint: this.fingerprint, members };
  }
}
