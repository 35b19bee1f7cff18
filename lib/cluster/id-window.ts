/**
 * A room log's de-duplication window: the last `capacity` event ids (32 lowercase hex
 * characters each, a hash) with the sequence number each was logged under; the oldest is
 * forgotten first. Every daemon remembers the id of every event of the room, so this is on the
 * path of every message: the ids live in typed arrays (16 bytes each, and an open-addressing
 * index of slot numbers) rather than in a Map of strings, so remembering one allocates nothing
 * and the collector has nothing to trace. (With the window the byte limit of a room asks for,
 * about 200,000 ids, a Map cost more per event than sealing the event's batch.) The arrays
 * grow by doubling up to `capacity`, so a quiet room costs little.
 */

/** Slots allocated at first (doubled as needed, up to the capacity). */
const INITIAL_SLOTS = 256;
/** An id's four 32-bit words. */
const WORDS = 4;

export class IdWindow {
  /** Slots allocated now (≤ capacity). */
  private slots = 0;
  /** Each slot's id as four words (slot i: words 4i … 4i + 3). */
  private words = new Uint32Array(0);
  private seqs = new Float64Array(0);
  /** Open addressing with linear probing: slot + 1 at each position, 0 when empty. */
  private index = new Int32Array(0);
  private mask = 0;
  /** Ids held. */
  private count = 0;
  /** Once full at capacity: the slot of the oldest id, overwritten by the next one. */
  private oldest = 0;
  /** Scratch words of the id being looked up or added. */
  private readonly probe = new Uint32Array(WORDS);

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('capacity must be ≥ 1');
  }

  /** Ids held (≤ capacity). */
  get size(): number {
    return this.count;
  }

  /** The sequence number logged under `id`, or undefined when the window does not hold it. */
  get(id: string): number | undefined {
    if (this.count === 0) return undefined;
    readWords(id, this.probe);
    const at = this.find();
    return at < 0 ? undefined : this.seqs[this.index[at]! - 1];
  }

  /**
   * Remembers `id` under `seq`. An id already held gets the new number and keeps its age;
   * a new one, when the window is full, takes the place of the oldest.
   */
  set(id: string, seq: number): void {
    readWords(id, this.probe);
    if (this.count > 0) {
      const at = this.find();
      if (at >= 0) {
        this.seqs[this.index[at]! - 1] = seq;
        return;
      }
    }
    let slot: number;
    if (this.count < this.capacity) {
      if (this.count === this.slots) this.grow();
      slot = this.count++;
    } else {
      slot = this.oldest;
      this.unindex(slot);
      this.oldest = (this.oldest + 1) % this.capacity;
    }
    const w = this.words;
    const base = slot * WORDS;
    for (let i = 0; i < WORDS; i++) w[base + i] = this.probe[i]!;
    this.seqs[slot] = seq;
    this.place(slot);
  }

  /** Forgets every id (the arrays go back to their first size). */
  clear(): void {
    this.slots = 0;
    this.words = new Uint32Array(0);
    this.seqs = new Float64Array(0);
    this.index = new Int32Array(0);
    this.mask = 0;
    this.count = 0;
    this.oldest = 0;
  }

  /** The index position holding the probe's id, or −1. */
  private find(): number {
    const { index, words, probe, mask } = this;
    for (let at = home(probe, 0) & mask; ; at = (at + 1) & mask) {
      const entry = index[at]!;
      if (entry === 0) return -1;
      const base = (entry - 1) * WORDS;
      if (
        words[base] === probe[0] &&
        words[base + 1] === probe[1] &&
        words[base + 2] === probe[2] &&
        words[base + 3] === probe[3]
      ) {
        return at;
      }
    }
  }

  /** Enters a slot into the index (its id is not there). */
  private place(slot: number): void {
    const { index, mask } = this;
    let at = home(this.words, slot * WORDS) & mask;
    while (index[at] !== 0) at = (at + 1) & mask;
    index[at] = slot + 1;
  }

  /** Removes a slot from the index, shifting back the entries probed past it (no tombstones). */
  private unindex(slot: number): void {
    const { index, mask } = this;
    let hole = home(this.words, slot * WORDS) & mask;
    while (index[hole] !== slot + 1) hole = (hole + 1) & mask;
    for (let at = (hole + 1) & mask; index[at] !== 0; at = (at + 1) & mask) {
      const want = home(this.words, (index[at]! - 1) * WORDS) & mask;
      // An entry stays where it is when its home lies cyclically in (hole, at].
      const stays = hole <= at ? hole < want && want <= at : hole < want || want <= at;
      if (stays) continue;
      index[hole] = index[at]!;
      hole = at;
    }
    index[hole] = 0;
  }

  /** Doubles the slots (up to the capacity) and rebuilds the index at twice their number. */
  private grow(): void {
    const slots = Math.min(this.capacity, Math.max(INITIAL_SLOTS, this.slots * 2));
    const words = new Uint32Array(slots * WORDS);
    words.set(this.words);
    const seqs = new Float64Array(slots);
    seqs.set(this.seqs);
    let size = 1;
    while (size < slots * 2) size *= 2;
    this.slots = slots;
    this.words = words;
    this.seqs = seqs;
    this.index = new Int32Array(size);
    this.mask = size - 1;
    for (let slot = 0; slot < this.count; slot++) this.place(slot);
  }
}

/** The id's 32 hex characters as four words (the caller gives lowercase hex: ids are hashes). */
function readWords(id: string, out: Uint32Array): void {
  if (id.length !== 32) throw new RangeError('an id is 32 hex characters');
  for (let w = 0; w < WORDS; w++) {
    let v = 0;
    for (let i = w * 8; i < w * 8 + 8; i++) {
      const c = id.charCodeAt(i);
      const d = c <= 57 ? c - 48 : c - 87;
      if (d < 0 || d > 15) throw new RangeError('an id is 32 hex characters');
      v = (v << 4) | d;
    }
    out[w] = v >>> 0;
  }
}

/** Where an id's probe starts: its words mixed (a counter in any of them spreads too). */
function home(words: Uint32Array, base: number): number {
  let h = words[base]! ^ Math.imul(words[base + 1]!, 0x85ebca6b);
  h ^= Math.imul(words[base + 2]!, 0xc2b2ae35) ^ Math.imul(words[base + 3]!, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 13)) >>> 0;
}
