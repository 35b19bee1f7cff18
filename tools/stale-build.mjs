#!/usr/bin/env node
// Build step run before tsc: the incremental build emits only what changed since its build
// info, so after a partial clean (`rm -rf dist/lib`) it would emit nothing and the CLI would
// be missing. When any compiled file of a TypeScript source is missing, forget the build info:
// tsc then rebuilds everything. Plain JavaScript, because it runs before anything is compiled.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const buildInfo = join(root, 'node_modules', '.cache', 'cmd-chat', 'tsbuildinfo');

/** The first TypeScript source under `dir` without its compiled file in dist/, if any. */
function firstMissing(dir) {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const missing = firstMissing(path);
      if (missing) return missing;
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      if (!existsSync(join(root, 'dist', path.replace(/\.ts$/, '.js')))) return path;
    }
  }
  return undefined;
}

const missing = ['lib', 'commands', 'test', 'tools'].map(firstMissing).find((m) => m !== undefined);
if (missing && existsSync(buildInfo)) {
  process.stdout.write(`build: ${missing} has no compiled file in dist/; building everything\n`);
  rmSync(buildInfo);
}
