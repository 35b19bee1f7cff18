#!/usr/bin/env node
// Entry point of the `cmd-chat` command: runs the CLI compiled into dist/ by `npm run build`.
import('../dist/commands/cli.js').then(
  (cli) => cli.main(process.argv.slice(2)),
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
