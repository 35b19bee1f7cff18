/**
 * Secret hygiene: keys, passwords and intermediate values live in Buffers so that they can be
 * overwritten as soon as they are no longer needed (JS strings and BigInts cannot be zeroed).
 */

/** Overwrites every given buffer with zeros; null/undefined entries are skipped. */
export function wipe(...bufs: Array<Buffer | Uint8Array | undefined | null>): void {
  for (const b of bufs) {
    if (b) b.fill(0);
  }
}
