/**
 * The daemon process's V8 heap setting (called once by `serve`, never by a library user):
 * the young generation stays at (or, rarely, near) its initial size instead of growing under a burst.
 *
 * Why: a relay's objects live for one turn (a record read, its batch sealed and written), so
 * a large young generation buys little; but V8 grows it (doubling, up to 16 MB per semi-space)
 * whenever a burst keeps many objects alive across a scavenge, and the pages it grew stay
 * resident afterwards. A hundred members each sending 60 messages at once left the daemon
 * 10–15 MB larger for good. The growth factor is read at each growth, so setting it after
 * start-up works (the maximum semi-space size is fixed at start-up and cannot be changed from
 * inside); the cost is more frequent scavenges. `npm run bench -- backlog-memory same-load`
 * measures both sides against V8's default (docs/benchmarks.md, issue 23).
 */
import { setFlagsFromString } from 'node:v8';

/** Keeps V8's young generation at its initial size for the rest of the process. */
export function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
