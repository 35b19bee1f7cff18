/**
 * Making a bucket while other daemons make it too: nats-server's "subjects overlap" refusal
 * (error 10065, the answer a later maker got while the first was being made, in a full run
 * under load) is tried again until the bucket is found; any other refusal is final at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JetStreamApiError } from '@nats-io/jetstream';
import type { KV, Kvm } from '@nats-io/kv';
import { createBucket } from '../../lib/cluster/jetstream-store.js';

/** nats-server's answer to a stream create, as the client raises it. */
const refusal = (errCode: number, description: string): JetStreamApiError =>
  new JetStreamApiError({ code: 400, err_code: errCode, description });
const OVERLAP = (): JetStreamApiError => refusal(10065, 'subjects overlap with an existing stream');

/** A Kvm whose `create` answers from `answers` in turn, counting its calls. */
function kvmAnswering(answers: Array<() => KV | Error>): Pick<Kvm, 'create'> & { calls: number } {
  const fake = {
    calls: 0,
    create: async (): Promise<KV> => {
      const answer = answers[Math.min(fake.calls++, answers.length - 1)]!();
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  return fake;
}

const BUCKET = { bucket: 'made' } as unknown as KV;

test('refused "subjects overlap" while another daemon makes it: found on a later attempt', async () => {
  const kvm = kvmAnswering([OVERLAP, OVERLAP, () => BUCKET]);
  assert.equal(await createBucket(kvm, 'names', {}), BUCKET);
  assert.equal(kvm.calls, 3);
});

test('"subjects overlap" every time: the refusal after a bounded number of attempts', async () => {
  const kvm = kvmAnswering([OVERLAP]);
  await assert.rejects(createBucket(kvm, 'names', {}), /subjects overlap/);
  assert.equal(kvm.calls, 5);
});

test('another refusal (a bucket of another configuration) is final at once', async () => {
  const kvm = kvmAnswering([
    () => refusal(10058, 'stream name already in use with a different configuration'),
    () => BUCKET,
  ]);
  await assert.rejects(createBucket(kvm, 'holds', {}), /different configuration/);
  assert.equal(kvm.calls, 1);
});
