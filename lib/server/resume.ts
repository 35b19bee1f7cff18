/**
 * What lets a member whose connection was lost come back as itself: a resume secret issued
 * sealed in its `init`; the room's name table keeps only its hash (compared in constant time)
 * with the name held for it during a bounded grace period. Its resends are recognised by the
 * room's log (de-duplication ids), not here.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new secret (unpadded base64url of 32 random bytes) and the hash the daemon keeps of it. */
export function issueResumeSecret(): { secret: string; hash: Buffer } {
  const raw = randomBytes(32);
  const secret = raw.toString('base64url');
  const hash = createHash('sha256').update(raw).digest();
  raw.fill(0);
  return { secret, hash };
}

/** The hash of a secret a client offers. */
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
