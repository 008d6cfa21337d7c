// Owns the error vocabulary: every expected failure is a RestorableError with a
// stable `code`, the exit code it maps to, where it happened, and what the
// operator should do next. Only src/cli turns these into exit codes and text.

export const ExitCode = {
  OK: 0,
  WARNING: 1,
  CRITICAL: 2,
  UNKNOWN: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface ErrorWhere {
  job?: string;
  source?: string;
  destination?: string;
  path?: string;
}

export interface RestorableErrorOptions {
  /** Stable identifier of the kind of failure, e.g. `DUMP_INCOMPLETE`. */
  code: string;
  /** What the operator should do next, e.g. "grant SHOW VIEW to backup@localhost". */
  remedy?: string;
  where?: ErrorWhere;
  /** Extra lines (a child's stderr tail, a list of missing objects). */
  details?: string[];
  exitCode?: ExitCode;
  cause?: unknown;
}

export class RestorableError extends Error {
  readonly code: string;
  readonly remedy: string | undefined;
  readonly where: ErrorWhere;
  readonly details: string[];
  readonly exitCode: ExitCode;

  constructor(message: string, options: RestorableErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RestorableError';
    this.code = options.code;
    this.remedy = options.remedy;
    this.where = options.where ?? {};
    this.details = options.details ?? [];
    this.exitCode = options.exitCode ?? ExitCode.CRITICAL;
  }

  /** The same error, located more precisely (callers higher up know the job/source). */
  locatedAt(where: ErrorWhere): RestorableError {
    const located = new RestorableError(this.message, {
      code: this.code,
      remedy: this.remedy,
      where: { ...where, ...this.where },
      details: this.details,
      exitCode: this.exitCode,
      cause: this.cause,
    });
    located.stack = this.stack;
    return located;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      where: this.where,
      remedy: this.remedy,
      details: this.details,
    };
  }
}

export class ConfigError extends RestorableError {
  constructor(message: string, options: Omit<RestorableErrorOptions, 'code'> & { code?: string }) {
    super(message, { code: 'CONFIG_INVALID', ...options });
    this.name = 'ConfigError';
  }
}

/** Wraps anything thrown into a RestorableError, keeping real ones as they are. */
export function asRestorableError(error: unknown, fallbackCode = 'INTERNAL'): RestorableError {
  if (error instanceof RestorableError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new RestorableError(message, { code: fallbackCode, cause: error });
}

/** Known system error codes -> an operator-facing explanation and remedy. */
export function describeSystemError(error: unknown, path?: string): RestorableError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = path ? { path } : {};
  switch (code) {
    case 'ENOSPC':
      return new RestorableError(`the disk is full: no space left on device${path ? ` while writing ${path}` : ''}`, {
        code: 'DISK_FULL',
        where,
        remedy: 'free space on the repository filesystem (df -h), or lower retention; earlier sets are untouched',
        cause: error,
      });
    case 'EDQUOT':
      return new RestorableError(`disk quota exceeded${path ? ` while writing ${path}` : ''}`, {
        code: 'DISK_FULL',
        where,
        remedy: 'raise the quota or free space on the repository filesystem',
        cause: error,
      });
    case 'EACCES':
    case 'EPERM':
      return new RestorableError(`permission denied${path ? ` on ${path}` : ''}`, {
        code: 'PERMISSION_DENIED',
        where,
        remedy: 'run restorable as a user that may read the sources and write the repository (usually root)',
        cause: error,
      });
    case 'EROFS':
      return new RestorableError(`read-only filesystem${path ? ` at ${path}` : ''}`, {
        code: 'READ_ONLY',
        where,
        remedy: 'point `repository` at a writable filesystem',
        cause: error,
      });
    default:
      return undefined;
  }
}
