/**
 * Waits until buses of one cluster have introduced themselves to each other (every pair, both
 * ways): before that a bus drops the other's events (lib/cluster/peers.ts).
 */
import type { NatsRoomBus } from '../../lib/cluster/bus.js';
import { waitFor } from './raw-client.js';

export async function introduced(...buses: NatsRoomBus[]): Promise<void> {
  await waitFor(
    () => buses.every((a) => buses.every((b) => a === b || a.knows(b.nodeId))),
    'the buses to introduce themselves',
  );
}
