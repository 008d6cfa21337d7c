// Owns the JSON-lines run log under <repository>/logs/: one file per run, one
// JSON object per event (pino), 0600. What the operator reads after the fact
// and what later tools (report, dashboard) can parse. Never carries secrets:
// nothing secret is ever handed to it, and known secret keys are redacted too.
// The file is opened once with O_NOFOLLOW and its mode set through that
// descriptor: a link planted under the log's name in the repository makes the
// run fail (REPOSITORY_UNSAFE) instead of appending to, or chmodding, its target.

import { closeSync, fchmodSync, fstatSync, openSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { LOG_DIR } from '../core/naming.ts';
import { APPEND_NO_FOLLOW, repositoryUnsafe } from '../storage/repository-paths.ts';

export interface RunLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** The log file's path, relative to the repository. */
  readonly path: string;
  close(): void;
}

export function openRunLog(repositoryRoot: string, command: string, setId: string, base: Record<string, unknown>): RunLog {
  const path = `${LOG_DIR}/${command}_${setId}.jsonl`;
  const absolute = join(repositoryRoot, path);
  let fd: number;
  try {
    fd = openSync(absolute, APPEND_NO_FOLLOW, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw repositoryUnsafe(repositoryRoot, absolute, `the run log ${path} is a symlink`);
    throw error;
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw repositoryUnsafe(repositoryRoot, absolute, `the run log ${path} is not a regular file`);
  }
  fchmodSync(fd, 0o600);
  const destination = pino.destination({ dest: fd, sync: true });
  const logger: Logger = pino(
    {
      base,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['password', '*.password', 'secret', '*.secret'], censor: '[redacted]' },
    },
    destination,
  );
  return {
    path,
    info: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
    close: () => destination.flushSync(),
  };
}
