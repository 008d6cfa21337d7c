// Owns the JSON-lines run log under <repository>/logs/: one file per run, one
// JSON object per event (pino), 0600. What the operator reads after the fact
// and what later tools (report, dashboard) can parse. Never carries secrets:
// nothing secret is ever handed to it, and known secret keys are redacted too.

import { chmodSync, closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { LOG_DIR } from '../core/naming.ts';

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
  closeSync(openSync(absolute, 'a', 0o600));
  chmodSync(absolute, 0o600);
  const destination = pino.destination({ dest: absolute, sync: true, append: true });
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
