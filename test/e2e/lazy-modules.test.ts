/**
 * What a CLI start loads: every command's start goes through dist/commands/cli.js, so the
 * modules it reaches by static imports are paid for by `connect`, `serve` and `room-entry`
 * alike (0.1-0.2 s of CPU per hundred modules). The NATS client (with lib/cluster), the
 * syntax highlighter and the spinner are loaded by dynamic `import()` only when used:
 * `--cluster`/`--workers`, a code fence, a spinner on a terminal.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { builtCli } from '../helpers/paths.js';

// Static imports and re-exports, and bare `import 'x'`; `import(…)` is deliberately not matched.
const STATIC_IMPORT = /(?:^|[\s;])(?:import|export)\s(?:[^'"();]*?\sfrom\s*)?['"]([^'"]+)['"]/gm;

/** The compiled modules loaded at start from `entry`, and the packages they import. */
function staticGraph(entry: string): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) {
        const dep = resolve(dirname(file), spec);
        if (existsSync(dep)) todo.push(dep);
      } else if (!spec.startsWith('node:')) {
        packages.set(spec, file);
      }
    }
  }
  return { files, packages };
}

const distRoot = resolve(dirname(builtCli), '..');

test('a CLI start loads neither the NATS client nor lib/cluster', () => {
  const { files, packages } = staticGraph(builtCli);
  assert.ok(files.size > 20, `the graph was read (${files.size} modules)`);
  // keys.js holds the secret's minimum length that serve's option check needs (node:crypto only).
  const cluster = [...files].filter(
    (f) => !relative(join(distRoot, 'lib', 'cluster'), f).startsWith('..') && !f.endsWith('keys.js'),
  );
  assert.deepEqual(
    cluster.map((f) => relative(distRoot, f)),
    [],
    'lib/cluster is imported only with --cluster or --workers',
  );
  const nats = [...packages].filter(([name]) => name.startsWith('@nats-io/'));
  assert.deepEqual(
    nats.map(([name, by]) => `${name} (from ${relative(distRoot, by)})`),
    [],
    'the NATS client is imported only with --cluster or --workers',
  );
});

test('a CLI start loads neither the syntax highlighter nor the spinner', () => {
  const { packages } = staticGraph(builtCli);
  for (const name of ['cli-highlight', 'ora']) {
    const by = packages.get(name);
    assert.equal(by, undefined, `${name} is imported statically by ${by && relative(distRoot, by)}`);
  }
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
