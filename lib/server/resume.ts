/**
 * What lets a member whose connection was lost come back as itself: a resume secret issued
 * sealed in its `init` (the daemon keeps only its hash, compared in constant time), the name
 * held for it during a bounded grace period, and the ids of the messages it sent last, so
 * that a message it sends again after reconnecting is recognised and relayed only once.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** How many message ids are remembered per member (the client keeps fewer than this in flight). */
export const RESEND_WINDOW = 512;

/** A new secret (unpadded base64url of 32 random bytes) and the hash the daemon keeps of it. */
export function issueResumeSecret(): { secret: string; hash: Buffer } {
  const raw = randomBytes(32);
  const secret = raw.toString('base64url');
  const hash = createHash('sha256').update(raw).digest();
  raw.fill(0);
  return { secret, hash };
}

/** The hash of a secret a client offers (in a cluster, what its daemon sends the sequencer). */
export function resumeHashOf(offered: string): Buffer {
  const raw = Buffer.from(offered, 'base64url');
  const digest = createHash('sha256').update(raw).digest();
  raw.fill(0);
  return digest;
}

/** Whether two resume hashes are equal; constant time in their values. */
export function resumeHashesMatch(kept: Buffer, offered: Buffer): boolean {
  return kept.length === offered.length && timingSafeEqual(kept, offered);
}

/** Whether `offered` is the secret behind `hash`; constant time in the secret's value. */
export function resumeMatches(hash: Buffer, offered: string): boolean {
  return resumeHashesMatch(hash, resumeHashOf(offered));
}

/** The last ids a member's messages carried, bounded (the oldest are forgotten first). */
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity: number = RESEND_WINDOW) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
  }

  get size(): number {
    return this.ids.size;
  }

  /** The ids, oldest first; at most the newest `max`. */
  list(max: number = this.capacity): string[] {
    const all = [...this.ids];
    return max >= all.length ? all : all.slice(all.length - max);
  }

  /** A window holding `ids` (oldest first), as a replica learns them. */
  static from(ids: readonly string[], capacity: number = RESEND_WINDOW): RecentIds {
    const recent = new RecentIds(capacity);
    for (const id of ids) recent.add(id);
    return recent;
  }
}

/** A member's identity across its connections: its resume hash and its recent message ids. */
export interface Continuity {
  resumeHash: Buffer;
  sent: RecentIds;
  /** A random id of the member across its connections: its log de-duplication ids start with it. */
  owner?: string;
}
