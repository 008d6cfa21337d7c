// Owns the one way a path read from the repository becomes a file we touch.
// Whoever can write the repository (a leaked offsite key, a shared backup
// disk, a compromised application account) must not be able to make a root
// run open, stat, chmod or delete anything outside it. So:
//
// - the repository root is trusted as configured (it may itself be a link,
//   e.g. /var/backups -> /data/backups: that is the operator's choice);
// - everything below it is not: a relative path must be plain (no `..`, no
//   absolute path, no empty or odd component) and no component below the
//   root may be a symlink (checked with lstat, and the last one is opened
//   with O_NOFOLLOW so a link swapped in afterwards is refused by the kernel);
// - the layout directories (db/, files/, logs/, manifests/, .restorable/ and
//   every source directory) must be real directories: a repository whose
//   layout directory is a link is refused as a whole (REPOSITORY_UNSAFE).
//
// Callers check the layout patterns (naming.ts) first; this module checks
// that the name, once joined, really stays inside.

import { constants as fsConstants } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { RestorableError } from '../core/errors.ts';

/** One path component we ever create: letters, digits, dot, dash, underscore; never `.` or `..`. */
const SAFE_COMPONENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$/;
/** Where restorable keeps its own state (lock, journals, scratch space): the one top-level name that starts with a dot. */
export const STATE_DIR = '.restorable';

/** Flags for opening a file read from the repository: never through a link. */
export const READ_NO_FOLLOW = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW;
/** Flags for creating a file in the repository: a new file, never through a link. */
export const CREATE_EXCLUSIVE = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
/** Flags for appending to a log in the repository, never through a link. */
export const APPEND_NO_FOLLOW = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_APPEND | fsConstants.O_NOFOLLOW;

export function repositoryUnsafe(root: string, path: string, what: string): RestorableError {
  return new RestorableError(`the repository ${root} is unsafe: ${what}`, {
    code: 'REPOSITORY_UNSAFE',
    where: { path },
    remedy:
      'restorable never follows a symlink or a `..` inside the repository; find out who created it (someone with write access to the repository), ' +
      'remove it, and check the repository with `restorable verify --all` before trusting its sets',
  });
}

/** True when `relativePath` is plain: relative, components of the safe alphabet (or the state directory first), no `.`/`..`. */
export function isPlainRelativePath(relativePath: string): boolean {
  if (relativePath.length === 0 || relativePath.length > 1024) return false;
  return relativePath
    .split('/')
    .every((component, position) => (position === 0 && component === STATE_DIR) || (SAFE_COMPONENT.test(component) && component !== '..' && component !== '.'));
}

/**
 * The absolute path of `relativePath` inside `root`, after checking that it is
 * plain and that no component below the root is a symlink (the last one may be
 * absent). Throws REPOSITORY_UNSAFE otherwise. Use it before every open, stat,
 * chmod or unlink of a path that came from the repository.
 */
export async function resolveInsideRepository(root: string, relativePath: string): Promise<string> {
  if (!isPlainRelativePath(relativePath)) {
    throw repositoryUnsafe(root, join(root, relativePath), `${JSON.stringify(relativePath.slice(0, 200))} is not a plain path inside it`);
  }
  const components = relativePath.split('/');
  let current = root;
  for (const [position, component] of components.entries()) {
    current = join(current, component);
    let info;
    try {
      info = await lstat(current);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return join(root, relativePath);
      throw error;
    }
    if (info.isSymbolicLink()) throw repositoryUnsafe(root, current, `${current} is a symlink`);
    if (position < components.length - 1 && !info.isDirectory()) throw notADirectory(current);
  }
  return current;
}

/**
 * A layout directory (`manifests`, `.restorable`, a source directory...) must
 * be a real directory or absent; a symlink or other file there refuses the
 * repository. Returns whether it exists.
 */
export async function checkLayoutDirectory(root: string, name: string): Promise<boolean> {
  const path = join(root, name);
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (info.isSymbolicLink()) throw repositoryUnsafe(root, path, `its directory ${name}/ is a symlink`);
  if (!info.isDirectory()) throw notADirectory(path);
  return true;
}

/** A file where a directory belongs: damage (ENOTDIR, as the system would say), not a planted link. */
function notADirectory(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOTDIR: not a directory, ${path}`), { code: 'ENOTDIR', path });
}

/**
 * Opens a regular file read from the repository without following a link;
 * refuses anything larger than `maxBytes` (when given). The caller closes it.
 */
export async function openRegularFileNoFollow(path: string, maxBytes?: number): Promise<FileHandle> {
  const handle = await open(path, READ_NO_FOLLOW);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EINVAL' });
    if (maxBytes !== undefined && info.size > maxBytes) {
      throw Object.assign(new Error(`${path} is ${info.size} bytes, more than the ${maxBytes} allowed`), { code: 'EFBIG' });
    }
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Reads a small regular file without following a link, refusing one larger than `maxBytes`. */
export async function readSmallFileNoFollow(path: string, maxBytes: number): Promise<string> {
  const handle = await openRegularFileNoFollow(path, maxBytes);
  try {
    // Read at most maxBytes + 1: a file that grew after the stat is refused too.
    const buffer = Buffer.alloc(Math.min(maxBytes + 1, (await handle.stat()).size + 1));
    let filled = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled === buffer.length) break;
    }
    if (filled > maxBytes) throw Object.assign(new Error(`${path} is more than the ${maxBytes} bytes allowed`), { code: 'EFBIG' });
    return buffer.subarray(0, filled).toString('utf8');
  } finally {
    await handle.close();
  }
}
