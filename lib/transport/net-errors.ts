/**
 * Turns Node's system errors (ECONNREFUSED, ENOTFOUND, ...) into the short human phrases the
 * transports put in their TransportError messages, so every transport words failures alike.
 */

const PHRASES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed by peer',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'temporary failure resolving the host name',
  EAI_FAIL: 'host name resolution failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host is down',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network is down',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this machine',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such socket',
  ENOTSOCK: 'not a socket',
  ENAMETOOLONG: 'path too long',
  ENOTDIR: 'a parent of the path is not a directory',
  EAFNOSUPPORT: 'address family not supported (no IPv6 here?)',
  EINVAL: 'invalid address',
};

/** The errno-style code of an error, if it has one. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * A short phrase for a system error. Only the errno code is used, never Node's own message,
 * because that message can embed paths or addresses we did not choose to show.
 */
export function describeSystemError(err: unknown): string {
  const code = errorCode(err);
  if (code === undefined) return 'unexpected error';
  return PHRASES[code] ?? code.toLowerCase();
}

/** `host:port`, with brackets around IPv6 literals. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A host as written by a user, without the brackets of an IPv6 literal. */
export function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
