/**
 * A daemon without --cluster does not load the cluster code (the NATS client and JetStream
 * store): `cmd-chat serve` imports it only when the options ask for a cluster, so a single
 * daemon's memory holds none of it (docs/benchmarks.md, backlog RSS). Read from the built
 * import graph: what the CLI loads before any command runs must reach lib/cluster only for
 * the one constant its options check (keys.js, no NATS), while the dynamic imports reach it.
 */
import assert from 'node:assert/strict';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importGraph } from '../helpers/import-graph.js';

const dist = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cluster = join(dist, 'lib', 'cluster');
const cli = join(dist, 'commands', 'cli.js');

const clusterModules = (graph: Map<string, string[]>): string[] =>
  [...graph.keys()].filter((file) => !relative(cluster, file).startsWith('..')).map((f) => basename(f));

test('the CLI loads no cluster module up front but the constant its options check', () => {
  const loaded = clusterModules(importGraph(cli, { dynamic: false }));
  assert.deepEqual(loaded, ['keys.js']);
});

test('the check can fail: with the dynamic imports, serve reaches the NATS store', () => {
  const loaded = clusterModules(importGraph(cli, { dynamic: true }));
  for (const m of ['bus.js', 'jetstream-store.js', 'connection.js']) assert.ok(loaded.includes(m), m);
});
