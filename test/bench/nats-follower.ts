/**
 * The following half of the NATS floor (nats-floor.ts), in a process of its own as a watching
 * daemon is: follows a stream from its start with an ordered consumer, as
 * lib/cluster/room-stream.ts does, and reports its own CPU from ready to the last message.
 * Forked with the server's URL, the stream and the number of messages to wait for.
 */
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

const [url = '', stream = '', count = '0'] = process.argv.slice(2);
const nc = await connect({ servers: [url] });
const consumer = await jetstream(nc).consumers.get(stream, { opt_start_seq: 1 });
const messages = await consumer.consume({ max_bytes: 4_000_000, idle_heartbeat: 1000 });
const before = process.cpuUsage();
process.send?.('ready');
let seen = 0;
for await (const _ of messages) if (++seen === Number(count)) break;
const used = process.cpuUsage(before);
process.send?.({ cpuMs: (used.user + used.system) / 1000 });
await nc.close();
