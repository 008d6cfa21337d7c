// Owns naming paths relative to an OPENED directory, which is how restore
// writes without following links someone else planted: Node has no openat(),
// mkdirat() or fchownat(), but on Linux `/proc/self/fd/<fd>/name` resolves
// from the directory the descriptor holds, whatever was renamed or swapped
// for a symlink at its old path since it was opened. Every restore write
// goes through such an anchor, so a name that is fine at check time cannot
// later lead somewhere else.
//
// The same trick also lifts PATH_MAX: a path whose anchored form would be
// longer than the kernel takes is split, the directory part opened (through
// a shorter anchored path) and kept in a small cache of descriptors, so a
// tree of any depth can be written without chdir.
//
// Without /proc (not Linux), the anchor falls back to the directory's path:
// still correct for a tree only root can reach (restore's 0700 staging), just
// without the protection against a swapped parent.

import { constants, existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** The longest anchored path handed to a system call; PATH_MAX is 4096 bytes with the trailing NUL. */
const MAX_PATH_BYTES = 4000;
/** Directories kept open to shorten long paths (deep trees are written in order, so few are needed). */
const CACHED_DIRECTORIES = 32;

const HAVE_PROC_FD = existsSync('/proc/self/fd');

/** Flags to open a directory without following a symlink in its last component. */
export const DIRECTORY_NOFOLLOW = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

export class DirectoryAnchor {
  private readonly prefix: string;
  /** Opened subdirectories by relative name, most recently used last. */
  private readonly opened = new Map<string, DirectoryAnchor>();

  private constructor(
    readonly handle: FileHandle,
    /** The directory's path when it was opened (for messages, and the non-Linux fallback). */
    readonly path: string,
  ) {
    this.prefix = HAVE_PROC_FD ? `/proc/self/fd/${handle.fd}` : path;
  }

  /**
   * Opens `path` as an anchor. `followLinks: false` refuses a symlink as the
   * last component (ELOOP); the components above it are resolved as given.
   */
  static async open(path: string, options: { followLinks: boolean }): Promise<DirectoryAnchor> {
    const flags = options.followLinks ? constants.O_RDONLY | constants.O_DIRECTORY : DIRECTORY_NOFOLLOW;
    return new DirectoryAnchor(await open(path, flags), path);
  }

  /** The directory itself, as a path that resolves to the opened directory. */
  get self(): string {
    return this.prefix;
  }

  /**
   * A path for `relative` (a normalised name below this directory, `a/b/c`)
   * that system calls resolve from this directory, and is short enough for
   * them: long names are reached through opened intermediate directories.
   * Components of `relative` must not be symlinks planted by others: callers
   * use it inside trees only they can write to, or for a last component that
   * the call itself does not follow.
   */
  async pathOf(relative: string): Promise<string> {
    if (relative === '.' || relative === '') return this.prefix;
    const direct = `${this.prefix}/${relative}`;
    if (Buffer.byteLength(direct) <= MAX_PATH_BYTES) return direct;
    // Open the longest directory prefix that still fits, then go on from it.
    const cut = longestFittingPrefix(relative, MAX_PATH_BYTES - Buffer.byteLength(this.prefix) - 1);
    const directory = await this.subdirectory(relative.slice(0, cut));
    return directory.pathOf(relative.slice(cut + 1));
  }

  /** Closes this anchor and the directories it opened. */
  async close(): Promise<void> {
    for (const directory of this.opened.values()) await directory.close();
    this.opened.clear();
    await this.handle.close().catch(() => {});
  }

  private async subdirectory(relative: string): Promise<DirectoryAnchor> {
    const cached = this.opened.get(relative);
    if (cached) {
      this.opened.delete(relative);
      this.opened.set(relative, cached);
      return cached;
    }
    const directory = new DirectoryAnchor(await open(`${this.prefix}/${relative}`, DIRECTORY_NOFOLLOW), `${this.path}/${relative}`);
    this.opened.set(relative, directory);
    if (this.opened.size > CACHED_DIRECTORIES) {
      const [oldestName, oldest] = this.opened.entries().next().value as [string, DirectoryAnchor];
      this.opened.delete(oldestName);
      await oldest.close();
    }
    return directory;
  }
}

/** The index of the last `/` in `relative` such that everything before it fits in `budget` bytes. */
function longestFittingPrefix(relative: string, budget: number): number {
  let cut = -1;
  let bytes = 0;
  let from = 0;
  for (let slash = relative.indexOf('/'); slash !== -1; slash = relative.indexOf('/', slash + 1)) {
    bytes += Buffer.byteLength(relative.slice(from, slash)) + (from === 0 ? 0 : 1);
    from = slash + 1;
    if (bytes > budget) break;
    cut = slash;
  }
  if (cut <= 0) {
    const error = new Error(`a single name in ${relative.slice(0, 80)}... is longer than the system allows`) as NodeJS.ErrnoException;
    error.code = 'ENAMETOOLONG';
    throw error;
  }
  return cut;
}
