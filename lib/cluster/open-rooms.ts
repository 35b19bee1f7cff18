/**
 * The open rooms of a cluster (`OpenRoomDirectory` of lib/rooms/seam.ts) on a JetStream KV
 * bucket: a room a client created on one daemon is recorded under a keyed hash of its name
 * (created by compare-and-set: the first daemon to record a name has it, and another that
 * created the same name at the same moment is given that entry to adopt), its name and SRP
 * salt, verifier and room salt sealed with the cluster key and the bucket key as associated
 * data, so every daemon can authenticate its members and NATS sees neither name nor
 * verifier. Every daemon watches the bucket; a room nobody is in is withdrawn (deleted).
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { OpenRoomDirectory, OpenRoomEntry } from '../rooms/seam.js';
import { type ClusterKeys, keyedHex } from './keys.js';
import { openJson, sealJson } from './seal.js';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** Tries to record a room (each: create, else read what is there) before giving up. */
const ANNOUNCE_ATTEMPTS = 3;

export class OpenRoomBucket implements OpenRoomDirectory {
  private readonly listeners = new Set<(name: string, entry: OpenRoomEntry | undefined) => void>();
  /** Key → room name, for the deletes (which carry no value). */
  private readonly known = new Map<string, { name: string; entry: OpenRoomEntry }>();
  private stopWatch: (() => void) | undefined;

  constructor(
    private readonly keys: ClusterKeys,
    private readonly kv: KV,
  ) {}

  /** Starts mirroring the bucket. */
  async start(): Promise<void> {
    const iterator = await this.kv.watch();
    this.stopWatch = () => iterator.stop();
    void (async () => {
      for await (const entry of iterator) this.take(entry);
    })().catch(() => undefined);
  }

  stop(): void {
    this.stopWatch?.();
    this.stopWatch = undefined;
  }

  async announce(name: string, entry: OpenRoomEntry): Promise<OpenRoomEntry | undefined> {
    const key = this.key(name);
    const sealed = sealJson(this.keys.sealKey, `open room\0${key}`, { name, ...entry });
    let failure: unknown;
    for (let attempt = 0; attempt < ANNOUNCE_ATTEMPTS; attempt++) {
      try {
        await this.kv.create(key, sealed);
        return undefined;
      } catch (err) {
        failure = err;
      }
      // Not created: another daemon's entry is there (adopt it), or it was withdrawn since
      // (try again), or the server did not answer (the get fails too: try again).
      const existing = await this.kv.get(key).catch(() => null);
      if (existing?.operation === 'PUT') {
        const opened = this.open(existing);
        if (!opened) throw new Error('the open room recorded under this name does not open');
        return opened.entry;
      }
    }
    throw failure instanceof Error ? failure : new Error('could not record the open room');
  }

  async withdraw(name: string): Promise<void> {
    await this.kv.delete(this.key(name)).catch(() => undefined);
  }

  watch(listener: (name: string, entry: OpenRoomEntry | undefined) => void): () => void {
    this.listeners.add(listener);
    for (const { name, entry } of this.known.values()) listener(name, entry);
    return () => this.listeners.delete(listener);
  }

  private take(kvEntry: KvEntry): void {
    if (kvEntry.operation !== 'PUT') {
      const known = this.known.get(kvEntry.key);
      if (!known) return;
      this.known.delete(kvEntry.key);
      for (const listener of [...this.listeners]) listener(known.name, undefined);
      return;
    }
    const opened = this.open(kvEntry);
    if (!opened) return;
    this.known.set(kvEntry.key, opened);
    for (const listener of [...this.listeners]) listener(opened.name, opened.entry);
  }

  private open(kvEntry: KvEntry): { name: string; entry: OpenRoomEntry } | undefined {
    const v = openJson(this.keys.sealKey, `open room\0${kvEntry.key}`, kvEntry.value) as
      | Record<string, unknown>
      | undefined;
    if (typeof v !== 'object' || v === null) return undefined;
    const { name, salt, verifier, roomSalt } = v;
    if (typeof name !== 'string' || this.key(name) !== kvEntry.key) return undefined;
    for (const field of [salt, verifier, roomSalt]) {
      if (typeof field !== 'string' || !BASE64.test(field)) return undefined;
    }
    return {
      name,
      entry: { salt: salt as string, verifier: verifier as string, roomSalt: roomSalt as string },
    };
  }

  private key(name: string): string {
    return keyedHex(this.keys, 'open room', [name]);
  }
}
