/**
 * Paths the tests need, resolved from the repository root whether a test runs from
 * its TypeScript source or from the compiled copy in dist/.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('/dist') || dir.endsWith('\\dist')) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('repository root not found');
    dir = parent;
  }
  return dir;
}

export const repoRoot: string = findRoot(dirname(fileURLToPath(import.meta.url)));
export const vectorsDir: string = join(repoRoot, 'test', 'fixtures', 'vectors');
export const cliPath: string = join(repoRoot, 'bin', 'cmd-chat.js');

/**
 * The compiled CLI beside the compiled tests (dist/commands/cli.js, or the same file in another
 * build folder), so end-to-end tests run exactly the code they were built with.
 */
export const builtCli: string = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'commands',
  'cli.js',
);
