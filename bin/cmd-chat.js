#!/usr/bin/env node
// Entry point of the `cmd-chat` command: runs the CLI compiled into dist/ by `npm run build`.
// `cmd-chat --help` and `--version` alone are answered without loading yargs (which costs
// more than the whole 150 ms budget): the help text is rendered by yargs at build time.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const only = args.length === 1 ? args[0] : undefined;

/** The text of a fast answer, or undefined when yargs must run. */
function fastAnswer() {
  try {
    if (only === '--help' || only === '-h')
      return readFileSync(new URL('../dist/help.txt', import.meta.url), 'utf8');
    if (only === '--version' || only === '-V') {
      return `${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`;
    }
  } catch {
    // No pre-rendered help (an old build): yargs answers.
  }
  return undefined;
}

const answer = fastAnswer();
if (answer !== undefined) {
  process.stdout.write(answer);
} else {
  import('../dist/commands/cli.js').then(
    (cli) => cli.main(args),
    (err) => {
      if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
        process.stderr.write(
          'cmd-chat: the CLI is not built yet; run `npm install` (or `npm run build`) first.\n',
        );
        process.exit(1);
      }
      throw err;
    },
  );
}
