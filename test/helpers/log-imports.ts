/**
 * Preloaded with `node --import` into a process under test: writes `imported URL` to stderr
 * for every module it resolves (ours, packages and `node:` built-ins), so a test sees what a
 * real start loaded, dynamic imports included.
 */
import { writeSync } from 'node:fs';
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    writeSync(2, `imported ${resolved.url}\n`);
    return resolved;
  },
});
