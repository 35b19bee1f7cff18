#!/usr/bin/env node
// Entry point of the `cmd-chat` command: runs the CLI compiled into dist/ by `npm run build`.
// `--help`, `<command> --help` and `--version` are answered without loading yargs (which
// costs more than the whole 150 ms budget): yargs renders the help texts at build time;
// `serve` parses a plain command line without it (dist/commands/serve-fast.js), and so does
// `connect` (dist/commands/cli.js hands a plain line to connect-fast.js before loading yargs).
const args = process.argv.slice(2);

function notBuilt(err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write(
      'cmd-chat: the CLI is not built yet; run `npm install` (or `npm run build`) first.\n',
    );
    process.exit(1);
  }
  throw err;
}

function cli() {
  return import('../dist/commands/fast-help.js').then((fast) => {
    const answer = fast.fastAnswer(args);
    if (answer !== undefined) process.stdout.write(answer);
    else return import('../dist/commands/cli.js').then((cli) => cli.main(args));
  }, notBuilt);
}

// A daemon parses its plain command lines itself and never loads yargs, which would stay in
// its memory for good; any other line (help, a typo) goes to yargs as usual.
(args[0] === 'serve'
  ? import('../dist/commands/serve-fast.js').then(
      (serve) => serve.serveWithoutYargs(args.slice(1)).then((done) => (done ? undefined : cli())),
      notBuilt,
    )
  : cli()
).catch(notBuilt);
