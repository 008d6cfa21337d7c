// Owns where a restored tree goes and how it gets there safely: judging the
// target (new, empty, or non-empty with --force), refusing a target path that
// runs through a symlink another user owns, the staging directory beside the
// target (0700, created and opened by us, its stale siblings of killed
// restores swept), moving the finished tree into place, and removing trees
// without following links.
//
// Every operation is anchored to opened directories (files-dir-anchor.ts):
// the target's parent, the staging directory, each directory merged into.
// The target tree may belong to an unprivileged user (Laravel's storage/ is
// often 0777) who can rename and swap anything in it while we work; a path
// re-resolved after a check could then lead anywhere, a descriptor cannot.
// The staged tree is complete, with its owners, modes and mtimes, before it is
// moved: after the move nothing is changed through a path. A pre-existing
// target directory keeps its own owner and mode: entries are moved into it,
// it is never replaced or chowned.

import { lstat, mkdir, readdir, realpath, rename, rmdir, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { RestorableError } from '../core/errors.ts';
import { DirectoryAnchor } from './files-dir-anchor.ts';
import { applyDirectoryRecord, type DirectoryRecord } from './files-write.ts';
import { isProcessAlive } from '../process/pid-alive.ts';

export type TargetState = 'absent' | 'empty' | 'non-empty';

/** `<target>.restorable-staging-<pid>`: the pid says whether its restore is still running. */
export const STAGING_MARK = '.restorable-staging-';

/** Is the target new, empty or non-empty? A non-empty one needs `force`; anything but a directory is refused. */
export async function inspectTarget(target: string, force: boolean): Promise<TargetState> {
  let info;
  try {
    info = await lstat(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw error;
  }
  if (!info.isDirectory()) {
    throw new RestorableError(`the restore target ${target} exists and is not a directory${info.isSymbolicLink() ? ' (it is a symlink)' : ''}`, {
      code: 'RESTORE_REFUSED',
      where: { path: target },
      remedy: info.isSymbolicLink() ? `give the directory it points to: --to ${await realpath(target).catch(() => '<its target>')}` : 'choose a new or empty directory',
    });
  }
  const names = await readdir(target);
  if (names.length === 0) return 'empty';
  if (!force) {
    throw new RestorableError(`the restore target ${target} is not empty (${names.length} entr${names.length === 1 ? 'y' : 'ies'}); nothing was changed`, {
      code: 'RESTORE_REFUSED',
      where: { path: target },
      remedy: 'restore into a new or empty directory and copy what you need from there, or add --force to merge into it (entries of the same name are replaced)',
    });
  }
  return 'non-empty';
}

/**
 * Refuses a target path with a symlink component owned by someone other
 * than root or us (sshd's StrictModes rule): its owner could point it
 * anywhere between our checks and our writes.
 */
export async function refuseForeignSymlinks(target: string): Promise<void> {
  const ownUid = process.geteuid?.() ?? 0;
  const parts = resolve(target).split(sep).filter(Boolean);
  for (let index = 1; index <= parts.length; index++) {
    const path = `/${parts.slice(0, index).join('/')}`;
    const info = await lstat(path).catch(() => undefined);
    if (!info) return;
    if (info.isSymbolicLink() && info.uid !== 0 && info.uid !== ownUid) {
      throw new RestorableError(`the restore target ${target} goes through ${path}, a symlink owned by uid ${info.uid}, who could redirect the restore anywhere`, {
        code: 'RESTORE_REFUSED',
        where: { path: target },
        remedy: `give the path it resolves to (--to ${await realpath(target).catch(() => '<the resolved path>')}) after checking it is the intended place`,
      });
    }
  }
}

/** The staging directory beside the target, opened, with the target's parent. */
export class Staging {
  private constructor(
    readonly parent: DirectoryAnchor,
    readonly anchor: DirectoryAnchor,
    readonly name: string,
    private readonly inode: number,
  ) {}

  /** `<parent>/<target name>.restorable-staging-<pid>`, for messages. */
  get path(): string {
    return join(this.parent.path, this.name);
  }

  /**
   * Creates and opens the staging directory (0700, checked to be ours)
   * beside `target`, whose parent must exist. Staging directories of earlier
   * restores to the same target whose process is gone are removed first;
   * their pids are returned.
   */
  static async create(target: string): Promise<{ staging: Staging; swept: number[] }> {
    const parent = await DirectoryAnchor.open(dirname(target), { followLinks: true });
    try {
      const swept = await sweepStaleStaging(parent, basename(target));
      const name = `${basename(target)}${STAGING_MARK}${process.pid}`;
      await mkdir(`${parent.self}/${name}`, { mode: 0o700 });
      const anchor = await DirectoryAnchor.open(`${parent.self}/${name}`, { followLinks: false });
      const info = await anchor.handle.stat();
      if (!info.isDirectory() || info.uid !== (process.geteuid?.() ?? info.uid) || (info.mode & 0o077) !== 0) {
        await anchor.close();
        throw new RestorableError(`the staging directory ${join(parent.path, name)} was replaced by someone else while it was created`, {
          code: 'RESTORE_REFUSED',
          where: { path: join(parent.path, name) },
          remedy: `find out who can write to ${parent.path}; restore into a directory only root can write to`,
        });
      }
      return { staging: new Staging(parent, anchor, name, info.ino), swept };
    } catch (error) {
      await parent.close();
      throw error;
    }
  }

  /** Removes the staging directory and all it holds, without following links. */
  async remove(): Promise<void> {
    await removeContents(this.anchor).catch(() => {});
    await this.removeOwnName();
    await this.close();
  }

  async close(): Promise<void> {
    await this.anchor.close();
    await this.parent.close();
  }

  /**
   * Moves the finished tree into place. A new target: the staging directory
   * is renamed to it (then gets the archive's `.` metadata, if any). An
   * existing target: every entry is moved into it, directories present on
   * both sides merged; the target directory itself keeps its owner and mode.
   */
  async placeAt(target: string, state: TargetState, directories: DirectoryLookup, preserveOwners: boolean): Promise<'created' | 'merged'> {
    if (state === 'absent') {
      const current = await lstat(`${this.parent.self}/${this.name}`);
      if (current.ino !== this.inode) throw this.replacedError();
      await rename(`${this.parent.self}/${this.name}`, `${this.parent.self}/${basename(target)}`);
      const top = directories.get('.');
      if (top) await applyDirectoryRecord(this.anchor.handle, top, preserveOwners);
      await this.close();
      return 'created';
    }
    const into = await DirectoryAnchor.open(`${this.parent.self}/${basename(target)}`, { followLinks: false });
    try {
      await moveEntries(this.anchor, into, '', directories, preserveOwners);
    } finally {
      await into.close();
    }
    await this.remove();
    return state === 'empty' ? 'created' : 'merged';
  }

  private async removeOwnName(): Promise<void> {
    const path = `${this.parent.self}/${this.name}`;
    const current = await lstat(path).catch(() => undefined);
    if (current?.isDirectory() && current.ino === this.inode) await rmdir(path).catch(() => {});
  }

  private replacedError(): RestorableError {
    return new RestorableError(`the staging directory ${this.path} was moved or replaced by someone else during the restore`, {
      code: 'RESTORE_REFUSED',
      where: { path: this.path },
      remedy: `find out who can write to ${this.parent.path}; restore into a directory only root can write to`,
    });
  }
}

export interface DirectoryLookup {
  get(name: string): Omit<DirectoryRecord, 'name'> | undefined;
}

/**
 * Moves every entry of `from` into `into` (both opened): directories on both
 * sides are merged (and the existing one gets the archive's metadata for it),
 * anything else in the way is replaced. Never follows a symlink in `into`.
 */
async function moveEntries(from: DirectoryAnchor, into: DirectoryAnchor, relative: string, directories: DirectoryLookup, preserveOwners: boolean): Promise<void> {
  for (const name of await readdir(from.self)) {
    const source = `${from.self}/${name}`;
    const destination = `${into.self}/${name}`;
    const childName = relative === '' ? name : `${relative}/${name}`;
    const sourceInfo = await lstat(source);
    let destinationInfo = await lstat(destination).catch(() => undefined);
    if (sourceInfo.isDirectory() && destinationInfo?.isDirectory()) {
      const existing = await DirectoryAnchor.open(destination, { followLinks: false }).catch(() => undefined);
      if (existing) {
        const staged = await DirectoryAnchor.open(source, { followLinks: false });
        try {
          await moveEntries(staged, existing, childName, directories, preserveOwners);
          const record = directories.get(childName);
          if (record) await applyDirectoryRecord(existing.handle, record, preserveOwners);
        } finally {
          await staged.close();
          await existing.close();
        }
        continue;
      }
      // Swapped for something else since the lstat: it is in the way.
      destinationInfo = await lstat(destination).catch(() => undefined);
    }
    // rename() replaces a file or symlink atomically; a directory in the way,
    // or anything where a directory goes, is removed first.
    if (destinationInfo && (destinationInfo.isDirectory() || sourceInfo.isDirectory())) await removeEntry(into, name);
    await rename(source, destination);
  }
}

/** Removes `name` in the opened directory: a directory with everything below it, never following a link. */
async function removeEntry(parent: DirectoryAnchor, name: string): Promise<void> {
  const path = `${parent.self}/${name}`;
  const info = await lstat(path).catch(() => undefined);
  if (!info) return;
  if (!info.isDirectory()) {
    await unlink(path);
    return;
  }
  let directory: DirectoryAnchor;
  try {
    directory = await DirectoryAnchor.open(path, { followLinks: false });
  } catch (error) {
    // Swapped for a symlink or file since the lstat: remove that instead.
    if (['ELOOP', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return unlink(path);
    throw error;
  }
  try {
    await removeContents(directory);
  } finally {
    await directory.close();
  }
  await rmdir(path);
}

async function removeContents(directory: DirectoryAnchor): Promise<void> {
  for (const name of await readdir(directory.self)) await removeEntry(directory, name);
}

/** Removes `<target name>.restorable-staging-<pid>` directories whose process is gone (and that are ours: 0700, our uid). */
async function sweepStaleStaging(parent: DirectoryAnchor, targetName: string): Promise<number[]> {
  const prefix = `${targetName}${STAGING_MARK}`;
  const swept: number[] = [];
  for (const name of await readdir(parent.self)) {
    if (!name.startsWith(prefix) || !/^\d+$/.test(name.slice(prefix.length))) continue;
    const pid = Number(name.slice(prefix.length));
    if (pid !== process.pid && isProcessAlive(pid)) continue;
    let directory: DirectoryAnchor;
    try {
      directory = await DirectoryAnchor.open(`${parent.self}/${name}`, { followLinks: false });
    } catch {
      continue; // not a directory (or gone): not ours to remove
    }
    try {
      const info = await directory.handle.stat();
      if (info.uid !== (process.geteuid?.() ?? info.uid) || (info.mode & 0o077) !== 0) continue;
      await removeContents(directory);
    } finally {
      await directory.close();
    }
    await rmdir(`${parent.self}/${name}`);
    if (pid !== process.pid) swept.push(pid);
  }
  return swept;
}

