/**
 * Keeps a session's room safety phrase (crypto/safety-phrase.ts) up to date: after the
 * membership has been still for a moment it computes the phrase (scrypt on the thread pool,
 * so the event loop is free) and reports it when it differs from the last one reported and
 * there is someone to compare it with (two members or more).
 * `/who` asks for it at once.
 */
import { type PhraseMember, safetyPhrase } from '../../crypto/safety-phrase.js';

/** Quiet time after a membership change before the phrase is computed (churn is batched). */
export const SAFETY_SETTLE_MS = 300;

export interface PhraseSnapshot {
  roomFingerprint: string;
  members: PhraseMember[];
}

export class SafetyPhraseTracker {
  private reported: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Bumped by every change: a computation that finishes after a newer change is not reported. */
  private generation = 0;
  private disposed = false;

  constructor(
    private readonly snapshot: () => PhraseSnapshot,
    private readonly report: (phrase: string, members: number) => void,
  ) {}

  /** The membership changed (or the keys of a member did): recompute once it settles. */
  changed(): void {
    if (this.disposed) return;
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.settle(), SAFETY_SETTLE_MS);
    this.timer.unref();
  }

  /** The phrase of the membership as it is now. */
  current(): Promise<string> {
    const { roomFingerprint, members } = this.snapshot();
    return safetyPhrase(roomFingerprint, members);
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async settle(): Promise<void> {
    const generation = this.generation;
    const { roomFingerprint, members } = this.snapshot();
    const phrase = await safetyPhrase(roomFingerprint, members);
    if (this.disposed || generation !== this.generation || phrase === this.reported) return;
    // Alone in the room there is nobody to compare with: nothing is announced.
    if (members.length < 2) return;
    this.reported = phrase;
    this.report(phrase, members.length);
  }
}
