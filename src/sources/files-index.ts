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

import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';

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
