/**
 * Strict base64 / base64url decoding. Node's decoder silently skips characters outside the
 * alphabet and ignores the unused low bits of the last character, so two different strings
 * can decode to the same bytes; for tokens and channel records we want exactly one accepted
 * spelling of every byte string, so a flipped character is always noticed.
 */

const STD_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_RE = /^[A-Za-z0-9_-]*={0,2}$/;

function sextet(code: number): number {
  if (code >= 65 && code <= 90) return code - 65; // A-Z
  if (code >= 97 && code <= 122) return code - 71; // a-z
  if (code >= 48 && code <= 57) return code + 4; // 0-9
  if (code === 43 || code === 45) return 62; // + or -
  return 63; // / or _ (the regex already excluded anything else)
}

/**
 * Decodes `s` or returns null when it is not the canonical encoding of some byte string.
 * `url` selects the base64url alphabet; `padding` says whether '=' padding is required
 * ('required') or may be present or absent ('optional').
 */
export function decodeBase64Strict(s: string, url: boolean, padding: 'required' | 'optional'): Buffer | null {
  if (!(url ? URL_RE : STD_RE).test(s)) return null;
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 61) end--;
  const pads = s.length - end;
  const rem = end % 4;
  if (rem === 1) return null;
  if (pads > 0 || padding === 'required') {
    if (s.length % 4 !== 0) return null;
    if (pads !== (4 - rem) % 4) return null;
  }
  if (rem !== 0) {
    const last = sextet(s.charCodeAt(end - 1));
    if ((last & (rem === 2 ? 0x0f : 0x03)) !== 0) return null;
  }
  return Buffer.from(s, url ? 'base64url' : 'base64');
}

/** base64url with '=' padding, as Fernet tokens are written. */
export function encodeBase64UrlPadded(buf: Buffer): string {
  const s = buf.toString('base64url');
  const r = s.length % 4;
  return r === 0 ? s : s + (r === 2 ? '==' : '=');
}
