// Owns the entry index of a files artifact: one JSON line per archived entry,
// streamed to a file in the run's scratch dir (never held in memory). Restore
// (`--path`), verify and drills read it to know what the archive holds and to
// compare restored files with what was archived, without unpacking anything.
//
// Line format (all fields always present except where noted):
//   path        absolute path on the backed-up machine ("/var/www/app/x.jpg");
//               the archive name is this path without its leading "/"
//   type        "file" | "dir" | "symlink" | "hardlink"
//   mode        permission bits incl. setuid/setgid/sticky (stat.mode & 0o7777)
//   size        content bytes: the archived body for files, the shared
//               content for hard links, 0 for dirs and symlinks
//   mtime       ISO 8601, milliseconds (the archive keeps whole seconds in
//               ustar fields and milliseconds in pax records)
//   uid, gid    numeric owner
//   sha256      files and hard links: hex sha256 of exactly the bytes archived
//   linkTarget  symlinks: the target as stored; hard links: the absolute path
//               of the first archived link to the same inode
//   xattrs      only when the entry has any: extended attributes and POSIX
//               ACLs, name -> base64 of the raw value (files-xattrs.ts)
// A hard link carries its content's size and sha256 so a drill can check
// every restored path by itself.
//
// Reading is the mirror of writing: `IndexReader` is the stage that parses the
// decoded lines, `readIndex` reads a set's stored index through the one
// verified read (size, sha256, gunzip). An index comes from the repository,
// which is not trusted: a reader checks only that each line is an object with
// a string `path` and `type`, so a consumer checks the other fields it uses.

import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import type { ArtifactRecord } from '../core/manifest.ts';
import { BoundedLineSplitter, MAX_LINE_BYTES } from '../storage/bounded-lines.ts';
import type { SetReader } from '../storage/set-reader.ts';
import { indexRecordOf, judgeRead, readVerified, type StoredFileRecord, type VerifiedRead } from '../storage/verified-read.ts';

export type IndexEntryType = 'file' | 'dir' | 'symlink' | 'hardlink';

export interface IndexEntry {
  path: string;
  type: IndexEntryType;
  mode: number;
  size: number;
  mtime: string;
  uid: number;
  gid: number;
  sha256?: string;
  linkTarget?: string;
  /** Extended attributes and ACLs (`system.posix_acl_access`...): name -> base64 value; absent when none. */
  xattrs?: Record<string, string>;
}

/** Lines are gathered up to this many bytes and then written in one call. */
const FLUSH_THRESHOLD_BYTES = 64 * 1024;

export class IndexWriter {
  entryCount = 0;
  private readonly output: WriteStream;
  private pendingText = '';
  private failure: Error | undefined;

  constructor(readonly filePath: string) {
    this.output = createWriteStream(filePath, { mode: 0o600 });
    this.output.on('error', (error) => {
      this.failure = error;
    });
  }

  /** Adds one line; resolves once the writer can take more (backpressure). */
  async add(entry: IndexEntry): Promise<void> {
    this.throwIfFailed();
    this.pendingText += `${JSON.stringify(entry)}\n`;
    this.entryCount++;
    if (this.pendingText.length >= FLUSH_THRESHOLD_BYTES) await this.flush();
  }

  /** Writes what is pending, ends the file and waits until it is closed. */
  async close(): Promise<void> {
    await this.flush();
    this.output.end();
    if (!this.output.closed) {
      await once(this.output, 'close'); // events.once rejects if 'error' comes first
    }
    this.throwIfFailed();
  }

  /** Closes without caring about the result (the run failed anyway). */
  discard(): void {
    this.output.destroy();
  }

  private async flush(): Promise<void> {
    if (this.pendingText === '') return;
    const text = this.pendingText;
    this.pendingText = '';
    if (!this.output.write(text)) {
      await once(this.output, 'drain');
    }
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}

/**
 * The stage that reads the decoded index as it streams, handing each entry to
 * `onEntry` (which may be async: the next chunk waits for it). Every line is
 * bounded (bounded-lines.ts): an index that decompresses to one endless line
 * is a damaged index, not a crash. A line that is not an entry is recorded in
 * `failure`, never thrown into the stream; after the first, the rest of the
 * stream is only drained. An error of `onEntry` itself fails the stream.
 */
export class IndexReader extends Writable {
  /** Entries read so far. */
  count = 0;
  failure: string | undefined;
  private readonly splitter: BoundedLineSplitter;
  private pending: Promise<void> | undefined;

  constructor(private readonly onEntry: (entry: IndexEntry) => void | Promise<void> = () => {}) {
    super();
    this.splitter = new BoundedLineSplitter(
      (line) => this.take(line),
      (lineNumber) => {
        this.failure ??= `line ${lineNumber} is longer than ${MAX_LINE_BYTES} bytes: not an index restorable wrote`;
      },
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.failure) this.splitter.push(chunk);
    this.afterPending(callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.failure && this.splitter.end() && !this.failure) this.failure = `the last line is cut short (no newline at the end)`;
    this.afterPending(callback);
  }

  private afterPending(callback: (error?: Error | null) => void): void {
    const pending = this.pending;
    if (!pending) return callback();
    this.pending = undefined;
    pending.then(() => callback(), (error: Error) => callback(error));
  }

  private take(line: string): void {
    if (this.failure) return;
    let entry: IndexEntry;
    try {
      const value = JSON.parse(line) as { path?: unknown; type?: unknown } | null;
      if (typeof value?.path !== 'string' || typeof value.type !== 'string') throw new Error('no path or type');
      entry = value as IndexEntry;
    } catch (error) {
      this.failure = `line ${this.count + 1} is not an index entry (${(error as Error).message})`;
      return;
    }
    this.count++;
    if (this.pending) {
      this.pending = this.pending.then(() => this.onEntry(entry));
      return;
    }
    // Synchronous consumers (most) cost no promise per line.
    try {
      const result = this.onEntry(entry);
      if (result) this.pending = result;
    } catch (error) {
      this.pending = Promise.reject(error);
    }
  }
}

export interface IndexRead {
  /** The index as a stored file (always gzip). */
  record: StoredFileRecord;
  read: VerifiedRead;
  /** Entries handed to `onEntry`. */
  entries: number;
  /**
   * Why the index cannot be trusted, in words, the cause first: size, sha256,
   * gunzip, a line that is not an entry, or the failure of `onEntry`;
   * undefined when the whole index read soundly.
   */
  problem?: string;
}

/**
 * Reads the entry index of a files artifact (which must have one) through the
 * verified read, entry by entry. Rejects only when the index cannot be opened
 * or read (or on `signal`), or when gunzip is missing.
 */
export async function readIndex(
  reader: SetReader,
  artifact: ArtifactRecord,
  onEntry: (entry: IndexEntry) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<IndexRead> {
  const record = indexRecordOf(artifact);
  const lines = new IndexReader(onEntry);
  const read = await readVerified(reader, record, [lines], signal);
  const verdict = judgeRead(record, read);
  const consumerFailure = verdict.consumerError === undefined ? undefined : ((verdict.consumerError as Error).message ?? String(verdict.consumerError));
  return { record, read, entries: lines.count, problem: verdict.damage[0]?.message ?? lines.failure ?? consumerFailure };
}
