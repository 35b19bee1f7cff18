/**
 * The card-minting attack of a room-key holder (the password-mode operator, or a
 * verifier-mode daemon with one member's help), run on the real daemon: every member it
 * admits is handed, for each other member, a card minted for that member's user_id with keys
 * the attacker made; messages are re-signed with the minted keys, and a private message is
 * opened with the minted key of its recipient and sealed again for the real one. What it read
 * is kept in `read`.
 */
import assert from 'node:assert/strict';
import { openEnvelope, sealEnvelope } from '../../lib/crypto/envelope.js';
import type { Fernet } from '../../lib/crypto/fernet.js';
import {
  createMemberKeys,
  type MemberKeys,
  openCard,
  openPrivate,
  pairwiseKey,
  sealCard,
  sealPrivate,
  signMessage,
} from '../../lib/crypto/identity.js';
import type { TestDaemon } from './daemon.js';

type Frame = Record<string, unknown>;
type Peer = { userId: string; sendSerialized(json: string): void };

export class CardMinter {
  /** Plaintexts of the private messages it opened. */
  readonly read: string[] = [];
  /** The attacker's keys for each member, as shown to the others. */
  private readonly minted = new Map<string, MemberKeys>();
  enabled = true;

  constructor(
    private readonly d: TestDaemon,
    private readonly room: string,
    /** The room key, as a holder of the password derives it. */
    private readonly fernet: Fernet,
  ) {
    const r = d.registry.get(room);
    assert.ok(r, `room ${room}`);
    const join = r.join.bind(r);
    r.join = ((peer: Peer, ...rest: unknown[]) => {
      const send = peer.sendSerialized.bind(peer);
      peer.sendSerialized = (json: string) => send(this.enabled ? this.rewrite(peer.userId, json) : json);
      return (join as (p: Peer, ...a: unknown[]) => ReturnType<typeof join>)(peer, ...rest);
    }) as typeof r.join;
  }

  private keysFor(userId: string): MemberKeys {
    let keys = this.minted.get(userId);
    if (!keys) {
      keys = createMemberKeys();
      this.minted.set(userId, keys);
    }
    return keys;
  }

  private realCard(userId: string): ReturnType<typeof openCard> {
    const token = this.d.registry.get(this.room)?.member(userId)?.card;
    return openCard(this.fernet, token, userId);
  }

  private mintCard(userId: string): string {
    return sealCard(this.fernet, this.keysFor(userId), userId);
  }

  /** The frame `json` as the attacker shows it to member `to`. */
  private rewrite(to: string, json: string): string {
    const f = JSON.parse(json) as Frame;
    if (f.type === 'init') {
      const users = (f.users as Frame[]).map((u) =>
        u.user_id !== to && u.card !== undefined ? { ...u, card: this.mintCard(u.user_id as string) } : u,
      );
      return JSON.stringify({ ...f, users });
    }
    if (f.type === 'user_joined' && f.user_id !== to && f.card !== undefined) {
      return JSON.stringify({ ...f, card: this.mintCard(f.user_id as string) });
    }
    if (f.type === 'message') {
      const data = f.data as Frame;
      const from = data.user_id as string;
      if (from === to) return json;
      const env = openEnvelope(this.fernet, data.text as string);
      if (env.sig === undefined) return json;
      const sig = signMessage(this.keysFor(from), {
        userId: from,
        id: env.id,
        kind: env.kind,
        body: env.body,
      });
      const text = sealEnvelope(this.fernet, { ...env, sig });
      return JSON.stringify({ ...f, data: { ...data, text } });
    }
    if (f.type === 'private') {
      const data = f.data as Frame;
      const from = data.from as string;
      if (data.to !== to) return json; // the sender's receipt: as it sent it
      const inKey = pairwiseKey(this.keysFor(to), to, this.realCard(from));
      const plaintext = openPrivate(inKey, from, to, data.text);
      this.read.push(plaintext.toString('utf8'));
      const outKey = pairwiseKey(this.keysFor(from), from, this.realCard(to));
      return JSON.stringify({ ...f, data: { ...data, text: sealPrivate(outKey, from, to, plaintext) } });
    }
    return json;
  }
}
