// Owns turning walked entries into tar bytes: entries in walk order, each with
// its index line and its sha256, and what to do when the tree moves underneath
// us. The guarantee: whatever happens to a file, the bytes emitted are a valid
// tar archive.
//
// Throughput: every filesystem call is a thread-pool round trip, so the next
// LOOKAHEAD_ENTRIES entries are prepared concurrently (files opened and
// fstat'ed, files up to SMALL_FILE_BYTES read whole) while the current one is
// written; large files are then streamed in READ_CHUNK_BYTES reads.
//
// How each race is handled:
//   - gone before it was opened (ENOENT/ENOTDIR at lstat, open, readlink):
//     nothing was emitted for it; FILE_VANISHED, the walk goes on.
//   - A file is OPENED FIRST and its header is written from fstat of that
//     descriptor; an unlinked file stays readable through it, so a delete
//     after the open is harmless (the file is archived as it was). Opened with
//     O_NOFOLLOW|O_NONBLOCK: a file swapped for a symlink fails with ELOOP,
//     one swapped for a FIFO does not block the open, and fstat then shows it
//     is not a regular file (FILE_CHANGED, left out).
//   - shrinks while read (fewer bytes than the header promised): the rest is
//     padded with zeros so the archive stays valid (GNU tar does the same),
//     FILE_CHANGED.
//   - grows while read: exactly the promised size is archived, FILE_CHANGED
//     (a post-read fstat shows the new size or mtime).
//   - read error after the open (EIO on a failing disk): zero-padded as above
//     and counted as FILE_UNREADABLE, which degrades the run.
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
import { lstat, open, readlink, type FileHandle } from 'node:fs/promises';
import type { IndexEntry, IndexWriter } from './files-index.ts';
import { archiveNameOf, encodeEntryHeader, END_OF_ARCHIVE, paddingAfterBody, type TarEntryHeader } from './files-tar.ts';
import { classifyFsError, describeSpecial, walkTree, type WalkedEntry } from './files-walk.ts';
import type { ArchiveLedger } from './files-archive-ledger.ts';

import type { ExcludeRules } from './files-exclude.ts';
import { attributesForIndex, modeWithoutWidening, paxRecordsFor, scanExtendedAttributes, type ExtendedAttributes } from './files-xattrs.ts';

/** Large reads: 1 MiB reads cost far fewer thread-pool round trips than the 64 KiB default. */
export const READ_CHUNK_BYTES = 1024 * 1024;
/** Files up to this size are read whole while earlier entries are still being written. */
const SMALL_FILE_BYTES = 64 * 1024;
/** Entries prepared ahead of the one being written (open files, small bodies in memory). */
export const LOOKAHEAD_ENTRIES = 16;
/** Small pieces (headers, small files) are gathered into chunks of about this size before they go out. */
const OUTPUT_BATCH_BYTES = 64 * 1024;
export interface ArchivePlan {
  /** Absolute, normalised, none inside another. */
  roots: readonly string[];
  /** Roots that are symlinks to follow -> what they resolve to: its contents are archived under the root's name. */
  followedRoots?: ReadonlyMap<string, string>;
  rules: ExcludeRules;
  index: IndexWriter;
  ledger: ArchiveLedger;
  signal: AbortSignal;
  /** Called when a configured path cannot be lstat'ed at walk time; returns the error to throw. */
  rootFailure(root: string, error: unknown): Error;
}

/** What an entry needs before its header can be written, gathered ahead of time. */
type PreparedEntry =
  | { kind: 'dir'; path: string; stats: Stats }
  | { kind: 'symlink'; path: string; stats: Stats; target: string }
  | PreparedFile
  /** Nothing to archive: the problem was reported while preparing. */
  | { kind: 'none' };

interface PreparedFile {
  kind: 'file';
  path: string;
  /** fstat of the open descriptor: the header is written from this. */
  stats: Stats;
  /** Large files: still open, streamed by the emitter. */
  handle?: FileHandle;
  /** Small files: read completely while preparing (may be short if it shrank). */
  body?: Buffer;
  /** Small files: set when the read found more bytes than fstat promised (at least this many). */
  grewTo?: number;
  readFailure?: unknown;
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
  // Filled root by root before each walk; an entry's attributes are taken out when it is emitted.
  const attributes = new Map<string, ExtendedAttributes>();
  const prepared = withLookahead(walkAllRoots(plan, attributes), (entry) => prepareEntry(entry, plan), LOOKAHEAD_ENTRIES);
  for await (const entry of prepared) {
    plan.signal.throwIfAborted();
    yield* emitEntry(entry, plan, archivedInodes, attributes);
  }
  yield END_OF_ARCHIVE;
}

async function* walkAllRoots(plan: ArchivePlan, attributes: Map<string, ExtendedAttributes>): AsyncGenerator<WalkedEntry> {
  for (const root of plan.roots) {
    const scan = await scanExtendedAttributes(root, plan.followedRoots?.get(root) ?? root, plan.signal);
    if (scan.unavailable) plan.ledger.attributesUnavailable(scan.unavailable);
    for (const [path, found] of scan.byPath) attributes.set(path, found);
    const walk = walkTree(root, plan.rules, plan.ledger, plan.signal, { followRootLink: plan.followedRoots?.has(root) ?? false });
    let first = true;
    while (true) {
      let step: IteratorResult<WalkedEntry>;
      try {
        step = await walk.next();
      } catch (error) {
        throw first ? plan.rootFailure(root, error) : error;
      }
      first = false;
      if (step.done) break;
      yield step.value;
    }
  }
}

/**
 * Keeps up to `depth` entries being prepared (opened, stat'ed, small files
 * read) while earlier ones are written, and hands them out in walk order.
 * Every filesystem call is a thread-pool round trip (~40 us here); one at a
 * time, 20,000 small files took 4.5 s of waiting, in parallel the waits
 * overlap. Bounded: `depth` open files and `depth` x SMALL_FILE_BYTES.
 */
async function* withLookahead(
  entries: AsyncGenerator<WalkedEntry>,
  prepare: (entry: WalkedEntry) => Promise<PreparedEntry>,
  depth: number,
): AsyncGenerator<PreparedEntry> {
  const queue: Promise<PreparedEntry>[] = [];
  let exhausted = false;
  try {
    while (true) {
      while (!exhausted && queue.length < depth) {
        const step = await entries.next();
        if (step.done) {
          exhausted = true;
          break;
        }
        const preparing = prepare(step.value);
        preparing.catch(() => {}); // awaited in order below; never unhandled meanwhile
        queue.push(preparing);
      }
      const next = queue.shift();
      if (!next) return;
      yield await next;
    }
  } finally {
    // Stopped early (failure, abort): close what was opened for later entries.
    for (const preparing of queue.splice(0)) {
      const entry = await preparing.catch(() => undefined);
      if (entry?.kind === 'file') await entry.handle?.close().catch(() => {});
    }
    await entries.return(undefined);
  }
}

async function prepareEntry(entry: WalkedEntry, plan: ArchivePlan): Promise<PreparedEntry> {
  const { path } = entry;
  switch (entry.kind) {
    case 'dir':
      return { kind: 'dir', path, stats: entry.stats! };
    case 'special':
      plan.ledger.specialFile(path, entry.specialKind ?? 'special file');
      return { kind: 'none' };
    case 'symlink': {
      try {
        const stats = await lstat(path);
        if (!stats.isSymbolicLink()) {
          plan.ledger.problem('changed', path, 'was replaced by another kind of file while the backup ran; it is not in the archive');
          return { kind: 'none' };
        }
        const target = await readLinkTarget(path, plan.ledger);
        return target === undefined ? { kind: 'none' } : { kind: 'symlink', path, stats, target };
      } catch (error) {
        reportOrThrow(plan.ledger, path, error);
        return { kind: 'none' };
      }
    }
    case 'file':
      return prepareFile(path, plan, entry.followLink ?? false);
  }
}

async function prepareFile(path: string, plan: ArchivePlan, followLink: boolean): Promise<PreparedEntry> {
  let handle: FileHandle;
  try {
    handle = await open(path, fsConstants.O_RDONLY | (followLink ? 0 : fsConstants.O_NOFOLLOW) | fsConstants.O_NONBLOCK);
  } catch (error) {
    reportOrThrow(plan.ledger, path, error);
    return { kind: 'none' };
  }
  let keepOpen = false;
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      plan.ledger.problem('changed', path, `was replaced by a ${describeSpecial(stats) ?? 'directory'} while the backup ran; it is not in the archive`);
      return { kind: 'none' };
    }
    if (stats.size > SMALL_FILE_BYTES) {
      keepOpen = true;
      return { kind: 'file', path, stats, handle };
    }
    // One byte more than promised: a short read then means end of file
    // without a second read call, and a full one means the file grew. (A
    // post-read fstat, as for large files, costs one more thread-pool round
    // trip per small file and sees nothing a single read could not.)
    const buffer = Buffer.allocUnsafe(stats.size + 1);
    let position = 0;
    let readFailure: unknown;
    while (position <= stats.size) {
      try {
        const { bytesRead } = await handle.read(buffer, position, buffer.length - position, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        if (position >= stats.size) break;
      } catch (error) {
        if (!classifyFsError(error)) throw error;
        readFailure = error;
        break;
      }
    }
    const grewTo = position > stats.size ? position : undefined;
    const body = buffer.subarray(0, Math.min(position, stats.size));
    return { kind: 'file', path, stats, body, grewTo, readFailure };
  } finally {
    if (!keepOpen) await handle.close();
  }
}

async function* emitEntry(
  entry: PreparedEntry,
  plan: ArchivePlan,
  archivedInodes: Map<string, ArchivedInode>,
  attributes: Map<string, ExtendedAttributes>,
): AsyncGenerator<Buffer> {
  if (entry.kind === 'none') return;
  const found = attributes.get(entry.path);
  if (found) attributes.delete(entry.path);
  if (found && entry.kind !== 'symlink') plan.ledger.counts.withAttributes++;
  switch (entry.kind) {
    case 'dir':
      yield header(entry.path, 'Directory', entry.stats, { attributes: found });
      await plan.index.add(indexEntry(entry.path, 'dir', entry.stats, 0, found));
      plan.ledger.counts.dirs++;
      return;
    case 'symlink':
      // Links carry no ACLs, and Linux allows no user.* attributes on them.
      yield header(entry.path, 'SymbolicLink', entry.stats, { linkTarget: entry.target });
      await plan.index.add({ ...indexEntry(entry.path, 'symlink', entry.stats, 0), linkTarget: entry.target });
      plan.ledger.counts.symlinks++;
      return;
    case 'file':
      try {
        yield* emitFile(entry, plan, archivedInodes, found);
      } finally {
        await entry.handle?.close();
      }
  }
}

async function* emitFile(
  entry: PreparedFile,
  plan: ArchivePlan,
  archivedInodes: Map<string, ArchivedInode>,
  attributes: ExtendedAttributes | undefined,
): AsyncGenerator<Buffer> {
  const { path, stats } = entry;
  const firstLink = stats.nlink > 1 ? archivedInodes.get(inodeKey(stats)) : undefined;
  if (firstLink) {
    yield header(path, 'Link', stats, { linkTarget: archiveNameOf(firstLink.path) });
    await plan.index.add({ ...indexEntry(path, 'hardlink', stats, firstLink.size), sha256: firstLink.sha256, linkTarget: firstLink.path });
    plan.ledger.counts.hardlinks++;
    return;
  }

  const size = stats.size;
  yield header(path, 'File', stats, { size, attributes });
  const hash = createHash('sha256');
  let position = 0;
  let readFailure = entry.readFailure;
  if (entry.body) {
    hash.update(entry.body);
    position = entry.body.length;
    if (position > 0) yield entry.body;
  } else if (entry.handle) {
    while (position < size) {
      plan.signal.throwIfAborted();
      const wanted = Math.min(READ_CHUNK_BYTES, size - position);
      const buffer = Buffer.allocUnsafe(wanted);
      let bytesRead: number;
      try {
        ({ bytesRead } = await entry.handle.read(buffer, 0, wanted, position));
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
  }
  const missingBytes = size - position;
  if (missingBytes > 0) {
    // The header promised `size` bytes: keep that promise with zeros so every
    // later entry stays where a tar reader expects it.
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
    const after = entry.handle ? await entry.handle.stat() : { size: entry.grewTo ?? size, mtimeMs: stats.mtimeMs };
    if (missingBytes > 0) {
      plan.ledger.problem('changed', path, `shrank from ${size} to ${position} bytes while it was read; the archived copy is padded with zeros`);
    } else if (after.size !== size) {
      const grownSize = entry.handle ? `${after.size}` : `at least ${after.size}`;
      plan.ledger.problem('changed', path, `grew from ${size} to ${grownSize} bytes while it was read; the first ${size} bytes are archived`);
    } else if (after.mtimeMs !== stats.mtimeMs) {
      plan.ledger.problem('changed', path, 'was modified while it was read; the archived copy may mix old and new content');
    }
  }

  const sha256 = hash.digest('hex');
  await plan.index.add({ ...indexEntry(path, 'file', stats, size, attributes), sha256 });
  plan.ledger.counts.files++;
  plan.ledger.counts.contentBytes += size;
  plan.ledger.counts.dataBytes += Math.min(size, stats.blocks * 512);
  if (stats.nlink > 1) archivedInodes.set(inodeKey(stats), { path, size, sha256 });
}

/** Symlink targets are stored exactly as read, absolute ones included. */
async function readLinkTarget(path: string, ledger: ArchiveLedger): Promise<string | undefined> {
  const raw = await readlink(path, { encoding: 'buffer' });
  const target = raw.toString('utf8');
  if (!Buffer.from(target, 'utf8').equals(raw)) {
    ledger.problem('unnameable', path, `is a symlink whose target is not valid UTF-8 (bytes ${raw.toString('hex')})`);
    return undefined;
  }
  return target;
}

function header(
  path: string,
  type: TarEntryHeader['type'],
  stats: Stats,
  extra: { size?: number; linkTarget?: string; attributes?: ExtendedAttributes } = {},
): Buffer {
  return encodeEntryHeader({
    name: archiveNameOf(path),
    type,
    // With an ACL, a tar without --acls must not hand the owning group the mask.
    mode: modeWithoutWidening(stats.mode & 0o7777, extra.attributes),
    uid: stats.uid,
    gid: stats.gid,
    size: extra.size ?? 0,
    mtime: mtimeOf(stats),
    linkTarget: extra.linkTarget,
    extraPaxRecords: extra.attributes ? paxRecordsFor(extra.attributes) : undefined,
  });
}

/** The index keeps the true mode (group bits = the ACL mask, as stat shows it after a faithful restore). */
function indexEntry(path: string, type: IndexEntry['type'], stats: Stats, size: number, attributes?: ExtendedAttributes): IndexEntry {
  const entry: IndexEntry = { path, type, mode: stats.mode & 0o7777, size, mtime: mtimeOf(stats).toISOString(), uid: stats.uid, gid: stats.gid };
  if (attributes) entry.xattrs = attributesForIndex(attributes);
  return entry;
}

/**
 * The mtime truncated to the millisecond. Node's `stats.mtime` ROUNDS the
 * nanosecond time to the millisecond, so a file modified at x.9996 s became
 * x+1 s in the header (GNU tar and stat truncate): a restore then differed from
 * the source by a second.
 */
function mtimeOf(stats: Stats): Date {
  return new Date(Math.floor(stats.mtimeMs));
}

function inodeKey(stats: Stats): string {
  return `${stats.dev}:${stats.ino}`;
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
