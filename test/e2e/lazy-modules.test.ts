/**
 * What a CLI start loads: every command's start goes through dist/commands/cli.js, so the
 * modules it reaches by static imports are paid for by `connect`, `serve` and `room-entry`
 * alike, in CPU (0.1-0.2 s per hundred modules) and in the daemon's memory
 * (docs/benchmarks.md, backlog RSS). The NATS client (with lib/cluster), the syntax
 * highlighter and the spinner are loaded by dynamic `import()` only when used:
 * `--cluster`/`--workers`, a code fence, a spinner on a terminal; the daemon's modules only
 * when serve runs (commands/serve-run.js); yargs only for a line that neither
 * commands/connect-fast.js nor serve-fast.js reads plainly. A daemon's start
 * (commands/serve-fast.js, which the bin runs for `serve`) loads no package at all: neither
 * yargs nor the client's modules (test/e2e/serve-fast.test.ts checks a real start).
 */
import assert from 'node:assert/strict';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { importGraph, STATIC_IMPORT } from '../helpers/import-graph.js';
import { builtCli } from '../helpers/paths.js';

const distRoot = resolve(dirname(builtCli), '..');
const clusterDir = join(distRoot, 'lib', 'cluster');

/** The lib/cluster modules in `graph`, by file name. */
const clusterModules = (graph: ReturnType<typeof importGraph>): string[] =>
  [...graph.keys()].filter((f) => !relative(clusterDir, f).startsWith('..')).map((f) => basename(f));

/** Each package `graph` imports, with one module that imports it. */
function packagesOf(graph: ReturnType<typeof importGraph>): Map<string, string> {
  const packages = new Map<string, string>();
  for (const [file, { packages: names }] of graph) for (const name of names) packages.set(name, file);
  return packages;
}

test('a CLI start loads neither the NATS client nor lib/cluster', () => {
  const graph = importGraph(builtCli, { dynamic: false });
  assert.ok(graph.size > 20, `the graph was read (${graph.size} modules)`);
  // keys.js holds the secret's minimum length that serve's option check needs (node:crypto only).
  assert.deepEqual(
    clusterModules(graph),
    ['keys.js'],
    'lib/cluster is imported only with --cluster or --workers',
  );
  const nats = [...packagesOf(graph)].filter(([name]) => name.startsWith('@nats-io/'));
  assert.deepEqual(
    nats.map(([name, by]) => `${name} (from ${relative(distRoot, by)})`),
    [],
    'the NATS client is imported only with --cluster or --workers',
  );
});

test('the check can fail: with the dynamic imports, serve reaches the NATS store', () => {
  const graph = importGraph(builtCli, { dynamic: true });
  const loaded = clusterModules(graph);
  for (const m of ['bus.js', 'jetstream-store.js', 'connection.js']) assert.ok(loaded.includes(m), m);
  assert.ok([...packagesOf(graph).keys()].some((name) => name.startsWith('@nats-io/')));
});

/** The daemon's modules (lib/server, lib/rooms) in `graph`, relative to dist/. */
const daemonModules = (graph: ReturnType<typeof importGraph>): string[] =>
  [...graph.keys()]
    .map((f) => relative(distRoot, f).replaceAll('\\', '/'))
    .filter((f) => /^lib\/(server|rooms)\//.test(f));

test("a CLI start (connect, room-entry, help) loads none of the daemon's modules", () => {
  // serve's options are declared in commands/serve.js; running it is serve-run.js, imported
  // when serve runs. A room-entry line needs only lib/server/room-credentials.js.
  assert.deepEqual(
    daemonModules(importGraph(builtCli, { dynamic: false })).filter(
      (f) => f !== 'lib/server/room-credentials.js',
    ),
    [],
  );
});

test('the check can fail: with the dynamic imports, the CLI reaches the daemon', () => {
  const loaded = daemonModules(importGraph(builtCli, { dynamic: true }));
  for (const m of ['lib/server/daemon.js', 'lib/server/rooms.js', 'lib/rooms/memory.js']) {
    assert.ok(loaded.includes(m), m);
  }
});

test('a CLI start loads neither the syntax highlighter nor the spinner', () => {
  const packages = packagesOf(importGraph(builtCli, { dynamic: false }));
  for (const name of ['cli-highlight', 'ora']) {
    const by = packages.get(name);
    assert.equal(by, undefined, `${name} is imported statically by ${by && relative(distRoot, by)}`);
  }
});

test("serve's start (the bin's route without yargs) loads no package and none of the CLI's or client's modules", () => {
  const graph = importGraph(join(distRoot, 'commands', 'serve-fast.js'), { dynamic: false });
  assert.ok(graph.has(join(distRoot, 'lib', 'server', 'daemon.js')), 'the graph reaches the daemon');
  assert.deepEqual(
    [...packagesOf(graph)].map(([name, by]) => `${name} (from ${relative(distRoot, by)})`),
    [],
  );
  const unwanted = [...graph.keys()]
    .map((f) => relative(distRoot, f).replaceAll('\\', '/'))
    .filter((f) =>
      /^lib\/client\/|^commands\/(cli|registry|connect|room-entry|fast-help|help-width|suggest)\.js$/.test(f),
    );
  assert.deepEqual(unwanted, []);
  assert.deepEqual(clusterModules(graph), ['keys.js']);
});

test('a CLI start loads yargs only for a line the fast parsers leave to it', () => {
  // cli.js routes a plain connect line to connect-fast.js and a plain serve line to
  // serve-fast.js before it imports yargs (test/e2e/connect-fast.test.ts, serve-fast.test.ts).
  const by = packagesOf(importGraph(builtCli, { dynamic: false })).get('yargs');
  assert.equal(by, undefined, `yargs is imported statically by ${by && relative(distRoot, by)}`);
});

test('the check can fail: the whole CLI reaches yargs and the client', () => {
  const graph = importGraph(builtCli, { dynamic: true });
  assert.ok(packagesOf(graph).has('yargs'));
  assert.ok([...graph.keys()].some((f) => relative(distRoot, f).startsWith(join('lib', 'client'))));
});

test('the regular expression sees static imports, and only those', () => {
  const text = [
    "import { a } from './a.js';",
    "import b, { c } from 'pkg-b';",
    "export { d } from './d.js';",
    "import './side.js';",
    "import type_ from 'pkg-t';",
    "const m = await import('./lazy.js');",
  ].join('\n');
  assert.deepEqual(
    [...text.matchAll(STATIC_IMPORT)].map((m) => m[1]),
    ['./a.js', 'pkg-b', './d.js', './side.js', 'pkg-t'],
  );
});
