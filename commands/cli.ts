/**
 * The command line: yargs wiring for every subcommand. Each subcommand lives in its own
 * module in this folder; this file only assembles them and maps failures to exit codes.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import yargs, { type Argv } from 'yargs';
import { ExitCode } from '../lib/exit-codes.js';
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
    .demandCommand(1, 'name a command: serve, connect or room-entry')
    .recommendCommands()
    .wrap(width)
    .epilogue(
      'Exit codes: 0 ok, 2 usage, 3 cannot connect, 4 authentication failed, 5 refused, 6 connection lost, 7 a line not sent, 10 a command failed (--commands).',
    )
    .fail((msg, err) => {
      if (err && !(err instanceof UsageError)) throw err;
      process.stderr.write(`cmd-chat: ${msg ?? err?.message}\nRun \`cmd-chat --help\` for usage.\n`);
      process.exit(ExitCode.usage);
    });
  for (const mod of commandModules) cli = cli.command(mod);
  return cli;
}

/** Parses argv and runs the chosen subcommand. Resolves when the command's work is finished. */
export async function main(argv: string[]): Promise<void> {
  await buildCli(argv, helpWidth()).parseAsync();
}

// Run directly (tests spawn the compiled file next to them): behave like bin/cmd-chat.js.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main(process.argv.slice(2));
}
