/**
 * A bad command line found while validating options: reported as a usage error (exit 2),
 * unlike failures of the command itself.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}
