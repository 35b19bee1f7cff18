/** A daemon logger that drops everything, for tests and benchmarks that start a Daemon in-process. */
import type { Logger } from '../../lib/server/log.js';

export const silentLogger: Logger = { verbose: false, info: () => {}, detail: () => {} };
