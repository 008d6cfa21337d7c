// Owns the walk over one configured path: a depth-first, pre-order listing
// (a directory comes before its contents, as in GNU tar) that never follows
// symlinks, leaves out excluded and protected paths, and reports entries it
// cannot list instead of dropping them silently (a tree that cannot be read
// in full must never look like a complete backup).
//
// Memory: an explicit stack of pending entries (path + kind), i.e. the
// unvisited siblings along the current branch, never the whole tree; no
// recursion, so a 4096-level tree does not exhaust the call stack. The walk is
// lazy: a directory is listed when the consumer pulls it.
//
// Cost: entry kinds come from the listing itself (d_type), so a regular file
// costs no syscall here; only directories are lstat'ed (before and after the
// listing, to notice one swapped for a symlink).
//
// Names are read as Buffers: Node's string listing turns
// invalid UTF-8 into U+FFFD and the file then "does not exist". Such names
// cannot be carried through string paths, JSON and the tar header writer, so
// they are reported as `unnameable` (a warning, degraded run) and skipped.
// Siblings are sorted bytewise so two runs over the same tree give the same
// archive order.

import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import type { ExcludeRules } from './files-exclude.ts';

export type EntryKind = 'file' | 'dir' | 'symlink' | 'special';

export interface WalkedEntry {
  /** Absolute, normalised path (no trailing slash except for `/`). */
  path: string;
  /** From the directory listing (d_type), so files cost no lstat here; symlinks are never followed. */
  kind: EntryKind;
  /** Directories (and the root): lstat taken when the directory was listed. */
  stats?: Stats;
  /** Special files: what it is ("FIFO (named pipe)", "unix socket", ...). */
  specialKind?: string;
  /**
   * The configured path itself, which is a symlink the operator asked us to
   * follow (`storage -> shared/storage`): it is read through the link.
   */
  followLink?: boolean;
}

export type WalkProblemKind = 'vanished' | 'unreadable' | 'changed' | 'unnameable';

export interface WalkObserver {
  /** Something under the root could not be listed or disappeared; the walk goes on. */
  problem(kind: WalkProblemKind, path: string, reason: string): void;
  /** Left out on purpose: an exclude pattern, or the repository / scratch dir. */
  skipped(kind: 'excluded' | 'protected', path: string, pattern?: string): void;
}

interface PendingEntry {
  path: string;
  kind: EntryKind | 'unknown';
  specialKind?: string;
}

/**
 * Yields `rootPath` and everything below it. Throws the raw error when the root
 * itself cannot be lstat'ed: a missing configured path fails the source; it is
 * never an empty backup.
 */
export async function* walkTree(
  rootPath: string,
  rules: ExcludeRules,
  observer: WalkObserver,
  signal: AbortSignal,
  options: { followRootLink?: boolean } = {},
): AsyncGenerator<WalkedEntry> {
  // A configured path that is a symlink is followed (like `tar -h`, for that
  // one name only): its target's contents are archived under the configured
  // name. Everything below it is walked without following links as usual.
  const statRoot = options.followRootLink ? stat : lstat;
  const rootStats = await statRoot(rootPath);
  const stack: PendingEntry[] = [];
  if (rootStats.isDirectory()) {
    yield* visitDirectory(rootPath, rootStats, stack, rules, observer, statRoot);
  } else {
    yield { path: rootPath, ...kindOfStats(rootStats), ...(options.followRootLink ? { followLink: true } : {}) };
  }

  while (stack.length > 0) {
    signal.throwIfAborted();
    const pending = stack.pop()!;
    if (pending.kind === 'file' || pending.kind === 'symlink' || pending.kind === 'special') {
      // Files and links are stat'ed by whoever reads them (open + fstat): one
      // syscall less per file, and the stat describes what is actually read.
      yield pending as WalkedEntry;
      continue;
    }
    let stats: Stats;
    try {
      stats = await lstat(pending.path);
    } catch (error) {
      reportFsProblem(observer, pending.path, error);
      continue;
    }
    if (!stats.isDirectory()) {
      yield { path: pending.path, ...kindOfStats(stats) };
      continue;
    }
    if (rules.isProtected(pending.path, stats)) {
      observer.skipped('protected', pending.path);
      continue;
    }
    yield* visitDirectory(pending.path, stats, stack, rules, observer);
  }
}

/**
 * Lists a directory, pushes its kept children so that they pop in ascending
 * order, then yields the directory itself (which the consumer archives before
 * it asks for the first child, so the order stays pre-order).
 */
async function* visitDirectory(
  path: string,
  stats: Stats,
  stack: PendingEntry[],
  rules: ExcludeRules,
  observer: WalkObserver,
  statAgain: (path: string) => Promise<Stats> = lstat,
): AsyncGenerator<WalkedEntry> {
  let children: Dirent<Buffer>[] | undefined;
  try {
    children = (await readdir(path, { encoding: 'buffer', withFileTypes: true })) as unknown as Dirent<Buffer>[];
  } catch (error) {
    // The directory itself is still archived (owner, mode, mtime), so a
    // restore recreates it; the warning says its contents are missing.
    reportFsProblem(observer, path, error);
  }
  if (children) {
    // The directory we listed must still be the one we lstat'ed: a directory
    // swapped for a symlink in between would otherwise pull another tree
    // (say /etc) into the archive under this name.
    const after = await statAgain(path).catch(() => undefined);
    if (!after) {
      observer.problem('vanished', path, 'it was removed while it was listed');
      return;
    }
    if (!after.isDirectory() || after.ino !== stats.ino || after.dev !== stats.dev) {
      observer.problem('changed', path, 'was replaced by another file while it was listed; its contents are not in the archive');
      children = undefined;
    }
  }
  yield { path, kind: 'dir', stats };
  if (!children) return;

  children.sort((left, right) => Buffer.compare(left.name, right.name));
  const prefix = path === '/' ? '/' : `${path}/`;
  for (let index = children.length - 1; index >= 0; index--) {
    const child = children[index]!;
    const name = child.name.toString('utf8');
    if (!Buffer.from(name, 'utf8').equals(child.name)) {
      observer.problem('unnameable', `${prefix}${name}`, `has a name that is not valid UTF-8 (bytes ${child.name.toString('hex')}); rename it to back it up`);
      continue;
    }
    const childPath = prefix + name;
    if (rules.isProtected(childPath)) {
      observer.skipped('protected', childPath);
      continue;
    }
    const pattern = rules.matchingPattern(childPath);
    if (pattern !== undefined) {
      observer.skipped('excluded', childPath, pattern);
      continue;
    }
    stack.push({ path: childPath, ...kindOfDirent(child) });
  }
}

function kindOfDirent(dirent: Dirent<Buffer>): Omit<PendingEntry, 'path'> {
  if (dirent.isFile()) return { kind: 'file' };
  if (dirent.isDirectory()) return { kind: 'dir' };
  if (dirent.isSymbolicLink()) return { kind: 'symlink' };
  const specialKind = describeSpecial(dirent);
  // Filesystems without d_type report nothing: find out with lstat on the visit.
  return specialKind ? { kind: 'special', specialKind } : { kind: 'unknown' };
}

function kindOfStats(stats: Stats): Omit<WalkedEntry, 'path'> {
  if (stats.isFile()) return { kind: 'file' };
  if (stats.isDirectory()) return { kind: 'dir', stats };
  if (stats.isSymbolicLink()) return { kind: 'symlink' };
  return { kind: 'special', specialKind: describeSpecial(stats) ?? 'special file' };
}

/** What a non-regular entry is, in words for the warning; undefined for files, dirs and links. */
export function describeSpecial(entry: Pick<Stats, 'isFIFO' | 'isSocket' | 'isCharacterDevice' | 'isBlockDevice'>): string | undefined {
  if (entry.isFIFO()) return 'FIFO (named pipe)';
  if (entry.isSocket()) return 'unix socket';
  if (entry.isCharacterDevice()) return 'character device';
  if (entry.isBlockDevice()) return 'block device';
  return undefined;
}

/** Maps an errno from lstat/readdir/open/readlink to what it means for a backup. */
export function classifyFsError(error: unknown): { kind: WalkProblemKind; reason: string } | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = `${code ?? 'error'}: ${(error as Error | undefined)?.message ?? String(error)}`;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR': // a parent directory was replaced by a file
      return { kind: 'vanished', reason };
    case 'ELOOP': // opened with O_NOFOLLOW: the file was replaced by a symlink
    case 'EINVAL': // readlink on something that is no longer a symlink
      return { kind: 'changed', reason };
    case 'EACCES':
    case 'EPERM':
    case 'EIO':
    case 'ENXIO':
    case 'ESTALE':
    case 'EOVERFLOW':
      return { kind: 'unreadable', reason };
    case 'ENAMETOOLONG':
      // Deeper than PATH_MAX: anyone who may create directories there could
      // otherwise stop every backup; it is left out and named instead.
      return { kind: 'unreadable', reason: `${code}: its path is longer than the system allows (${(error as Error).message})` };
    default:
      return undefined;
  }
}

function reportFsProblem(observer: WalkObserver, path: string, error: unknown): void {
  const problem = classifyFsError(error);
  if (!problem) throw error;
  observer.problem(problem.kind, path, problem.reason);
}
