/**
 * Keepalive figures: how long a real daemon process at its default --keepalive takes to drop
 * members behind a blackholed link (the worst case: each was heard just before the link went
 * dark), and what the daemon's sweep costs with 10,000 idle members (in-process, real Link
 * objects over in-memory streams: a check that finds nobody due, and one that pings all of
 * them, which the sweep spreads over several checks). Runnable alone: `node dist/test/bench/keepalive.js`; `npm run bench` adds the rows.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { ChatSession } from '../../lib/client/session/session.js';
import { defaultDaemonLimits } from '../../lib/protocol/limits.js';
import { KeepaliveSweep } from '../../lib/server/keepalive.js';
import { Link } from '../../lib/server/link.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { EventLog } from '../helpers/events.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { startDaemonProcess } from '../helpers/processes.js';
import { type AddRow, median, round, runRowsAlone } from './common.js';

const BLACKHOLED = 5;
const IDLE = 10_000;
const PW = 'bench keepalive';

export async function keepaliveRows(add: AddRow, log: (text: string) => void): Promise<void> {
  log(`keepalive: sweep over ${IDLE.toLocaleString('en')} idle members`);
  const sweep = await sweepCost();
  add(
    `keepalive sweep, ${IDLE.toLocaleString('en')} idle members, nobody due`,
    round(sweep.quietMs, 2),
    'ms',
  );
  add(
    `  a sweep with all of them due (pings ${sweep.pinged.toLocaleString('en')} of them)`,
    round(sweep.pingMs, 1),
    'ms',
  );

  log(`keepalive: ${BLACKHOLED} members blackholed at default settings (about 30 s)`);
  const dropped = await blackholedDrop();
  add('daemon drops a blackholed member, default --keepalive', round(median(dropped) / 1000, 1), 's', '≤ 30');
  add('  the slowest of them', round(Math.max(...dropped) / 1000, 1), 's', '≤ 30');
}

/** A sweep over IDLE real links: median of 20 quiet checks, then one that pings them all. */
async function sweepCost(): Promise<{ quietMs: number; pingMs: number; pinged: number }> {
  const links: Link[] = [];
  const key = randomBytes(32);
  for (let i = 0; i < IDLE; i++) {
    const stream = new PassThrough();
    stream.resume(); // what the link writes is read and dropped
    const link = new Link({ stream, peer: 'memory' }, defaultDaemonLimits);
    link.startChannel(key, key, key);
    links.push(link);
  }
  const sweeper = new KeepaliveSweep(
    defaultDaemonLimits.keepaliveMs,
    () => links,
    () => {},
  );
  sweeper.stop(); // driven by hand below
  const start = performance.now();
  const quiet: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    sweeper.sweep(start + i);
    quiet.push(performance.now() - t0);
  }
  // Half the keepalive later every link is due a ping (one seal each, done when the links
  // flush: setImmediate, queued before ours); the sweep sends its share of them.
  const due = start + defaultDaemonLimits.keepaliveMs / 2 + 1;
  const t0 = performance.now();
  sweeper.sweep(due);
  await new Promise((resolve) => setImmediate(resolve));
  const pingMs = performance.now() - t0;
  const pinged = links.filter((l) => l.lastPing === due).length;
  for (const link of links) link.close('peer_closed');
  return { quietMs: median(quiet), pingMs, pinged };
}

/** Ms from the blackhole to each member's leave, as another member sees it. */
async function blackholedDrop(): Promise<number[]> {
  const daemon = await startDaemonProcess(['--room', `team=${PW}`]);
  const proxy = await FaultProxy.start(daemon.port);
  const sessions: ChatSession[] = [];
  try {
    const open = async (port: number, name: string): Promise<ChatSession> => {
      const s = await ChatSession.open({
        transport: tcpClient({ host: '127.0.0.1', port }),
        room: 'team',
        password: PW,
        username: name,
        limits: { keepaliveMs: 0 }, // only the daemon's keepalive is measured
      });
      await s.join(name);
      sessions.push(s);
      return s;
    };
    const watcher = new EventLog(await open(daemon.port, 'watcher'));
    const members: ChatSession[] = [];
    for (let i = 0; i < BLACKHOLED; i++) members.push(await open(proxy.port, `gone${i}`));
    // The worst case: the daemon heard each of them just before the link went dark.
    await Promise.all(members.map((m) => m.ping()));
    proxy.blackhole(true);
    const t0 = performance.now();
    return await Promise.all(
      members.map(async (_, i) => {
        await watcher.waitFor(
          (e) => e.type === 'leave' && e.username === `gone${i}`,
          `gone${i} to leave`,
          60_000,
        );
        return performance.now() - t0;
      }),
    );
  } finally {
    for (const s of sessions) s.close();
    await proxy.stop();
    await daemon.stop();
  }
}

runRowsAlone(import.meta.url, keepaliveRows);
