// Owns the local destination: stored files under a root directory on this
// machine, with the repository's safety rules (repository-paths.ts,
// private-files.ts). The root is trusted as configured; below it:
// - every path must be plain and stay inside the root, and no directory
//   below the root may be a symlink (REPOSITORY_UNSAFE, the whole
//   destination is refused);
// - a symlink where a stored file belongs is never followed: get and stat
//   refuse it (REPOSITORY_UNSAFE caused by ELOOP: isLinkInPlaceOfFile in destination.ts),
//   remove removes the link itself;
// - put writes `<path>.partial` (O_EXCL|O_NOFOLLOW, 0600) -> fsync -> rename
//   -> fsync of the directory, in 0700 directories, and never replaces a
//   stored file.

import { createReadStream } from 'node:fs';
import { lstat, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline as pipelineCallback, Readable } from 'node:stream';
import { describeSystemError, RestorableError } from '../core/errors.ts';
import { alreadyExists, exactLength, notFound, SHORT_READ, type ByteRange, type Destination, type ReopenableSource, type StoredFileInfo } from './destination.ts';
import { isPlainRelativePath, READ_NO_FOLLOW, repositoryUnsafe, resolveInsideRepository } from './repository-paths.ts';
import { ensurePrivateDir, exists, PARTIAL_SUFFIX, syncFile, writePartialFile } from './private-files.ts';

const READ_BUFFER = 1024 * 1024;

export class LocalDestination implements Destination {
  constructor(readonly root: string) {}

  describe(): string {
    return `local repository ${this.root}`;
  }

  async stat(path: string): Promise<StoredFileInfo> {
    const absolute = await this.resolveFile(path);
    let info;
    try {
      info = await lstat(absolute);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(this, path, error);
      throw this.unreadable(path, error);
    }
    if (info.isSymbolicLink()) throw linkInPlaceOfFile(this.root, absolute);
    if (!info.isFile()) throw notFound(this, path, Object.assign(new Error(`${absolute} is not a regular file`), { code: 'EINVAL' }));
    return { path, sizeBytes: info.size };
  }

  async list(prefix: string): Promise<StoredFileInfo[]> {
    const dir = await resolveInsideRepository(this.root, prefix);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      // Other failures (ENOTDIR, EACCES) keep their system code: callers name it to the operator.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const files: StoredFileInfo[] = [];
    for (const entry of entries) {
      if (entry.isDirectory() || entry.name.endsWith(PARTIAL_SUFFIX)) continue;
      const size = entry.isFile() ? await lstat(join(dir, entry.name)).then((info) => info.size, () => undefined) : 0;
      if (size !== undefined) files.push({ path: `${prefix}/${entry.name}`, sizeBytes: size });
    }
    return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async put(path: string, source: ReopenableSource, options: { signal?: AbortSignal } = {}): Promise<StoredFileInfo> {
    const target = await resolveInsideRepository(this.root, path);
    if (await exists(target)) throw alreadyExists(this, path);
    await ensurePrivateDir(dirname(target));
    const partial = target + PARTIAL_SUFFIX;
    await rm(partial, { force: true }); // a stale partial of a dead writer (or a planted link): removed, never followed
    const sizeBytes = await writePartialFile(partial, await source(), [], options.signal);
    try {
      if (await exists(target)) throw alreadyExists(this, path);
      await rename(partial, target);
      await syncFile(dirname(target));
    } catch (error) {
      await rm(partial, { force: true });
      throw describeSystemError(error, partial) ?? error;
    }
    return { path, sizeBytes };
  }

  async get(path: string, range: ByteRange = { offset: 0 }): Promise<Readable> {
    const absolute = await this.resolveFile(path);
    let handle;
    try {
      handle = await open(absolute, READ_NO_FOLLOW);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw notFound(this, path, error);
      if (code === 'ELOOP') throw linkInPlaceOfFile(this.root, absolute, error);
      throw this.unreadable(path, error);
    }
    let expected: number;
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw Object.assign(new Error(`${absolute} is not a regular file`), { code: 'EINVAL' });
      expected = range.length ?? info.size - range.offset;
      if (range.offset < 0 || expected < 0) throw this.shortRead(path, range, info.size);
    } catch (error) {
      await handle.close();
      throw error instanceof RestorableError ? error : this.unreadable(path, error);
    }
    if (expected === 0) {
      await handle.close();
      return Readable.from([]);
    }
    const file = createReadStream('', { fd: handle, start: range.offset, end: range.offset + expected - 1, highWaterMark: READ_BUFFER });
    // pipeline destroys both on an error or an early destroy by the reader, which closes the descriptor.
    return pipelineCallback(file, exactLength(expected, { destination: this.describe(), path }), () => {});
  }

  async remove(path: string): Promise<void> {
    const absolute = await this.resolveFile(path);
    // rm never follows: a link planted under the name is removed as a link.
    await rm(absolute, { force: true });
    if (await exists(dirname(absolute))) await syncFile(dirname(absolute));
  }

  /** The absolute path of a stored file: plain, inside the root, no linked directory on the way (the file itself is checked by its caller). */
  private async resolveFile(path: string): Promise<string> {
    if (!isPlainRelativePath(path)) {
      throw repositoryUnsafe(this.root, join(this.root, path), `${JSON.stringify(path.slice(0, 200))} is not a plain path inside it`);
    }
    const parent = dirname(path);
    if (parent !== '.') await resolveInsideRepository(this.root, parent);
    return join(this.root, path);
  }

  private unreadable(path: string, error: unknown): RestorableError {
    return new RestorableError(`${path} cannot be read from ${this.describe()}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      code: 'FILE_UNREADABLE',
      where: { destination: this.describe(), path: join(this.root, path) },
      remedy: 'check that the user running restorable may read the repository (usually root); if the file is damaged, restore from another set',
      cause: error,
    });
  }

  private shortRead(path: string, range: ByteRange, sizeBytes: number): RestorableError {
    return new RestorableError(`${path} in ${this.describe()} has ${sizeBytes} bytes; ${range.length ?? 'the rest'} from byte ${range.offset} were asked for (a short read)`, {
      code: SHORT_READ,
      where: { destination: this.describe(), path: join(this.root, path) },
      remedy: 'the stored file is shorter than recorded: `restorable verify` the set, restore from another set or an offsite copy',
    });
  }
}

/**
 * A symlink where a stored file belongs: refused like every link below the
 * root, with the ELOOP as its cause, so that a reader can tell "this file is
 * a link" (a damaged set) from "a directory is a link" (an unsafe repository).
 */
function linkInPlaceOfFile(root: string, absolute: string, cause?: unknown): RestorableError {
  const refusal = repositoryUnsafe(root, absolute, `${absolute} is a symlink`);
  return new RestorableError(refusal.message, {
    code: refusal.code,
    where: refusal.where,
    remedy: refusal.remedy,
    cause: cause ?? Object.assign(new Error(`ELOOP: ${absolute} is a symlink`), { code: 'ELOOP' }),
  });
}
