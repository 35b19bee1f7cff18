/**
 * JetStream room stores for the tests: a store on its own NATS connection (one per simulated
 * daemon), a message event to append, and a collector of what a log's watcher is told.
 */
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamRoomStore, type JetStreamStoreOptions } from '../../lib/cluster/jetstream-store.js';
import type { ClusterKeys } from '../../lib/cluster/keys.js';
import type { LoggedEvent, RoomEvent } from '../../lib/rooms/seam.js';

export interface TestStore {
  store: JetStreamRoomStore;
  nc: NatsConnection;
  /** Ends it as a daemon killed would: the connection drops, nothing is released or deleted. */
  die(): Promise<void>;
  /** Ends it as a daemon stopping would. */
  close(): Promise<void>;
}

export const TEST_LIMITS = { maxEvents: 10_000, maxChars: 4_000_000 };

export async function testStore(
  servers: string[],
  keys: ClusterKeys,
  options: Partial<JetStreamStoreOptions> = {},
): Promise<TestStore> {
  const nc = await connect({ servers, reconnectTimeWait: 100, maxReconnectAttempts: -1, noEcho: true });
  let store: JetStreamRoomStore;
  for (let attempt = 1; ; attempt++) {
    try {
      store = await JetStreamRoomStore.start(nc, keys, {
        limits: TEST_LIMITS,
        holdMs: 30_000,
        leaseMs: 3000,
        ...options,
      });
      break;
    } catch (err) {
      // A request timed out (seen once, at the start of a full run on a loaded machine: the
      // first JetStream request took over 5 s): a store is what these tests need, so once more.
      if (attempt < 2 && err instanceof Error && err.name === 'TimeoutError') continue;
      // Left open, the connection would reconnect for ever once the server stops, and keep the
      // test file (so the whole run) from ending.
      await nc.close();
      throw err;
    }
  }
  let ended = false;
  return {
    store,
    nc,
    die: async () => {
      if (ended) return;
      ended = true;
      // No dispose: the lease is neither renewed nor deleted, as after a SIGKILL.
      await nc.close();
    },
    close: async () => {
      if (ended) return;
      ended = true;
      await store.dispose();
      await nc.close();
    },
  };
}

const idPrefix = randomBytes(4).toString('hex');
let idCounter = 0;

/** A chat message event as the daemon appends it (a unique message id; no entropy per call). */
export function message(text: string, username = 'alice'): RoomEvent & { kind: 'message' } {
  const id = idPrefix + (++idCounter).toString(16).padStart(8, '0');
  return { kind: 'message', data: { id, text, timestamp: 1_700_000_000, user_id: 'u1', username } };
}

/** The text of a logged message event ('' for a wipe). */
export function textOf(event: LoggedEvent): string {
  return event.kind === 'message' ? event.data.text : '';
}
