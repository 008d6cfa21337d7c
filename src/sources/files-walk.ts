// Owns the walk over one configured path: a depth-first, pre-order listing
// (a directory comes before its contents, as in GNU tar) that never follows
// symlinks, leaves out excluded and protected paths, and reports entries it
// cannot list instead of dropping them silently (research note F10).
//
// Memory: an explicit stack of pending path strings, i.e. the unvisited
// siblings along the current branch, never the whole tree; no recursion, so a
// 4096-level tree does not exhaust the call stack. A directory is listed only
// when the consumer asks for the entry after it, i.e. after the directory's
// own header was written, so at most one listing is in flight.
//
// Names are read as Buffers (research V10): Node's string listing turns
// invalid UTF-8 into U+FFFD and the file then "does not exist". Such names
// cannot be carried through string paths, JSON and the tar header writer, so
// they are reported as `unnameable` (a warning, degraded run) and skipped.
// Siblings are sorted bytewise so two runs over the same tree give the same
// archive order.

import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import type { ExcludeRules } from './files-exclude.ts';

export interface WalkedEntry {
  /** Absolute, normalised path (no trailing slash except for `/`). */
  path: string;
  /** lstat of the entry when it was listed: symlinks are not followed. */
  stats: Stats;
}

export type WalkProblemKind = 'vanished' | 'unreadable' | 'changed' | 'unnameable';

export interface WalkObserver {
  /** Something under the root could not be listed or disappeared; the walk goes on. */
  problem(kind: WalkProblemKind, path: string, reason: string): void;
  /** Left out on purpose: an exclude pattern, or the repository / scratch dir. */
  skipped(kind: 'excluded' | 'protected', path: string, pattern?: string): void;
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
): AsyncGenerator<WalkedEntry> {
  const rootStats = await lstat(rootPath);
  yield { path: rootPath, stats: rootStats };
  const stack: string[] = [];
  if (rootStats.isDirectory()) await listInto({ path: rootPath, stats: rootStats }, stack, rules, observer);

  while (stack.length > 0) {
    signal.throwIfAborted();
    const path = stack.pop()!;
    let stats: Stats;
    try {
      stats = await lstat(path);
    } catch (error) {
      reportFsProblem(observer, path, error);
      continue;
    }
    if (stats.isDirectory() && rules.isProtected(path, stats)) {
      observer.skipped('protected', path);
      continue;
    }
    yield { path, stats };
    if (stats.isDirectory()) await listInto({ path, stats }, stack, rules, observer);
  }
}

/** Lists a directory and pushes its kept children so that they pop in ascending order. */
async function listInto(
  directory: WalkedEntry,
  stack: string[],
  rules: ExcludeRules,
  observer: WalkObserver,
): Promise<void> {
  let names: Buffer[];
  try {
    names = await readdir(directory.path, { encoding: 'buffer' });
  } catch (error) {
    reportFsProblem(observer, directory.path, error);
    return;
  }
  // The directory we listed must still be the one whose header went out: a
  // directory swapped for a symlink in between would otherwise pull another
  // tree (say /etc) into the archive under this name.
  const after = await lstat(directory.path).catch(() => undefined);
  if (!after?.isDirectory() || after.ino !== directory.stats.ino || after.dev !== directory.stats.dev) {
    observer.problem('changed', directory.path, 'was replaced by another file while it was listed; its contents are not in the archive');
    return;
  }
  names.sort(Buffer.compare);
  const prefix = directory.path === '/' ? '/' : `${directory.path}/`;
  for (let index = names.length - 1; index >= 0; index--) {
    const rawName = names[index]!;
    const name = rawName.toString('utf8');
    if (!Buffer.from(name, 'utf8').equals(rawName)) {
      observer.problem(
        'unnameable',
        `${prefix}${name}`,
        `has a name that is not valid UTF-8 (bytes ${rawName.toString('hex')}); rename it to back it up`,
      );
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
    stack.push(childPath);
  }
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
    default:
      return undefined;
  }
}

function reportFsProblem(observer: WalkObserver, path: string, error: unknown): void {
  const problem = classifyFsError(error);
  if (!problem) throw error;
  observer.problem(problem.kind, path, problem.reason);
}
