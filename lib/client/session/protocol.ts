/**
 * How a session speaks to its daemon, chosen once from the handshake's mode so that the
 * session never tests the mode itself: the current protocol here (messages sealed in
 * envelopes with an id and a signature, member keys, reconnection with the same ids), or the
 * original protocol's adapters (original.ts: bare Fernet tokens, and no channel at all
 * against an original daemon).
 */
import { type Envelope, newMessageId, openEnvelope, sealEnvelope } from '../../crypto/envelope.js';
import type { Fernet } from '../../crypto/fernet.js';
import { type MessageData, messageTimeMs } from '../../protocol/frames.js';
import type { ProtocolMode } from '../../protocol/handshake-client.js';
import type { MessageEvent } from '../events.js';
import type { MemberKeyring } from './member-keys.js';
import { bareProtocol } from './original.js';
import type { Outgoing } from './outbox.js';
import { type ChannelKeys, channelRecords, type RecordLayer } from './records.js';
import type { RoomView } from './room-view.js';
import { SeenIds } from './seen-ids.js';

/** Messages written but not yet echoed, at most (the daemon remembers more ids than this). */
export const MAX_IN_FLIGHT = 256;

export interface SessionProtocol {
  readonly mode: ProtocolMode;
  /**
   * Messages carry ids the daemon recognises a resend by: the session may reconnect and take
   * its name back, and writes again a message whose echo is overdue.
   */
  readonly resumable: boolean;
  /** Messages written and not yet echoed, at most, before the next waits. */
  readonly maxInFlight: number;
  /** The daemon is watched with keepalive pings (there is a channel to carry them). */
  readonly keepalive: boolean;
  /** The record layer of a new connection (it takes the handshake's channel keys). */
  records(keys: ChannelKeys): RecordLayer;
  /** The frame that joins the room, or undefined when the handshake joined already. */
  joinFrame(username: string): object | undefined;
  /** The goodbye frame, so the daemon holds no name for us; undefined if there is none. */
  leaveFrame(): object | undefined;
  /** Why a command is not available in this protocol, or undefined when it is. */
  unsupported(what: string): string | undefined;
  /** A new message of ours, sealed for the room. */
  seal(kind: 'text' | 'me', body: string): Outgoing;
  /** The frame that writes `message` (sealed again first if our user id changed since). */
  messageFrame(message: Outgoing): object;
  /** A message of the room, opened and checked; undefined for a replay of one already shown. */
  open(data: MessageData, history: boolean): MessageEvent | undefined;
}

/** What the protocol reads of the session. */
export interface ProtocolContext {
  readonly fernet: Fernet;
  readonly view: RoomView;
  /** Our message `id` came back: it is confirmed. */
  confirmed(id: string): void;
  /** An original daemon reported an error as text. */
  daemonError(message: string): void;
}

/** The protocol of a handshake's mode. */
export function protocolFor(mode: ProtocolMode, context: ProtocolContext): SessionProtocol {
  const keyring = context.view.keyring;
  return mode === 'v2' && keyring ? currentProtocol(context, keyring) : bareProtocol(mode, context);
}

/** A message event before its body is opened. */
export function messageEvent(data: MessageData, history: boolean, mine: boolean): MessageEvent {
  return {
    type: 'message',
    id: data.id,
    at: messageTimeMs(data.timestamp),
    userId: data.user_id,
    username: data.username,
    kind: 'text',
    body: '',
    mine,
    history,
    undecryptable: false,
  };
}

/** The current protocol (v2): envelopes with ids, signatures and member keys. */
function currentProtocol(context: ProtocolContext, keyring: MemberKeyring): SessionProtocol {
  const { fernet, view } = context;
  const seen = new SeenIds();
  const sealFor = (id: string, kind: 'text' | 'me', body: string): string => {
    const sig = keyring.sign(id, kind, body);
    return sealEnvelope(fernet, { from: view.me.username, id, kind, body, ...(sig ? { sig } : {}) });
  };
  return {
    mode: 'v2',
    resumable: true,
    maxInFlight: MAX_IN_FLIGHT,
    keepalive: true,
    records: channelRecords,
    joinFrame: (username) => ({ type: 'join', username, card: keyring.ownCard() }),
    leaveFrame: () => ({ type: 'leave' }),
    unsupported: () => undefined,
    seal(kind, body) {
      const id = newMessageId();
      return { id, kind, body, token: sealFor(id, kind, body), sealedFor: view.me.user_id };
    },
    messageFrame(message) {
      if (message.sealedFor !== view.me.user_id) {
        message.token = sealFor(message.id, message.kind, message.body);
        message.sealedFor = view.me.user_id;
      }
      return { type: 'message', text: message.token, mid: message.id };
    },
    open(data, history) {
      const event = messageEvent(data, history, keyring.isOwn(data.user_id));
      let envelope: Envelope;
      try {
        envelope = openEnvelope(fernet, data.text);
      } catch {
        event.undecryptable = true;
        return event;
      }
      event.signature = keyring.check(data.user_id, envelope);
      // A member no longer present (history) has no card left to check: unverified, not changed.
      if (!event.mine)
        event.trust = view.members.has(data.user_id)
          ? keyring.trustOf(data.user_id, data.username)
          : 'unverified';
      if (event.signature === 'valid' && event.trust === 'verified') event.verified = true;
      else if (envelope.sig === undefined) event.signature = 'unsigned';
      // A replay is shown once; but a copy attributed to someone whose signature it is not
      // (another member replaying it, a daemon re-attributing it) is shown, flagged.
      const suspicious = event.signature === 'invalid' || event.signature === 'no_card';
      if (seen.has(envelope.id) && !suspicious) {
        if (event.mine) context.confirmed(envelope.id);
        return undefined;
      }
      seen.add(envelope.id);
      event.kind = envelope.kind;
      event.body = envelope.body;
      // A valid signature identifies the member by key: a `from` left over from before a
      // rename is not a forgery. Without one, the sealed name is all there is to compare.
      if (envelope.from !== data.username && event.signature !== 'valid') event.forgedFrom = envelope.from;
      if (event.mine) context.confirmed(envelope.id);
      return event;
    },
  };
}
