/**
 * The command line: yargs wiring for every subcommand. Each subcommand lives in its own
 * module in this folder; this file only assembles them and maps failures to exit codes.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import yargs, { type Argv } from 'yargs';
import { EXIT_CODE_SUMMARY, ExitCode } from '../lib/exit-codes.js';
import { helpWidth } from './help-width.js';
import { commandModules } from './registry.js';
import { UsageError } from './usage-error.js';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

/** The whole command line, help wrapped to `width` columns. */
export function buildCli(argv: string[], width: number): Argv {
  let cli = yargs(argv)
    .scriptName('cmd-chat')
    .usage(
      '$0 <command> [options]\n\nEphemeral, end-to-end encrypted terminal chat. Nothing is written to disk.',
    )
    .version(version)
    .alias('version', 'V')
    .help()
    .alias('help', 'h')
    .strict()
    .demandCommand(1, 'name a command: serve, connect, room-entry or completion')
    .recommendCommands()
    .wrap(width)
    .epilogue(`Exit codes: ${EXIT_CODE_SUMMARY.map(([code, what]) => `${code} ${what}`).join(', ')}.`)
    .fail((msg, err) => {
      if (err && !(err instanceof UsageError)) throw err;
      process.stderr.write(`cmd-chat: ${msg ?? err?.message}\nRun \`cmd-chat --help\` for usage.\n`);
      process.exit(ExitCode.usage);
    });
  for (const mod of commandModules) cli = cli.command(mod);
  // `cmd-chat completion` prints a bash script, or a zsh one when $SHELL is zsh.
  return cli.completion('completion', 'print the shell completion script (bash; zsh when $SHELL is zsh)');
}

/** Parses argv and runs the chosen subcommand. Resolves when the command's work is finished. */
export async function main(argv: string[]): Promise<void> {
  await buildCli(argv, helpWidth()).parseAsync();
}

// Run directly (tests spawn the compiled file next to them): behave like bin/cmd-chat.js.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main(process.argv.slice(2));
}
