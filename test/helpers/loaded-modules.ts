/** Whether a CommonJS package has been loaded into this process (imported or required), by its entry in the require cache. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function packageLoaded(name: string): boolean {
  return require.cache[require.resolve(name)] !== undefined;
}
