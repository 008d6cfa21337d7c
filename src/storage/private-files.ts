// Owns how restorable creates files and directories on a local disk: every
// directory 0700 and every file 0600 whatever the umask or an existing mode,
// modes set through a descriptor opened without following a link, and small
// files written atomically (`.partial` created exclusively -> fsync -> rename
// -> fsync of the directory). The local destination, the local spool and the
// state store all write through these, so the rules exist once.

import { constants as fsConstants, createWriteStream } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describeSystemError } from '../core/errors.ts';
import { CREATE_EXCLUSIVE, READ_NO_FOLLOW, repositoryUnsafe } from './repository-paths.ts';

/** The suffix of a file being written: never a stored file, swept when its writer died. */
export const PARTIAL_SUFFIX = '.partial';
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;
const WRITE_BUFFER = 1024 * 1024;

/**
 * Creates `dir` (and its parents) and forces 0700 on it. The directory itself
 * must not be a symlink: its mode is set through a descriptor opened with
 * O_NOFOLLOW, so a link planted there is refused, never chmodded through.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  await chmodDirectory(dir, DIR_MODE, true);
}

/** Forces `mode` on a directory through its descriptor; `refuseLink` refuses a directory that is a symlink. */
export async function chmodDirectory(dir: string, mode: number, refuseLink: boolean): Promise<void> {
  const flags = fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | (refuseLink ? fsConstants.O_NOFOLLOW : 0);
  let handle;
  try {
    handle = await open(dir, flags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') {
      const info = await lstat(dir).catch(() => undefined);
      throw repositoryUnsafe(dirname(dir), dir, `${dir} is ${info?.isSymbolicLink() ? 'a symlink' : 'not a directory'}`);
    }
    throw error;
  }
  try {
    if (((await handle.stat()).mode & 0o777) !== mode) await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/**
 * Streams `source` through `stages` into `partial`, created exclusively and
 * never through a link (O_EXCL|O_NOFOLLOW: a file or link planted under this
 * name is never written through), 0600, and fsyncs it. On any failure the
 * partial is removed again. Returns the bytes written.
 */
export async function writePartialFile(partial: string, source: Readable, stages: Transform[], signal?: AbortSignal): Promise<number> {
  let sink;
  try {
    sink = createWriteStream('', { fd: await open(partial, CREATE_EXCLUSIVE, FILE_MODE), highWaterMark: WRITE_BUFFER });
  } catch (error) {
    throw describeSystemError(error, partial) ?? error;
  }
  try {
    await pipeline([source, ...stages, sink], { signal });
    await syncFile(partial, FILE_MODE); // the umask may have narrowed the mode; make it exact
  } catch (error) {
    sink.destroy();
    await rm(partial, { force: true });
    throw describeSystemError(error, partial) ?? error;
  }
  return sink.bytesWritten;
}

/**
 * Writes a small file as `.partial` (created exclusively, never through a
 * link), fsyncs, renames, fsyncs the directory. Replaces an existing file.
 */
export async function writeFileAtomically(path: string, content: string): Promise<void> {
  const partial = path + PARTIAL_SUFFIX;
  try {
    await rm(partial, { force: true }); // a stale partial (or a link planted under its name): removed, not followed
    const handle = await open(partial, CREATE_EXCLUSIVE, FILE_MODE);
    try {
      await handle.writeFile(content);
      await handle.chmod(FILE_MODE);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(partial, path);
    await syncFile(dirname(path));
  } catch (error) {
    await rm(partial, { force: true });
    throw describeSystemError(error, path) ?? error;
  }
}

/** fsyncs a file or directory (never through a link), optionally forcing its mode through the descriptor. */
export async function syncFile(path: string, mode?: number): Promise<void> {
  const handle = await open(path, READ_NO_FOLLOW);
  try {
    if (mode !== undefined) await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** True when something (a link included) is there. */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** The names in a directory; none when it does not exist. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
