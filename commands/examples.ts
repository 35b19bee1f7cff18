/**
 * The "Examples:" blocks of the help texts: one command per line, what it does indented
 * below (yargs' own example table would wrap a long command across lines).
 */

/** A command as typed, and what it does. */
export type Example = readonly [command: string, what: string];

export function examplesBlock(examples: readonly Example[]): string {
  return `Examples:\n${examples.map(([cmd, what]) => `  ${cmd}\n      ${what}`).join('\n')}`;
}
