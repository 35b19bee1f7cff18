/**
 * The daemon does not know where its rooms live: nothing that lib/server loads, directly or
 * through other modules, is under lib/cluster. Read from the built import graph (the compiled
 * files beside this test, so a dynamic import counts too), and from the sources for the type
 * imports that compilation erases.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importGraph } from '../helpers/import-graph.js';
import { repoRoot } from '../helpers/paths.js';

const distLib = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'lib');
const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

test('lib/server never loads lib/cluster, directly or through another module', () => {
  const serverDir = join(distLib, 'server');
  const entries = readdirSync(serverDir).filter((f) => f.endsWith('.js'));
  assert.ok(entries.includes('daemon.js') && entries.includes('room.js'), 'the built daemon is there');
  const cluster = join(distLib, 'cluster');
  for (const entry of entries) {
    const graph = importGraph(join(serverDir, entry), { dynamic: true });
    for (const [file, { files: deps }] of graph) {
      for (const dep of deps) {
        assert.ok(
          relative(cluster, dep).startsWith('..'),
          `${relative(distLib, file)} imports ${relative(distLib, dep)}`,
        );
      }
    }
  }
});

test('no source file of lib/server imports lib/cluster, not even a type', () => {
  const dir = join(repoRoot, 'lib', 'server');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    for (const m of readFileSync(join(dir, file), 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? '';
      assert.ok(!/(^|\/)cluster\//.test(spec), `lib/server/${file} imports ${spec}`);
    }
  }
});

test('the check sees an import of lib/cluster (it can fail)', () => {
  // commands/serve.js chooses the store, so it must show up as importing lib/cluster.
  const serve = resolve(distLib, '..', 'commands', 'serve.js');
  const deps = [...importGraph(serve, { dynamic: true }).values()].flatMap((m) => m.files);
  assert.ok(deps.some((dep) => !relative(join(distLib, 'cluster'), dep).startsWith('..')));
});
