/**
 * The far daemon's side of the cluster-bus benchmark, in its own process (as a second daemon
 * would be): a NatsRoomBus that counts a room's events, echoes probe events back on another
 * room, and reports over IPC.
 */
import { NatsRoomBus } from '../../lib/cluster/bus.js';
import { deriveClusterKeys } from '../../lib/cluster/keys.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { type Request, serve } from './common.js';

let bus: NatsRoomBus | undefined;
let received = 0;
let waiting: { count: number; resolve: () => void } | undefined;

serve({
  start: async (req: Request) => {
    const keys = deriveClusterKeys(Buffer.from(String(req.secret), 'base64'));
    bus = await NatsRoomBus.connect({ servers: [String(req.url)] }, keys, silentLogger);
    const b = bus;
    b.subscribeRoom('load', (event) => {
      received++;
      if (event.probe !== undefined) b.publish('echo', { probe: event.probe });
      if (waiting && received >= waiting.count) {
        waiting.resolve();
        waiting = undefined;
      }
    });
    await b.flush();
    return { nodeId: b.nodeId };
  },
  /** Whether this bus accepts events from the daemon with `nodeId` (they introduced themselves). */
  knows: async (req: Request) => ({ knows: bus?.knows(String(req.nodeId)) === true }),
  /** Resolves once `count` events have arrived since the last reset. */
  await: async (req: Request) => {
    const count = Number(req.count);
    if (received < count) await new Promise<void>((resolve) => (waiting = { count, resolve }));
    return { received };
  },
  reset: async () => {
    received = 0;
    return {};
  },
  stop: async () => {
    await bus?.close();
    setImmediate(() => process.exit(0));
    return {};
  },
});
process.send?.('ready');
