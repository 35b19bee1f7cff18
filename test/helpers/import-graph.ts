/**
 * The module graph of compiled files, read from their text (relative imports only): what the
 * layering and start-up tests check without running the code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** `import … from '…'` and `export … from '…'`: loaded before the module runs. */
const STATIC_IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/gm;
/** `import('…')`: loaded when that line runs. */
const DYNAMIC_IMPORT = /import\(\s*['"]([^'"]+)['"]\s*\)/gm;

/**
 * Every compiled module that `start` can load, itself included, with its relative imports
 * (resolved); `dynamic: false` follows only the imports loaded before a module runs.
 */
export function importGraph(start: string, options: { dynamic: boolean }): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const todo = [start];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (graph.has(file)) continue;
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(STATIC_IMPORT)].map((m) => m[1]!);
    if (options.dynamic) specs.push(...[...text.matchAll(DYNAMIC_IMPORT)].map((m) => m[1]!));
    const deps: string[] = [];
    for (const spec of specs) {
      if (!spec.startsWith('.')) continue;
      const dep = resolve(dirname(file), spec);
      deps.push(dep);
      if (existsSync(dep)) todo.push(dep);
    }
    graph.set(file, deps);
  }
  return graph;
}
