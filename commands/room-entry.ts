/**
 * `cmd-chat room-entry NAME`: turns a password typed at a prompt into one line of a rooms
 * file (salt and SRP verifier), so that a daemon started with `--rooms-file` never sees it.
 * `cmd-chat room-entry --decoy-key`: the file's decoy key line (stable decoys for unknown rooms).
 */
import type { Argv, CommandModule } from 'yargs';
import { ExitCode } from '../lib/exit-codes.js';
import { normalizeRoomName } from '../lib/protocol/names.js';
import { decoyKeyEntry, roomEntry } from '../lib/server/room-credentials.js';
import { PASSWORD_ENV, passwordFromSources, promptHidden } from './password.js';

interface RoomEntryArgs {
  name?: string;
  passwordFile?: string;
  decoyKey: boolean;
}

async function run(args: RoomEntryArgs): Promise<void> {
  if (args.decoyKey) {
    process.stdout.write(`${JSON.stringify(decoyKeyEntry())}\n`);
    return;
  }
  let room: string;
  try {
    if (args.name === undefined) throw new Error('no room name');
    room = normalizeRoomName(args.name);
  } catch {
    process.stderr.write(
      'cmd-chat: invalid room name (1-64 characters, no control, bidi or zero-width characters)\n',
    );
    process.exit(ExitCode.usage);
  }
  let password: string | undefined;
  try {
    password = passwordFromSources({ passwordFile: args.passwordFile });
    if (password === undefined) {
      password = await promptHidden(`Password for room ${room}: `);
      const again = await promptHidden('Repeat it: ');
      if (again !== password) throw new Error('the two passwords differ');
    }
    if (password === '') throw new Error('the password is empty');
  } catch (err) {
    process.stderr.write(`cmd-chat: ${(err as Error).message}\n`);
    process.exit(ExitCode.usage);
  }
  process.stdout.write(`${JSON.stringify(await roomEntry(room, password))}\n`);
}

export const roomEntryCommand: CommandModule<object, RoomEntryArgs> = {
  command: 'room-entry [name]',
  describe: 'print a rooms-file line (salt + verifier) for a room, from a password typed at a prompt',
  builder: (y: Argv) =>
    y
      .usage(
        '$0 room-entry <name>\n$0 room-entry --decoy-key\n\nAppend the printed line to a rooms file and start the daemon with --rooms-file FILE:\n' +
          'the daemon then holds only verifiers and never sees the password.\n' +
          `The password is asked on the terminal (twice), or read from --password-file or ${PASSWORD_ENV}.\n` +
          'Start a rooms file with one --decoy-key line: unknown room names then get the same challenge after a restart.',
      )
      .positional('name', { type: 'string', describe: 'room name' })
      .option('decoy-key', {
        type: 'boolean',
        default: false,
        describe: "print the rooms file's decoy key line (once per file) instead of a room",
      })
      .option('password-file', {
        type: 'string',
        describe: 'read the password from the first line of a file',
      }) as unknown as Argv<RoomEntryArgs>,
  handler: run,
};
