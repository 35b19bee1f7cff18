/**
 * A paste from a terminal without bracketed paste (or with it off) arrives as plain typed
 * text, every newline an Enter: a pasted block would go out as one message per line. Several
 * lines in one read from the terminal are a paste (a person presses Enter once per read), so
 * such a read is framed as a bracketed paste: its newlines become marks in the input line,
 * and the block goes out as one message when the user presses Enter. A single line with its
 * Enter (`hello\r`) stays what it is.
 */

/** The markers a terminal puts around a bracketed paste, which paste.ts's filter takes out. */
const BRACKETED_PASTE_START = '\x1b[200~';
const BRACKETED_PASTE_END = '\x1b[201~';
const ESC = 0x1b;
const CR = 0x0d;
const LF = 0x0a;

/** Length of `bytes` without one trailing line break (\r, \n or \r\n). */
function withoutFinalBreak(bytes: Buffer): number {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === LF) end--;
  if (end > 0 && bytes[end - 1] === CR) end--;
  return end;
}

/** Where an incomplete UTF-8 character at the end of `bytes` starts (its length if none). */
function completeUpTo(bytes: Buffer, end: number): number {
  for (let i = end - 1; i >= Math.max(0, end - 3); i--) {
    const b = bytes[i]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return end - i >= need ? end : i;
  }
  return end;
}

/**
 * The read as the line editor should get it: framed as a bracketed paste (without its final
 * line break) when it holds several lines; unchanged otherwise, and always when it carries
 * an escape sequence (keys, or a real bracketed paste).
 */
export function frameMultiLineRead(chunk: Buffer | string): Buffer | string {
  const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
  if (bytes.includes(ESC)) return chunk;
  const end = withoutFinalBreak(bytes);
  const body = bytes.subarray(0, end);
  if (!body.includes(CR) && !body.includes(LF)) return chunk;
  // A character cut by the end of the read goes after the frame, to meet its rest.
  const cut = end === bytes.length ? completeUpTo(bytes, end) : end;
  const framed = Buffer.concat([
    Buffer.from(BRACKETED_PASTE_START),
    bytes.subarray(0, cut),
    Buffer.from(BRACKETED_PASTE_END),
    end === bytes.length ? bytes.subarray(cut) : Buffer.alloc(0),
  ]);
  return typeof chunk === 'string' ? framed.toString('utf8') : framed;
}
