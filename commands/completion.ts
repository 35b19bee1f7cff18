/**
 * `cmd-chat completion`: prints yargs' shell completion script (bash; zsh when $SHELL is zsh),
 * which completes through `cmd-chat --get-yargs-completions`. A command module of our own,
 * not yargs' `.completion()` command, so that `cmd-chat completion --help` (and the man page
 * made from it) explains the script instead of printing it.
 */
import type { Argv, CommandModule } from 'yargs';
import { examplesBlock } from './examples.js';

/** The part of yargs' instance that prints the script (absent from @types/yargs' builder type). */
interface CompletionScript {
  showCompletionScript(name?: string, command?: string): unknown;
}

let scriptPrinter: CompletionScript | undefined;

export const completionCommand: CommandModule<object, object> = {
  command: 'completion',
  describe: 'print the shell completion script (bash; zsh when $SHELL is zsh)',
  builder: (y: Argv) => {
    scriptPrinter = y as unknown as CompletionScript;
    return y
      .usage(
        '$0 completion\n\nPrint a script that lets the shell complete cmd-chat commands and options with Tab.\n' +
          'It is for bash, or for zsh when $SHELL names zsh (in zsh, after compinit).',
      )
      .epilogue(
        examplesBlock([
          ['cmd-chat completion >> ~/.bashrc', 'bash: completion in every new shell'],
          ['cmd-chat completion >> ~/.zshrc', 'zsh (with $SHELL zsh)'],
          ['source <(cmd-chat completion)', 'this shell only'],
        ]),
      );
  },
  handler: () => {
    scriptPrinter?.showCompletionScript('cmd-chat', 'completion');
  },
};
