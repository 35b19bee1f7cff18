/**
 * The list of subcommand modules the CLI registers, in the order `--help` shows them.
 */
import type { CommandModule } from 'yargs';
import { completionCommand } from './completion.js';
import { connectCommand } from './connect.js';
import { roomEntryCommand } from './room-entry.js';
import { serveCommand } from './serve.js';

// biome-ignore lint/suspicious/noExplicitAny: yargs command modules differ in their argument types.
export const commandModules: CommandModule<any, any>[] = [
  serveCommand,
  connectCommand,
  roomEntryCommand,
  completionCommand,
];
