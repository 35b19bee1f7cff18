/**
 * What the UIs ask of a session about its room (who we are, who is present, their keys and
 * trust, the safety phrase, whom /reply answers), answered from its room view. The base of
 * ChatSession, which adds the connection and the traffic; its events are delivered through
 * HeldEvents.
 */
import type { Member } from '../../protocol/frames.js';
import { HeldEvents } from './held-events.js';
import type { MemberKeyring, TrustState } from './member-keys.js';
import { RoomView, type WhoisResult } from './room-view.js';

export abstract class RoomQueries extends HeldEvents {
  protected readonly view: RoomView;

  constructor(
    /** The room fingerprint of the first connection; a reconnect to another one is refused. */
    readonly fingerprint: string,
    /** Per-session member keys and the others' cards; undefined in the original protocol. */
    readonly keyring: MemberKeyring | undefined,
  ) {
    super();
    this.view = new RoomView(fingerprint, keyring, (event) => this.emitEvent(event));
  }

  /** Who we are in the room. */
  get me(): Member {
    return this.view.me;
  }

  /** Current members, sorted by name. */
  memberList(): Member[] {
    return this.view.memberList();
  }

  /** A present member by name (exact, else case-insensitive), with its fingerprint if it has a card. */
  whois(name: string): WhoisResult | undefined {
    return this.view.whois(name);
  }

  /** A member's trust state ('unverified' without member keys: nothing can be checked). */
  trustOf(member: Member): TrustState {
    return this.view.trustOf(member);
  }

  /** The room's safety phrase as this member sees the membership now (undefined without keys). */
  safetyPhrase(): Promise<string> | undefined {
    return this.view.safetyPhrase();
  }

  /** The fingerprint of a member's keys, or undefined for a member without a valid card. */
  memberFingerprint(userId: string): string | undefined {
    return this.keyring?.fingerprintOf(userId);
  }

  /** Marks a member verified if `code` is its fingerprint; says why not otherwise. */
  verifyMember(name: string, code: string): 'verified' | 'mismatch' | 'no_card' | 'unknown' | 'self' {
    return this.view.verifyMember(name, code);
  }

  /** The name of the member of the last private exchange still in the room, for /reply. */
  get replyTarget(): string | undefined {
    return this.view.replyTarget;
  }
}
