/**
 * The v3 record layer: the published vectors (test/fixtures/vectors/records-v3.json) against
 * our modules both ways, and a member's stream under attack — a record dropped, replayed,
 * reordered, truncated, a batch forged by another member who holds the broadcast key, a
 * batch under a key the member was never handed — each detected and poisoning the reader.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BroadcastKey, batchDigest, memberTag, openBatch } from '../../lib/crypto/broadcast.js';
import { ChannelError, ChannelOpener, ChannelSealer } from '../../lib/crypto/channel.js';
import { channelKeys } from '../../lib/crypto/kdf.js';
import {
  DaemonStreamReader,
  MemberStream,
  openDirect,
  RECORD_BROADCAST,
  sealDirect,
} from '../../lib/protocol/records.js';
import { WireDecoder } from '../../lib/protocol/wire-decoder.js';
import { vectorsDir } from '../helpers/paths.js';

interface VectorRecord {
  direction: 's2c' | 'c2s';
  kind: 'direct' | 'broadcast';
  counter: number;
  batch_counter?: number;
  last_seq?: number;
  plaintext: string;
  batch?: string;
  digest?: string;
  bytes: string;
}
const vectors = JSON.parse(readFileSync(join(vectorsDir, 'records-v3.json'), 'utf8')) as {
  K: string;
  keys: { c2s: string; s2c: string; tag: string };
  broadcast_key: { id: string; key: string };
  records: VectorRecord[];
};
const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const isBad = (e: unknown): boolean => e instanceof ChannelError && e.code === 'bad_record';

/** A decoder's records from wire bytes (the length prefix checked, kind | body returned). */
function unitsOf(bytes: Buffer): Buffer[] {
  const d = new WireDecoder(1 << 20);
  d.startRecords(1 << 20);
  d.push(bytes);
  const out: Buffer[] = [];
  for (let u = d.next(); u !== undefined; u = d.next()) out.push(u as Buffer);
  return out;
}

/** A daemon's side and a member's side of one stream, with a room key handed over. */
function pair(): { daemon: MemberStream; reader: DaemonStreamReader; key: BroadcastKey } {
  const s2c = Buffer.alloc(32, 1);
  const tag = Buffer.alloc(32, 2);
  const key = new BroadcastKey();
  const daemon = new MemberStream(new ChannelSealer(s2c), tag);
  const reader = new DaemonStreamReader(new ChannelOpener(s2c), tag);
  reader.setRoomKey(key.id, key.material());
  return { daemon, reader, key };
}

function broadcastRecord(daemon: MemberStream, batch: Buffer): Buffer {
  return Buffer.concat([daemon.broadcastHead(batch, batchDigest(batch)), batch]);
}

const open = (reader: DaemonStreamReader, record: Buffer): string => {
  const [unit] = unitsOf(record);
  return reader.open(unit!).toString('utf8');
};

describe('v3 records: published vectors', () => {
  it('the keys follow from K by the documented HKDF infos', () => {
    const keys = channelKeys(hex(vectors.K), { v: 3, legacy: false });
    assert.equal(keys.c2s.toString('hex'), vectors.keys.c2s);
    assert.equal(keys.s2c.toString('hex'), vectors.keys.s2c);
    assert.equal(keys.tag.toString('hex'), vectors.keys.tag);
  });

  it('our daemon side writes exactly the vector bytes, in stream order', () => {
    const daemon = new MemberStream(new ChannelSealer(hex(vectors.keys.s2c)), hex(vectors.keys.tag));
    const key = new BroadcastKey(hex(vectors.broadcast_key.id), hex(vectors.broadcast_key.key));
    for (const r of vectors.records.filter((v) => v.direction === 's2c')) {
      if (r.kind === 'direct') {
        assert.equal(daemon.direct(r.plaintext).toString('hex'), r.bytes);
        continue;
      }
      const batch = key.seal(Buffer.from(r.plaintext), r.last_seq!);
      assert.equal(batch.toString('hex'), r.batch);
      assert.equal(batchDigest(batch).toString('hex'), r.digest);
      assert.equal(broadcastRecord(daemon, batch).toString('hex'), r.bytes);
    }
    const client = new ChannelSealer(hex(vectors.keys.c2s));
    const c2s = vectors.records.find((v) => v.direction === 'c2s')!;
    assert.equal(sealDirect(client, c2s.plaintext).toString('hex'), c2s.bytes);
  });

  it('our client side opens the vectors (the room key from the first record)', () => {
    const reader = new DaemonStreamReader(new ChannelOpener(hex(vectors.keys.s2c)), hex(vectors.keys.tag));
    for (const r of vectors.records.filter((v) => v.direction === 's2c')) {
      const text = open(reader, hex(r.bytes));
      assert.equal(text, r.plaintext);
      const frame = JSON.parse(text.split('\n')[0]!) as { type: string; id?: string; key?: string };
      if (frame.type === 'room_key') {
        reader.setRoomKey(Buffer.from(frame.id!, 'base64'), Buffer.from(frame.key!, 'base64'));
      }
    }
    const opener = new ChannelOpener(hex(vectors.keys.c2s));
    const c2s = vectors.records.find((v) => v.direction === 'c2s')!;
    assert.equal(openDirect(opener, unitsOf(hex(c2s.bytes))[0]!).toString(), c2s.plaintext);
  });
});

describe("v3 records: a member's stream", () => {
  it('direct and broadcast records share one order, and the batch bytes are the same for every member', () => {
    const key = new BroadcastKey();
    const members = [1, 2, 3].map((i) => {
      const s2c = Buffer.alloc(32, i);
      const tag = Buffer.alloc(32, 10 + i);
      const reader = new DaemonStreamReader(new ChannelOpener(s2c), tag);
      reader.setRoomKey(key.id, key.material());
      return { daemon: new MemberStream(new ChannelSealer(s2c), tag), reader };
    });
    const batch = key.seal(Buffer.from('{"type":"message","seq":1}'), 1);
    for (const m of members) {
      assert.equal(open(m.reader, m.daemon.direct('{"type":"pong","t":1}')), '{"type":"pong","t":1}');
      const record = broadcastRecord(m.daemon, batch);
      assert.ok(record.subarray(21).equals(batch), 'the shared batch follows the 21-byte head');
      assert.equal(record[4], RECORD_BROADCAST);
      assert.equal(open(m.reader, record), '{"type":"message","seq":1}');
    }
  });

  for (const attack of ['dropped', 'replayed', 'reordered', 'truncated'] as const) {
    it(`a broadcast record ${attack} on the way is detected, and the reader stays failed`, () => {
      const { daemon, reader, key } = pair();
      const records = [0, 1, 2].map((i) => broadcastRecord(daemon, key.seal(Buffer.from(`{"n":${i}}`), i)));
      assert.equal(open(reader, records[0]!), '{"n":0}');
      if (attack === 'dropped') assert.throws(() => open(reader, records[2]!), isBad);
      if (attack === 'replayed') assert.throws(() => open(reader, records[0]!), isBad);
      if (attack === 'reordered') assert.throws(() => open(reader, records[2]!), isBad);
      if (attack === 'truncated') {
        const cut = Buffer.from(records[1]!.subarray(0, records[1]!.length - 3));
        cut.writeUInt32BE(cut.length - 4, 0);
        assert.throws(() => open(reader, cut), isBad);
      }
      assert.throws(() => open(reader, records[1]!), isBad, 'poisoned after the first failure');
    });
  }

  it('a direct record dropped between broadcast records is detected', () => {
    const { daemon, reader, key } = pair();
    daemon.direct('{"type":"private"}');
    assert.throws(() => open(reader, broadcastRecord(daemon, key.seal(Buffer.from('{}'), 0))), isBad);
  });

  it('a member holding the broadcast key cannot forge a record in another member’s stream', () => {
    const { reader, key } = pair();
    const daemon = new MemberStream(new ChannelSealer(Buffer.alloc(32, 1)), Buffer.alloc(32, 2));
    // …but Mallory is a member: it has the room key and a tag key of its own, not the victim's.
    const mallory = { tag: Buffer.alloc(32, 9) };
    const forged = key.seal(Buffer.from('{"type":"message","seq":1,"data":{"text":"forged"}}'), 1);
    // A batch every member would open…
    assert.match(openBatch(key.material(), key.id, forged).plaintext.toString(), /forged/);
    const head = Buffer.alloc(21);
    head.writeUInt32BE(17 + forged.length, 0);
    head[4] = RECORD_BROADCAST;
    memberTag(mallory.tag, 0, batchDigest(forged)).copy(head, 5);
    assert.throws(() => open(reader, Buffer.concat([head, forged])), isBad);
    // Nor swap the batch under a tag the daemon made for the victim.
    const real = key.seal(Buffer.from('{"n":1}'), 0);
    const victimHead = daemon.broadcastHead(real, batchDigest(real));
    const swapped = Buffer.concat([victimHead, forged]);
    swapped.writeUInt32BE(swapped.length - 4, 0);
    const again = new DaemonStreamReader(new ChannelOpener(Buffer.alloc(32, 1)), Buffer.alloc(32, 2));
    again.setRoomKey(key.id, key.material());
    assert.throws(() => open(again, swapped), isBad);
  });

  it('a batch under a key the member was not handed (an old one, or none yet) does not open', () => {
    const s2c = Buffer.alloc(32, 1);
    const tag = Buffer.alloc(32, 2);
    const daemon = new MemberStream(new ChannelSealer(s2c), tag);
    const reader = new DaemonStreamReader(new ChannelOpener(s2c), tag);
    const first = new BroadcastKey();
    assert.throws(() => open(reader, broadcastRecord(daemon, first.seal(Buffer.from('{}'), 0))), isBad);
    const daemon2 = new MemberStream(new ChannelSealer(s2c), tag);
    const reader2 = new DaemonStreamReader(new ChannelOpener(s2c), tag);
    reader2.setRoomKey(first.id, first.material());
    const next = new BroadcastKey();
    assert.throws(() => open(reader2, broadcastRecord(daemon2, next.seal(Buffer.from('{}'), 0))), isBad);
  });

  it('batch nonces are the key id and a counter: two batches of one key never share one', () => {
    const key = new BroadcastKey();
    const a = key.seal(Buffer.from('same'), 5);
    const b = key.seal(Buffer.from('same'), 5);
    assert.notDeepEqual(a.subarray(24), b.subarray(24));
    assert.equal(a.readUInt32BE(12), 0);
    assert.equal(b.readUInt32BE(12), 1);
    // The last sequence number is associated data: changing it fails the batch.
    const altered = Buffer.from(a);
    altered[23] ^= 1;
    assert.throws(() => openBatch(key.material(), key.id, altered), isBad);
  });
});

describe('v3 wire decoder', () => {
  it('switches from lines to records right after the last handshake line, within one read', () => {
    const d = new WireDecoder(100);
    const record = sealDirect(new ChannelSealer(Buffer.alloc(32)), '{"type":"join"}');
    d.push(Buffer.concat([Buffer.from('{"H_AMK":"x"}\n'), record]));
    assert.equal(d.next(), '{"H_AMK":"x"}');
    d.startRecords(1000);
    const unit = d.next() as Buffer;
    assert.ok(Buffer.isBuffer(unit));
    assert.equal(openDirect(new ChannelOpener(Buffer.alloc(32)), unit).toString(), '{"type":"join"}');
    assert.equal(d.next(), undefined);
  });

  it('reassembles records fed one byte at a time', () => {
    const sealer = new ChannelSealer(Buffer.alloc(32));
    const bytes = Buffer.concat([sealDirect(sealer, 'a'), sealDirect(sealer, 'b'.repeat(300))]);
    const d = new WireDecoder(10);
    d.startRecords(1000);
    const units: Buffer[] = [];
    for (const byte of bytes) {
      d.push(Buffer.from([byte]));
      for (let u = d.next(); u !== undefined; u = d.next()) units.push(u as Buffer);
    }
    const opener = new ChannelOpener(Buffer.alloc(32));
    assert.deepEqual(
      units.map((u) => openDirect(opener, u).toString()),
      ['a', 'b'.repeat(300)],
    );
  });

  it('refuses a record longer than the limit, or empty, before buffering it', () => {
    for (const length of [1001, 0]) {
      const d = new WireDecoder(10);
      d.startRecords(1000);
      const head = Buffer.alloc(5);
      head.writeUInt32BE(length, 0);
      d.push(head);
      assert.throws(() => d.next(), /size limit/);
      assert.throws(() => d.push(Buffer.from('x')), /size limit/, 'stays failed');
    }
  });

  it('refuses a line longer than the limit without a newline', () => {
    const d = new WireDecoder(8);
    d.push(Buffer.from('123456789'));
    assert.throws(() => d.next(), /size limit/);
  });
});
