/**
 * A session's view of member identity: its own keys (a long-term signing key with
 * `--identity`) and card, the verified cards of the other members (by user_id), the check of
 * each message's signature against the card of the member the daemon attributes it to, and
 * the trust state of each member: `verified` (its fingerprint is pinned for its name, or was
 * confirmed with /verify in this session: by key, so it survives reconnects), `changed` (its
 * name, or a look-alike of it, is pinned or was verified with another key) or `unverified`.
 * Pure bookkeeping over crypto/identity.ts; knows nothing of frames or terminals.
 */
import type { Envelope } from '../../crypto/envelope.js';
import type { Fernet } from '../../crypto/fernet.js';
import {
  createMemberKeys,
  type MemberCard,
  type MemberKeys,
  memberFingerprint,
  openCard,
  openPrivate,
  pairwiseKey,
  sealCard,
  sealPrivate,
  signMessage,
  verifyMessage,
} from '../../crypto/identity.js';
import type { PhraseMember } from '../../crypto/safety-phrase.js';
import { nameClass } from '../../protocol/names.js';
import type { TrustPins } from './trust-pins.js';

/**
 * What a receiver can say about who wrote a message:
 * - `valid`: signed by the key in the card of the member the daemon names;
 * - `unsigned`: no signature (an original client, or a client without keys);
 * - `invalid`: a signature that does not verify (forged, replayed by another member, altered,
 *   or re-attributed by the daemon);
 * - `no_card`: signed, but the member has no valid card (the daemon withheld or swapped it).
 */
export type SignatureStatus = 'valid' | 'unsigned' | 'invalid' | 'no_card';

/** Whether a member is who the user expects (see the module comment). */
export type TrustState = 'verified' | 'unverified' | 'changed';

/** Bound on remembered cards: one per member, with room for churn. */
const MAX_CARDS = 4096;
/** Bound on fingerprints (and name keys) verified in one session. */
const MAX_VERIFIED = 4096;

/** What a keyring starts from besides the room key. */
export interface KeyringOptions {
  /** The long-term signing seed (`--identity`); fresh keys without it. Copied, not kept. */
  identitySeed?: Buffer | undefined;
  /** Pinned names and fingerprints (`--trust`). */
  pins?: TrustPins | undefined;
}

/** Drops the oldest entry of a full collection, so one more fits under MAX_VERIFIED. */
function makeRoom(collection: Set<string> | Map<string, string>): void {
  if (collection.size < MAX_VERIFIED) return;
  const oldest = collection.keys().next().value;
  if (oldest !== undefined) collection.delete(oldest);
}

export class MemberKeyring {
  private readonly keys: MemberKeys;
  private readonly cards = new Map<string, MemberCard>();
  private readonly pins: TrustPins | undefined;
  /** Fingerprints the user confirmed with /verify in this session. */
  private readonly verifiedKeys = new Set<string>();
  /** The fingerprint verified under each name's `nameClass`, to notice it (or a look-alike) back with another key. */
  private readonly verifiedNames = new Map<string, string>();
  /** Fingerprints the user was told, once, what an unverified /msg risks. */
  private readonly warnedPrivate = new Set<string>();
  /** This session's own fingerprint, for `/whois` of oneself. */
  readonly fingerprint: string;

  /** Our user_ids of earlier connections of this session (a reconnect gets a new one). */
  private readonly ownEarlierIds = new Set<string>();

  constructor(
    private readonly fernet: Fernet,
    private userId: string,
    options: KeyringOptions = {},
  ) {
    this.keys = createMemberKeys(options.identitySeed);
    this.pins = options.pins;
    this.fingerprint = memberFingerprint(this.keys.signPublic);
  }

  /**
   * After a reconnect: the same keys under the new connection's user_id (the next card names
   * it); messages signed under the earlier ids still check out as ours.
   */
  rebind(userId: string): void {
    if (userId === this.userId) return;
    this.ownEarlierIds.add(this.userId);
    if (this.ownEarlierIds.size > MAX_CARDS) {
      const oldest = this.ownEarlierIds.values().next().value;
      if (oldest !== undefined) this.ownEarlierIds.delete(oldest);
    }
    this.userId = userId;
  }

  /** Whether `userId` is this session's, now or on an earlier connection. */
  isOwn(userId: string): boolean {
    return userId === this.userId || this.ownEarlierIds.has(userId);
  }

  /** The card this session publishes in its `join`. */
  ownCard(): string {
    return sealCard(this.fernet, this.keys, this.userId);
  }

  /** Records the card found in `userId`'s slot; false (and nothing kept) when it does not check out. */
  addCard(userId: string, token: string | undefined): boolean {
    this.cards.delete(userId);
    if (token === undefined || userId === this.userId) return false;
    try {
      const card = openCard(this.fernet, token, userId);
      if (this.cards.size >= MAX_CARDS) {
        const oldest = this.cards.keys().next().value;
        if (oldest !== undefined) this.cards.delete(oldest);
      }
      this.cards.set(userId, card);
      return true;
    } catch {
      return false;
    }
  }

  forget(userId: string): void {
    this.cards.delete(userId);
  }

  /**
   * Marks the member `userId` (named `username`) verified when `code` is its fingerprint
   * (case, spaces and dashes ignored): its key from now on, under any name and after any
   * reconnect; the name (each of its keys) is remembered to notice it back with another key.
   */
  verify(userId: string, username: string, code: string): boolean {
    const fingerprint = this.fingerprintOf(userId);
    if (fingerprint === undefined || this.isOwn(userId)) return false;
    const canonical = (s: string): string => s.toUpperCase().replace(/[\s-]/g, '');
    if (canonical(code) !== canonical(fingerprint)) return false;
    makeRoom(this.verifiedKeys);
    this.verifiedKeys.add(fingerprint);
    makeRoom(this.verifiedNames);
    this.verifiedNames.set(nameClass(username), fingerprint);
    return true;
  }

  /** The fingerprint the user expects for `username` (pinned, else verified), if any. */
  expectedFor(username: string): string | undefined {
    const pinned = this.pins?.expected(username);
    if (pinned !== undefined) return pinned;
    return this.verifiedNames.get(nameClass(username));
  }

  /** The trust state of the member `userId` under the name `username` (ours: verified). */
  trustOf(userId: string, username: string): TrustState {
    if (this.isOwn(userId)) return 'verified';
    const fingerprint = this.fingerprintOf(userId);
    const expected = this.expectedFor(username);
    if (expected !== undefined) return fingerprint === expected ? 'verified' : 'changed';
    return fingerprint !== undefined && this.verifiedKeys.has(fingerprint) ? 'verified' : 'unverified';
  }

  isVerified(userId: string, username: string): boolean {
    return this.trustOf(userId, username) === 'verified';
  }

  /**
   * The fingerprint expected for `username` when `userId` (now using that name) has another
   * key (or none): the caller announces it. Undefined when nothing is amiss.
   */
  keyChangedFor(userId: string, username: string): string | undefined {
    return this.trustOf(userId, username) === 'changed' ? this.expectedFor(username) : undefined;
  }

  /** True the first time it is asked for this member's key: the caller warns before a /msg. */
  firstPrivateTo(userId: string): boolean {
    const fingerprint = this.fingerprintOf(userId) ?? userId;
    if (this.warnedPrivate.has(fingerprint)) return false;
    makeRoom(this.warnedPrivate);
    this.warnedPrivate.add(fingerprint);
    return true;
  }

  /** A member as the safety phrase sees it: its name and signing key (none without a card). */
  phraseMember(userId: string, username: string): PhraseMember {
    const signPublic = this.isOwn(userId) ? this.keys.signPublic : this.cards.get(userId)?.signPublic;
    return { name: username, signPublic };
  }

  /** A member's fingerprint, or undefined for a member without a valid card. */
  fingerprintOf(userId: string): string | undefined {
    return this.isOwn(userId) ? this.fingerprint : this.cards.get(userId)?.fingerprint;
  }

  /** True when `userId` has a valid card (so a private message to it is possible). */
  hasCard(userId: string): boolean {
    return this.cards.has(userId);
  }

  /** Seals `plaintext` for `toUserId` under our pairwise key; undefined without its card. */
  sealPrivateFor(toUserId: string, plaintext: Buffer): string | undefined {
    const card = this.cards.get(toUserId);
    if (!card) return undefined;
    const key = pairwiseKey(this.keys, this.userId, card);
    try {
      return sealPrivate(key, this.userId, toUserId, plaintext);
    } finally {
      key.fill(0);
    }
  }

  /**
   * Opens a private message between us and another member, in either direction (an incoming
   * one, or the daemon's receipt of our own); undefined when it does not authenticate.
   */
  openPrivateBetween(fromUserId: string, toUserId: string, text: string): Buffer | undefined {
    const peer = fromUserId === this.userId ? toUserId : fromUserId;
    if (fromUserId !== this.userId && toUserId !== this.userId) return undefined;
    const card = this.cards.get(peer);
    if (!card) return undefined;
    const key = pairwiseKey(this.keys, this.userId, card);
    try {
      return openPrivate(key, fromUserId, toUserId, text);
    } catch {
      return undefined;
    } finally {
      key.fill(0);
    }
  }

  /** The signature for an envelope this session sends. */
  sign(id: string, kind: string, body: string): string {
    return signMessage(this.keys, { userId: this.userId, id, kind, body });
  }

  /** Checks an envelope the daemon attributes to `userId`. */
  check(userId: string, envelope: Envelope): SignatureStatus {
    if (envelope.sig === undefined) return 'unsigned';
    if (this.isOwn(userId)) {
      // Ed25519 signatures are deterministic: ours (under whichever of our ids) are recomputed.
      const expected = signMessage(this.keys, {
        userId,
        id: envelope.id,
        kind: envelope.kind,
        body: envelope.body,
      });
      return expected === envelope.sig ? 'valid' : 'invalid';
    }
    const card = this.cards.get(userId);
    if (!card) return 'no_card';
    const content = { userId, id: envelope.id, kind: envelope.kind, body: envelope.body };
    return verifyMessage(card, content, envelope.sig) ? 'valid' : 'invalid';
  }
}
