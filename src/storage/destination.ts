// Owns the Destination interface: the few operations every place that holds
// sets offers (the local repository now; S3 and SFTP later), modelled on
// restic's Backend (internal/backend): stat, list, put, get, remove. Paths are
// relative to the destination's root and use `/`; a destination refuses a path
// that would leave its root. Everything above (SetReader, publishing,
// retention) is written once against this interface; retry, logging, dry run
// and fault injection are wrappers around it (destination-wrappers.ts), never
// branches inside a driver.
//
// Contract, checked by test/storage/destination-conformance.ts:
// - put is atomic and never overwrites: a stored file is either absent or
//   complete; a put whose source fails leaves nothing visible; putting a path
//   that exists fails with ALREADY_EXISTS;
// - get returns exactly the bytes asked for: a file shorter than the range
//   (or one truncated while read) fails the stream with SHORT_READ, it never
//   just ends early;
// - stat and get of a missing file fail with NOT_FOUND (isNotFound());
//   remove of a missing file is no error (a retried prune may repeat one);
// - list never shows a put still in progress.

import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { RestorableError } from '../core/errors.ts';

/** A stored file as the destination sees it. */
export interface StoredFileInfo {
  /** Relative to the destination's root, e.g. `db/db_backup_2026-03-01_03-00-00.sql.gz`. */
  path: string;
  sizeBytes: number;
}

/**
 * The content of a put: a function returning a FRESH stream each call, so a
 * retry re-reads from the start (restic's RewindReader). A spooled file is
 * re-opened; a stream that cannot be re-read is no ReopenableSource.
 */
export type ReopenableSource = () => Readable | Promise<Readable>;

/** Part of a stored file: `length` bytes from `offset` (to the end when absent). */
export interface ByteRange {
  offset: number;
  length?: number;
}

export interface Destination {
  /** Where it is, for messages: "local repository /var/backups/app". */
  describe(): string;
  /** Size of a stored file; NOT_FOUND when absent. */
  stat(path: string): Promise<StoredFileInfo>;
  /**
   * The stored files directly in the directory `prefix` (e.g. `manifests`, or
   * a source's directory), sorted by path; none when the directory is absent.
   * Entries that are no plain file (a planted link) are listed with size 0, so
   * that a reader can report them; they are never followed.
   */
  list(prefix: string): Promise<StoredFileInfo[]>;
  /** Stores the source's bytes under `path`, atomically; ALREADY_EXISTS when something is stored there. */
  put(path: string, source: ReopenableSource, options?: { signal?: AbortSignal }): Promise<StoredFileInfo>;
  /** Streams a stored file, or the range of it; see the contract above. */
  get(path: string, range?: ByteRange): Promise<Readable>;
  /** Removes a stored file, durably; a missing one is no error. */
  remove(path: string): Promise<void>;
}

/** Error codes of the contract. */
export const NOT_FOUND = 'NOT_FOUND';
export const ALREADY_EXISTS = 'ALREADY_EXISTS';
export const SHORT_READ = 'SHORT_READ';

export function notFound(destination: Destination, path: string, cause?: unknown): RestorableError {
  return new RestorableError(`${path} does not exist in ${destination.describe()}`, {
    code: NOT_FOUND,
    where: { destination: destination.describe(), path },
    remedy: '`restorable list` shows the complete sets; a set whose files are missing is damaged: restore from another set or an offsite copy',
    cause,
  });
}

export function alreadyExists(destination: Destination, path: string): RestorableError {
  return new RestorableError(`${path} already exists in ${destination.describe()}; a stored file is never overwritten`, {
    code: ALREADY_EXISTS,
    where: { destination: destination.describe(), path },
    remedy: 'another run may be writing the same set: check `restorable check` for a held lock, then run the backup again',
  });
}

/**
 * True for the refusal of a stored file that is a symlink (only a local
 * destination has them): REPOSITORY_UNSAFE caused by ELOOP. The file is
 * damaged, never followed; a linked DIRECTORY refuses the whole destination.
 */
export function isLinkInPlaceOfFile(error: unknown): boolean {
  return error instanceof RestorableError && error.code === 'REPOSITORY_UNSAFE' && (error.cause as { code?: string } | undefined)?.code === 'ELOOP';
}

export function isNotFound(error: unknown): boolean {
  return error instanceof RestorableError && error.code === NOT_FOUND;
}

/** Errors worth retrying: the network or the service hiccuped, not the request or the data. */
const TRANSIENT_SYSTEM_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/**
 * True for a failure that may pass on its own: a system error of the network
 * kind, or an error that says so (`transient: true`, e.g. an HTTP 500/503
 * from object storage). A full disk, a refused path, a missing file are not.
 */
export function isTransientError(error: unknown): boolean {
  for (let current = error as { code?: unknown; transient?: unknown; cause?: unknown } | undefined, depth = 0; current && depth < 3; current = current.cause as typeof current, depth++) {
    if (current.transient === true || TRANSIENT_SYSTEM_CODES.has(String(current.code))) return true;
  }
  return false;
}

/**
 * Passes exactly `expectedBytes` through and fails with SHORT_READ when the
 * input ends before that (a file truncated under us, a range past the end,
 * a connection that closed early). Drivers put it behind every get.
 */
export function exactLength(expectedBytes: number, what: { destination: string; path: string }): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const room = expectedBytes - seen;
      seen += chunk.length;
      callback(null, chunk.length > room ? chunk.subarray(0, room) : chunk);
    },
    flush(callback: TransformCallback) {
      if (seen >= expectedBytes) return callback();
      callback(
        new RestorableError(`${what.path} in ${what.destination} ended after ${seen} of ${expectedBytes} bytes (a short read)`, {
          code: SHORT_READ,
          where: { destination: what.destination, path: what.path },
          remedy: 'read it again; if it stays short, the stored file is damaged: `restorable verify` the set, restore from another set or an offsite copy',
        }),
      );
    },
  });
}
