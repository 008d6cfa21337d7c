// Owns turning the bytes of a files archive into a tree inside restore's
// staging directory. node-tar's Parser reads the tar format (ustar, pax,
// GNU long names); everything else is ours, because node-tar's Unpack
// reserves every path component of every entry and walks them with mkdir:
// at depth 700 it took 3.4 GB and 87 s, at 1100 it ran out of memory.
//
// How entries are written:
//   - Every name is judged first by the EntryGuard that verify also runs;
//     one refusal fails the whole archive.
//   - All writes go through the staging directory's anchor (an opened
//     descriptor, see files-dir-anchor.ts); nothing is ever opened or changed
//     through a symlink: files are created O_EXCL|O_NOFOLLOW, directories are
//     opened O_NOFOLLOW for their metadata, symlinks get lchown/lutimes.
//     Symlinks are created only after every other entry, so nothing is
//     written through them either.
//   - Directories are made 0700 while the tree is being written, parents the
//     archive does not hold stay 0700 (never 0777 under umask 000); the
//     archive's owners, modes and mtimes are applied at the end, deepest
//     first, through descriptors of the opened directories. The caller moves
//     the tree into place only after that, so the tree is never reachable by
//     others while it is still being changed.
//   - Files are written in 1 MiB batches (files-write.ts); aligned 64 KiB blocks of zeros are
//     skipped (seek, not write) and the size set with ftruncate, so sparse
//     files come back sparse instead of filling the disk.
//   - Entries are processed in archive order, with backpressure from the disk
//     to the decompressor: memory stays flat in the size of the archive and
//     the depth of the tree. Small files (up to 64 KiB, most of a web app's
//     tree) are read whole and written in the background, 16 at a time, since
//     each costs several system calls; a directory, a hard link or a second
//     entry of the same name waits for them. What is kept until the end: one
//     record per directory and per symlink, and the counts.
//
// With a selection (`--path`), entries outside it are skipped; a selected hard
// link whose first link lies outside it gets that file extracted too (the
// caller found such names in the entry index) and removed again at the end.

import { constants } from 'node:fs';
import { lchown, link, lstat, lutimes, mkdir, open, rmdir, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import { RestorableError } from '../core/errors.ts';
import { DIRECTORY_NOFOLLOW, type DirectoryAnchor } from './files-dir-anchor.ts';
import { applyDirectoryRecord, fileFacts, writeAll, writeSparseBody, WRITE_BATCH_BYTES, type DirectoryRecord, type FileFacts } from './files-write.ts';
import { EntryGuard, EntryRefusal, type GuardedEntry } from './files-entry-guard.ts';

export interface ExtractedCounts {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
}

export interface ExtractionOptions {
  /** The staging directory, opened: every write is anchored to it. */
  staging: DirectoryAnchor;
  /** Archive names (no leading `/`) to restore; empty for everything. */
  selection: string[];
  /** Names outside the selection that selected hard links point to. */
  linkTargets: Set<string>;
  /** Apply the archive's owners (only root can). */
  preserveOwners: boolean;
  /** Called with each batch of bytes written to disk (for free-space watching). */
  onWritten?: (bytes: number) => void;
}

/** Files are created like this: never through a symlink, never over an existing name. */
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/** Files up to this size are read whole and written in the background, this many at a time. */
const SMALL_FILE_BYTES = 64 * 1024;
const SMALL_FILES_IN_FLIGHT = 16;

interface SymlinkRecord {
  target: string;
  uid: number | undefined;
  gid: number | undefined;
  mtime: Date | undefined;
}

export function isSelected(name: string, selection: string[]): boolean {
  return selection.length === 0 || selection.some((path) => name === path || name.startsWith(`${path}/`));
}

/**
 * The archive's bytes in (`sink`), the tree out in the staging directory.
 * `failure` holds the first problem; after one, the rest of the archive is
 * only read. Call `finish()` after the sink ended cleanly, `settled()` in
 * every case before judging or removing the staging directory.
 */
export class TarExtraction {
  failure: Error | undefined;
  readonly sink: Writable;
  readonly counts: ExtractedCounts = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0 };
  /** Selected entries seen (a selection that matches nothing is an error for the caller). */
  selectedCount = 0;
  /** Bytes of file content written to disk (holes excluded). */
  bytesWritten = 0;

  private readonly guard = new EntryGuard();
  private readonly parser: Parser;
  /** The archive's directories by name (selected ones): their metadata is applied at the end. */
  readonly directories = new Map<string, DirectoryRecord>();
  private readonly symlinks = new Map<string, SymlinkRecord>();
  private readonly extractedLinkTargets = new Set<string>();
  /** Entries are processed one after the other: this is the last one's promise. */
  private work: Promise<void> = Promise.resolve();
  private readonly parserEnded: Promise<void>;
  private parserEndRequested = false;
  private readonly batch = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
  /** Small files being written in the background, by name. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** The process umask, which open() applies to the modes it creates files with. */
  private readonly umask = process.umask();

  constructor(private readonly options: ExtractionOptions) {
    // brotli/zstd off: the bytes are already decompressed. strict: any warning is an error.
    this.parser = new Parser({ strict: true, brotli: false, zstd: false });
    this.parser.on('entry', (entry: ReadEntry) => this.enqueue(entry));
    // Types node-tar does not know (and oversized meta entries) never reach 'entry'.
    this.parser.on('ignoredEntry', (entry: ReadEntry) => this.enqueue(entry));
    this.parserEnded = new Promise<void>((resolve) => {
      this.parser.on('error', (error: Error) => {
        this.fail(error);
        resolve();
      });
      this.parser.on('end', () => resolve());
    });

    let waitingForDrain: (() => void) | undefined;
    const release = (): void => {
      const callback = waitingForDrain;
      waitingForDrain = undefined;
      callback?.();
    };
    this.parser.on('drain', release);
    void this.parserEnded.then(release);
    this.sink = new Writable({
      highWaterMark: 256 * 1024,
      write: (chunk: Buffer, _encoding, callback) => {
        if (this.failure) return callback(this.failure);
        if (this.parser.write(chunk)) return callback(this.failure);
        waitingForDrain = () => callback(this.failure);
      },
      final: (callback) => {
        void this.settled().then(() => callback(this.failure));
      },
    });
  }

  /** Resolves once the parser has ended and every entry has been written (or given up on). */
  async settled(): Promise<void> {
    if (!this.parserEndRequested) {
      this.parserEndRequested = true;
      this.parser.end();
    }
    await this.parserEnded;
    // Entries queued before the end still run (after a failure they only drain).
    let last: Promise<void>;
    do {
      last = this.work;
      await last;
    } while (last !== this.work);
    await this.settleInFlight();
  }

  /**
   * After a clean read: removes link targets extracted only for linking,
   * creates the symlinks, then applies directory owners, modes and mtimes,
   * deepest first. Throws on the first problem.
   */
  async finish(): Promise<void> {
    await this.settled();
    if (this.failure) throw this.failure;
    const { staging } = this.options;
    for (const name of this.extractedLinkTargets) {
      await unlink(await staging.pathOf(name));
      // Remove the directories made only for it; rmdir stops at the first non-empty one.
      for (let parent = parentOf(name); parent !== '.'; parent = parentOf(parent)) {
        try {
          await rmdir(await staging.pathOf(parent));
        } catch {
          break;
        }
      }
    }
    for (const [name, record] of this.symlinks) await this.createSymlink(name, record);
    await this.applyDirectoryMetadata();
  }

  // -------------------------------------------------------------------------

  private fail(error: unknown): void {
    this.failure ??= error instanceof Error ? error : new Error(String(error));
  }

  private enqueue(entry: ReadEntry): void {
    this.work = this.work.then(async () => {
      try {
        if (this.failure) return;
        await this.extract(entry);
      } catch (error) {
        this.fail(error);
      } finally {
        // Whatever happened, the parser must get past this entry's body.
        entry.resume();
      }
    });
  }

  private async extract(entry: ReadEntry): Promise<void> {
    let judged: GuardedEntry;
    try {
      judged = this.guard.judge(entry.path, entry.ignore && entry.meta ? 'oversized metadata' : entry.type, entry.linkpath);
    } catch (error) {
      if (!(error instanceof EntryRefusal)) throw error;
      // A FIFO or device outside --path is simply not restored; an unsafe name anywhere refuses the archive.
      if (error.reason === 'unsupported' && error.entryName !== undefined && !isSelected(error.entryName, this.options.selection)) return;
      throw refusalError(error);
    }
    const { kind, name } = judged;
    const selected = isSelected(name, this.options.selection);
    const neededAsLinkTarget = !selected && kind === 'file' && this.options.linkTargets.has(name);
    // A later entry of the same name replaces an earlier symlink.
    if (kind !== 'symlink') this.symlinks.delete(name);
    if (!selected && !neededAsLinkTarget) return;
    // Directories and hard links may depend on files still being written.
    if (kind === 'dir' || kind === 'hardlink') await this.settleInFlight();

    switch (kind) {
      case 'symlink':
        this.symlinks.set(name, { target: entry.linkpath!, uid: entry.uid, gid: entry.gid, mtime: entry.mtime });
        this.counted('symlinks');
        return;
      case 'dir':
        if (name !== '.') await this.makeDirectory(name);
        this.directories.set(name, { name, mode: entry.mode, uid: entry.uid, gid: entry.gid, atime: entry.atime, mtime: entry.mtime });
        this.counted('dirs');
        return;
      case 'hardlink': {
        const linkName = judged.linkName!;
        if (!isSelected(linkName, this.options.selection) && !this.options.linkTargets.has(linkName)) {
          throw new RestorableError(`/${name} is a hard link to /${linkName}, which is outside --path and could not be located in the entry index`, {
            code: 'RESTORE_LINK_OUTSIDE_SELECTION',
            remedy: `add --path /${linkName}, or restore without --path`,
          });
        }
        await this.makeHardLink(name, linkName);
        this.counted('hardlinks');
        return;
      }
      case 'file':
        // The same name being written in the background: let it finish first.
        if (this.inFlight.has(name)) await this.settleInFlight();
        if (entry.size <= SMALL_FILE_BYTES) await this.writeSmallFile(name, entry);
        else await this.writeFile(name, entry);
        if (neededAsLinkTarget) this.extractedLinkTargets.add(name);
        else this.counted('files');
        return;
    }
  }

  private counted(kind: keyof ExtractedCounts): void {
    this.counts[kind]++;
    this.selectedCount++;
  }

  /** mkdir 0700; an existing directory is fine, anything else of that name is replaced. */
  private async makeDirectory(name: string): Promise<void> {
    const path = await this.options.staging.pathOf(name);
    try {
      await mkdir(path, { mode: 0o700 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        await this.makeParents(name);
        await mkdir(path, { mode: 0o700 });
      } else if (code === 'EEXIST') {
        if ((await lstat(path)).isDirectory()) return;
        await unlink(path);
        await mkdir(path, { mode: 0o700 });
      } else throw error;
    }
  }

  /** Parents the archive did not hold (or not yet): 0700, owned by whoever restores. */
  private async makeParents(name: string): Promise<void> {
    const parent = parentOf(name);
    if (parent === '.') return;
    await mkdir(await this.options.staging.pathOf(parent), { recursive: true, mode: 0o700 });
  }

  private async makeHardLink(name: string, linkName: string): Promise<void> {
    const existingPath = await this.options.staging.pathOf(linkName);
    const path = await this.options.staging.pathOf(name);
    try {
      await link(existingPath, path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && (await lstat(existingPath).catch(() => undefined)) !== undefined) {
        await this.makeParents(name);
      } else if (code === 'EEXIST') {
        await this.removeNonDirectory(name, path);
      } else if (code === 'ENOENT') {
        throw new RestorableError(`hard link /${name} points to /${linkName}, which the archive does not hold before it`, { code: 'RESTORE_UNSAFE_ARCHIVE' });
      } else throw error;
      await link(existingPath, path);
    }
  }

  /** A large file: created, its body streamed to disk with holes, then owner, mode and times. */
  private async writeFile(name: string, entry: ReadEntry): Promise<void> {
    const facts = fileFacts(entry);
    const handle = await this.createFile(name, facts.mode);
    try {
      const size = await writeSparseBody(handle, entry, this.batch, (bytes) => this.wrote(bytes));
      if (size !== facts.size) throw new Error(`entry ${entry.path} ended after ${size} of ${facts.size} bytes`);
      await this.finishFile(handle, facts);
    } finally {
      await handle.close();
    }
  }

  /**
   * A small file: its body is read whole, and the file written in the
   * background while the next entries are parsed (a few at a time), since
   * each file costs several system calls and most files are small.
   */
  private async writeSmallFile(name: string, entry: ReadEntry): Promise<void> {
    const facts = fileFacts(entry);
    const chunks: Buffer[] = [];
    for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (body.length !== facts.size) throw new Error(`entry ${entry.path} ended after ${body.length} of ${facts.size} bytes`);
    while (this.inFlight.size >= SMALL_FILES_IN_FLIGHT) await Promise.race(this.inFlight.values());
    const task = (async () => {
      const handle = await this.createFile(name, facts.mode);
      try {
        await writeAll(handle, body, 0, body.length, 0);
        this.wrote(body.length);
        await this.finishFile(handle, facts);
      } finally {
        await handle.close();
      }
    })()
      .catch((error: unknown) => this.fail(error))
      .finally(() => this.inFlight.delete(name));
    this.inFlight.set(name, task);
  }

  private wrote(bytes: number): void {
    this.bytesWritten += bytes;
    this.options.onWritten?.(bytes);
  }

  /** Waits for the small files still being written. */
  private async settleInFlight(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight.values());
  }

  /** Creates a file: never through a link, never over a directory; missing parents are made 0700. */
  private async createFile(name: string, mode: number): Promise<FileHandle> {
    const path = await this.options.staging.pathOf(name);
    try {
      return await open(path, CREATE_FLAGS, mode & 0o777);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') await this.makeParents(name);
      else if (code === 'EEXIST') await this.removeNonDirectory(name, path);
      else throw error;
      return open(path, CREATE_FLAGS, mode & 0o777);
    }
  }

  private async finishFile(handle: FileHandle, facts: FileFacts): Promise<void> {
    if (this.options.preserveOwners && facts.uid !== undefined && facts.gid !== undefined) await handle.chown(facts.uid, facts.gid);
    // open() is subject to the umask, and chown clears setuid/setgid: then the mode is set again.
    if ((facts.mode & 0o7000) !== 0 || (facts.mode & this.umask) !== 0) await handle.chmod(facts.mode);
    if (facts.mtime) await handle.utimes(facts.atime ?? facts.mtime, facts.mtime);
  }

  /** A file or symlink of that name from an earlier entry goes; a directory is not replaced by a file. */
  private async removeNonDirectory(name: string, path: string): Promise<void> {
    const existing = await lstat(path);
    if (existing.isDirectory()) {
      throw new RestorableError(`the archive holds both a directory and a non-directory named /${name}`, { code: 'RESTORE_UNSAFE_ARCHIVE' });
    }
    await unlink(path);
  }

  private async createSymlink(name: string, record: SymlinkRecord): Promise<void> {
    const { staging } = this.options;
    const path = await staging.pathOf(name);
    const existing = await lstat(path).catch(() => undefined);
    if (existing?.isDirectory()) {
      throw new RestorableError(`the archive holds both a directory and a symlink named /${name}`, { code: 'RESTORE_UNSAFE_ARCHIVE' });
    }
    if (existing) await unlink(path);
    else await this.makeParents(name);
    await symlink(record.target, path);
    if (this.options.preserveOwners && typeof record.uid === 'number' && typeof record.gid === 'number') await lchown(path, record.uid, record.gid);
    if (record.mtime) await lutimes(path, record.mtime, record.mtime);
  }

  /** Owners, modes and mtimes of the archive's directories, deepest first, each through its own descriptor. */
  private async applyDirectoryMetadata(): Promise<void> {
    const depth = (name: string): number => {
      let slashes = 0;
      for (let index = name.indexOf('/'); index !== -1; index = name.indexOf('/', index + 1)) slashes++;
      return name === '.' ? -1 : slashes;
    };
    const ordered = [...this.directories.values()].map((directory) => ({ directory, depth: depth(directory.name) })).sort((a, b) => b.depth - a.depth);
    for (const { directory } of ordered) {
      // The top is the target itself: the caller applies it (or not) once it is in place.
      if (directory.name === '.') continue;
      const handle = await open(await this.options.staging.pathOf(directory.name), DIRECTORY_NOFOLLOW);
      try {
        await applyDirectoryRecord(handle, directory, this.options.preserveOwners);
      } finally {
        await handle.close();
      }
    }
  }
}

function parentOf(name: string): string {
  const slash = name.lastIndexOf('/');
  return slash === -1 ? '.' : name.slice(0, slash);
}

function refusalError(refusal: EntryRefusal): RestorableError {
  return new RestorableError(refusal.message, { code: refusal.reason === 'unsafe' ? 'RESTORE_UNSAFE_ARCHIVE' : 'RESTORE_UNSUPPORTED_ENTRY' });
}
