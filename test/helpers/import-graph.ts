/**
 * The module graph of compiled files, read from their text: what the layering and start-up
 * tests check without running the code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** `import … from '…'`, `export … from '…'` and a bare `import '…'`: loaded before the module runs. */
export const STATIC_IMPORT = /(?:^|[\s;])(?:import|export)\s(?:[^'"();]*?\sfrom\s*)?['"]([^'"]+)['"]/gm;
/** `import('…')`: loaded when that line runs. */
const DYNAMIC_IMPORT = /import\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** What one module imports: relative files (resolved) and packages (`node:` built-ins left out). */
export interface ModuleImports {
  files: string[];
  packages: string[];
}

/**
 * Every compiled module that `start` can load, itself included, with what it imports;
 * `dynamic: false` follows only the imports loaded before a module runs.
 */
export function importGraph(start: string, options: { dynamic: boolean }): Map<string, ModuleImports> {
  const graph = new Map<string, ModuleImports>();
  const todo = [start];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (graph.has(file)) continue;
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(STATIC_IMPORT)].map((m) => m[1]!);
    if (options.dynamic) specs.push(...[...text.matchAll(DYNAMIC_IMPORT)].map((m) => m[1]!));
    const imports: ModuleImports = { files: [], packages: [] };
    for (const spec of specs) {
      if (spec.startsWith('node:')) continue;
      if (!spec.startsWith('.')) {
        imports.packages.push(spec);
        continue;
      }
      const dep = resolve(dirname(file), spec);
      imports.files.push(dep);
      if (existsSync(dep)) todo.push(dep);
    }
    graph.set(file, imports);
  }
  return graph;
}
