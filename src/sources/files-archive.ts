// Owns turning walked entries into tar bytes: one entry at a time, in walk
// order, with its index line and its sha256, and what to do when the tree moves
// underneath us. The guarantee: whatever happens to a file, the bytes emitted
// are a valid tar archive (research note F10, V8).
//
// How each race is handled:
//   - gone before it was opened (ENOENT/ENOTDIR at lstat, open, readlink):
//     nothing was emitted for it yet; FILE_VANISHED, the walk goes on.
//   - A file is OPENED FIRST and its header is written from fstat of that
//     descriptor; an unlinked file stays readable through it, so a delete
//     after the open is harmless. Opened with O_NOFOLLOW|O_NONBLOCK: a file
//     swapped for a symlink fails with ELOOP, one swapped for a FIFO does not
//     block the open, and fstat then shows it is not a regular file.
//   - shrinks while read (fewer bytes than the header promised): the rest is
//     padded with zeros so the archive stays valid (GNU tar does the same),
//     FILE_CHANGED.
//   - grows while read: exactly the promised size is read and archived,
//     FILE_CHANGED (a post-read fstat shows the new size or mtime).
//   - read error after the header (EIO on a failing disk): zero-padded as
//     above and counted as FILE_UNREADABLE, which degrades the run.
// The sha256 in the index is computed over exactly the bytes emitted as the
// entry's body (zero padding included), in the same pass that reads the file:
// each file is read once and the hash is by construction what was archived.
// (Parsing our own output again with node-tar's Parser would re-check the same
// bytes at the cost of a second full pass; the tests extract with GNU tar.)
//
// FIFOs, sockets and device nodes are never opened (node-tar's Pack hangs on a
// FIFO); they are left out with FILE_SPECIAL_SKIPPED.

import { createHash } from 'node:crypto';
import { constants as fsConstants, type Stats } from 'node:fs';
import { open, readlink, type FileHandle } from 'node:fs/promises';
import type { SourceLog } from './source.ts';
import type { SourceWarning } from '../core/manifest.ts';
import type { IndexEntry, IndexWriter } from './files-index.ts';
import { archiveNameOf, encodeEntryHeader, END_OF_ARCHIVE, paddingAfterBody, type TarEntryHeader } from './files-tar.ts';
import { classifyFsError, walkTree, type WalkedEntry, type WalkObserver, type WalkProblemKind } from './files-walk.ts';
import type { ExcludeRules } from './files-exclude.ts';

/** Large reads: 1 MiB reached ~1.1 GB/s here, the 64 KiB default only 0.6 (performance-baseline §7). */
export const READ_CHUNK_BYTES = 1024 * 1024;
/** Small pieces (headers, small files) are gathered into chunks of about this size before they go out. */
const OUTPUT_BATCH_BYTES = 64 * 1024;
/** Warnings kept word for word; beyond that only counted (memory stays flat on a tree that melts away). */
const WARNINGS_KEPT = 1000;
/** Paths named in a FILES_UNREADABLE failure. */
const UNREADABLE_PATHS_KEPT = 50;

export const WARNING_CODES = {
  vanished: 'FILE_VANISHED',
  changed: 'FILE_CHANGED',
  unreadable: 'FILE_UNREADABLE',
  unnameable: 'FILE_UNNAMEABLE',
  special: 'FILE_SPECIAL_SKIPPED',
} as const;

export interface ArchiveCounts {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** Bytes of file content archived (bodies, without tar headers and padding). */
  contentBytes: number;
  /** Archived, but changed while read (the copy may be torn). */
  changedWhileRead: number;
  skipped: {
    excluded: number;
    /** The repository and the scratch dir. */
    protected: number;
    special: number;
    vanished: number;
    unreadable: number;
    unnameable: number;
  };
}

/** Collects warnings (bounded), the per-kind counts and the paths that make the run degraded. */
export class ArchiveLedger implements WalkObserver {
  readonly counts: ArchiveCounts = {
    files: 0,
    dirs: 0,
    symlinks: 0,
    hardlinks: 0,
    contentBytes: 0,
    changedWhileRead: 0,
    skipped: { excluded: 0, protected: 0, special: 0, vanished: 0, unreadable: 0, unnameable: 0 },
  };
  /** Unreadable or unnameable paths: data that exists but is not in the archive. */
  readonly leftOutPaths: string[] = [];
  leftOutCount = 0;
  private readonly warnings: SourceWarning[] = [];
  private warningsDropped = 0;

  constructor(private readonly log: SourceLog) {}

  problem(kind: WalkProblemKind, path: string, reason: string): void {
    switch (kind) {
      case 'vanished':
        this.counts.skipped.vanished++;
        this.warn(WARNING_CODES.vanished, path, `${path} disappeared while the backup ran (${reason}); it is not in the archive`);
        break;
      case 'changed':
        this.counts.changedWhileRead++;
        this.warn(WARNING_CODES.changed, path, `${path} ${reason}`);
        break;
      case 'unreadable':
        this.counts.skipped.unreadable++;
        this.leftOut(path);
        this.warn(
          WARNING_CODES.unreadable,
          path,
          `${path} could not be read (${reason}); it is not (fully) in the archive. Run restorable as a user that can read it, or exclude it`,
        );
        break;
      case 'unnameable':
        this.counts.skipped.unnameable++;
        this.leftOut(path);
        this.warn(WARNING_CODES.unnameable, path, `${path} ${reason}; it is not in the archive`);
        break;
    }
  }

  skipped(kind: 'excluded' | 'protected', _path: string, _pattern?: string): void {
    this.counts.skipped[kind]++;
  }

  specialFile(path: string, kind: string): void {
    this.counts.skipped.special++;
    this.warn(WARNING_CODES.special, path, `${path} is a ${kind}; it is not archived (only regular files, directories and links are)`);
  }

  get degraded(): boolean {
    return this.leftOutCount > 0;
  }

  allWarnings(): SourceWarning[] {
    if (this.warningsDropped === 0) return [...this.warnings];
    return [
      ...this.warnings,
      {
        code: 'WARNINGS_TRUNCATED',
        message: `${this.warningsDropped} more warnings were not listed; the counts are in the details (skipped, changedWhileRead)`,
      },
    ];
  }

  private leftOut(path: string): void {
    this.leftOutCount++;
    if (this.leftOutPaths.length < UNREADABLE_PATHS_KEPT) this.leftOutPaths.push(path);
  }

  private warn(code: string, path: string, message: string): void {
    if (this.warnings.length >= WARNINGS_KEPT) {
      this.warningsDropped++;
      return;
    }
    this.warnings.push({ code, message, path });
    this.log.warn(message, { code, path });
  }
}

export interface ArchivePlan {
  /** Absolute, normalised, none inside another. */
  roots: readonly string[];
  rules: ExcludeRules;
  index: IndexWriter;
  ledger: ArchiveLedger;
  signal: AbortSignal;
  /** Called when a configured path cannot be lstat'ed at walk time; returns the error to throw. */
  rootFailure(root: string, error: unknown): Error;
}

interface ArchivedInode {
  path: string;
  size: number;
  sha256: string;
}

/** The whole archive: every root's tree, then the end-of-archive marker, in output-sized chunks. */
export async function* archiveTrees(plan: ArchivePlan): AsyncGenerator<Buffer> {
  yield* batchSmallPieces(archivePieces(plan));
}

async function* archivePieces(plan: ArchivePlan): AsyncGenerator<Buffer> {
  // dev:ino of files with more than one link -> the first archived path, so
  // later links become hard-link entries (as GNU tar writes them).
  const archivedInodes = new Map<string, ArchivedInode>();
  for (const root of plan.roots) {
    const walk = walkTree(root, plan.rules, plan.ledger, plan.signal);
    let first = true;
    while (true) {
      let step: IteratorResult<WalkedEntry>;
      try {
        step = await walk.next();
      } catch (error) {
        if (first) throw plan.rootFailure(root, error);
        throw error;
      }
      first = false;
      if (step.done) break;
      plan.signal.throwIfAborted();
      yield* archiveEntry(step.value, plan, archivedInodes);
    }
  }
  yield END_OF_ARCHIVE;
}

async function* archiveEntry(entry: WalkedEntry, plan: ArchivePlan, archivedInodes: Map<string, ArchivedInode>): AsyncGenerator<Buffer> {
  const { path, stats } = entry;
  if (stats.isDirectory()) {
    yield header(path, 'Directory', stats);
    await plan.index.add(indexEntry(path, 'dir', stats, 0));
    plan.ledger.counts.dirs++;
  } else if (stats.isSymbolicLink()) {
    const target = await readLinkTarget(path, plan.ledger);
    if (target === undefined) return;
    yield header(path, 'SymbolicLink', stats, { linkTarget: target });
    await plan.index.add({ ...indexEntry(path, 'symlink', stats, 0), linkTarget: target });
    plan.ledger.counts.symlinks++;
  } else if (stats.isFile()) {
    const firstLink = stats.nlink > 1 ? archivedInodes.get(inodeKey(stats)) : undefined;
    if (firstLink) {
      yield header(path, 'Link', stats, { linkTarget: archiveNameOf(firstLink.path) });
      await plan.index.add({ ...indexEntry(path, 'hardlink', stats, firstLink.size), sha256: firstLink.sha256, linkTarget: firstLink.path });
      plan.ledger.counts.hardlinks++;
    } else {
      yield* archiveRegularFile(path, plan, archivedInodes);
    }
  } else {
    plan.ledger.specialFile(path, specialKind(stats));
  }
}

async function* archiveRegularFile(path: string, plan: ArchivePlan, archivedInodes: Map<string, ArchivedInode>): AsyncGenerator<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (error) {
    reportOrThrow(plan.ledger, path, error);
    return;
  }
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) {
      plan.ledger.problem('changed', path, `was replaced by a ${specialKind(opened)} while the backup ran; it is not in the archive`);
      return;
    }
    const size = opened.size;
    yield header(path, 'File', opened, { size });
    const hash = createHash('sha256');
    let position = 0;
    let readFailure: unknown;
    while (position < size) {
      plan.signal.throwIfAborted();
      const wanted = Math.min(READ_CHUNK_BYTES, size - position);
      const buffer = Buffer.allocUnsafe(wanted);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, wanted, position));
      } catch (error) {
        if (!classifyFsError(error)) throw error;
        readFailure = error;
        break;
      }
      if (bytesRead === 0) break; // the file shrank
      const chunk = bytesRead === wanted ? buffer : buffer.subarray(0, bytesRead);
      hash.update(chunk);
      position += bytesRead;
      yield chunk;
    }
    const missingBytes = size - position;
    if (missingBytes > 0) {
      // The header promised `size` bytes: keep that promise with zeros so
      // every later entry stays where a tar reader expects it.
      for (const zeros of zeroChunks(missingBytes)) {
        hash.update(zeros);
        yield zeros;
      }
    }
    const padding = paddingAfterBody(size);
    if (padding) yield padding;

    if (readFailure !== undefined) {
      const { reason } = classifyFsError(readFailure)!;
      plan.ledger.problem('unreadable', path, `${reason} after ${position} of ${size} bytes; the rest of it is zeros in the archive`);
    } else {
      const after = await handle.stat();
      if (missingBytes > 0) {
        plan.ledger.problem('changed', path, `shrank from ${size} to ${position} bytes while it was read; the archived copy is padded with zeros`);
      } else if (after.size !== size) {
        plan.ledger.problem('changed', path, `grew from ${size} to ${after.size} bytes while it was read; the first ${size} bytes are archived`);
      } else if (after.mtimeMs !== opened.mtimeMs) {
        plan.ledger.problem('changed', path, 'was modified while it was read; the archived copy may mix old and new content');
      }
    }

    const sha256 = hash.digest('hex');
    await plan.index.add({ ...indexEntry(path, 'file', opened, size), sha256 });
    plan.ledger.counts.files++;
    plan.ledger.counts.contentBytes += size;
    if (opened.nlink > 1) archivedInodes.set(inodeKey(opened), { path, size, sha256 });
  } finally {
    await handle.close();
  }
}

/** Symlink targets are stored exactly as read, absolute ones included. */
async function readLinkTarget(path: string, ledger: ArchiveLedger): Promise<string | undefined> {
  let raw: Buffer;
  try {
    raw = await readlink(path, { encoding: 'buffer' });
  } catch (error) {
    reportOrThrow(ledger, path, error);
    return undefined;
  }
  const target = raw.toString('utf8');
  if (!Buffer.from(target, 'utf8').equals(raw)) {
    ledger.problem('unnameable', path, `is a symlink whose target is not valid UTF-8 (bytes ${raw.toString('hex')})`);
    return undefined;
  }
  return target;
}

function header(path: string, type: TarEntryHeader['type'], stats: Stats, extra: { size?: number; linkTarget?: string } = {}): Buffer {
  return encodeEntryHeader({
    name: archiveNameOf(path),
    type,
    mode: stats.mode & 0o7777,
    uid: stats.uid,
    gid: stats.gid,
    size: extra.size ?? 0,
    mtime: stats.mtime,
    linkTarget: extra.linkTarget,
  });
}

function indexEntry(path: string, type: IndexEntry['type'], stats: Stats, size: number): IndexEntry {
  return { path, type, mode: stats.mode & 0o7777, size, mtime: stats.mtime.toISOString(), uid: stats.uid, gid: stats.gid };
}

function inodeKey(stats: Stats): string {
  return `${stats.dev}:${stats.ino}`;
}

function specialKind(stats: Stats): string {
  if (stats.isFIFO()) return 'FIFO (named pipe)';
  if (stats.isSocket()) return 'unix socket';
  if (stats.isCharacterDevice()) return 'character device';
  if (stats.isBlockDevice()) return 'block device';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isDirectory()) return 'directory';
  return 'special file';
}

function reportOrThrow(ledger: ArchiveLedger, path: string, error: unknown): void {
  const problem = classifyFsError(error);
  if (!problem) throw error;
  ledger.problem(problem.kind, path, problem.reason);
}

function* zeroChunks(byteCount: number): Generator<Buffer> {
  for (let left = byteCount; left > 0; left -= READ_CHUNK_BYTES) yield Buffer.alloc(Math.min(left, READ_CHUNK_BYTES));
}

/**
 * Headers and small files come as many tiny buffers; a stream chunk per piece
 * costs more than the bytes. Gather them to OUTPUT_BATCH_BYTES; big pieces
 * (file chunks) pass straight through.
 */
async function* batchSmallPieces(pieces: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  let gathered: Buffer[] = [];
  let gatheredBytes = 0;
  for await (const piece of pieces) {
    if (piece.length >= OUTPUT_BATCH_BYTES) {
      if (gatheredBytes > 0) yield Buffer.concat(gathered, gatheredBytes);
      gathered = [];
      gatheredBytes = 0;
      yield piece;
      continue;
    }
    gathered.push(piece);
    gatheredBytes += piece.length;
    if (gatheredBytes >= OUTPUT_BATCH_BYTES) {
      yield Buffer.concat(gathered, gatheredBytes);
      gathered = [];
      gatheredBytes = 0;
    }
  }
  if (gatheredBytes > 0) yield Buffer.concat(gathered, gatheredBytes);
}
