/** Frames as protocol lines, for tests that write the wire format by hand. */

/** One frame as a line, newline included. */
export function encodeLine(frame: object): string {
  return `${JSON.stringify(frame)}\n`;
}
