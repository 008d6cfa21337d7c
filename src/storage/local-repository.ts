// Owns the local repository on disk: the seed's layout, permissions (dirs
// 0700, files 0600 whatever the umask or the existing mode), atomic writes
// (`.partial` -> fsync -> rename -> fsync dir), reading manifests, and
// sweeping what dead runs left behind. A set exists only once its manifest does.
//
// The repository is untrusted input (see docs/security.md): every path read
// from it (manifest, journal) is checked against the layout and resolved with
// repository-paths.ts before any open, stat or unlink; no symlink below the
// root is followed; files are created with O_EXCL|O_NOFOLLOW and chmodded
// through their open descriptor. A manifest that fails validation is a
// damaged set: reported, never acted on, removable only by name.

import { constants as fsConstants, createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable, Transform } from 'node:stream';
import { z } from 'zod';
import { describeSystemError, RestorableError } from '../core/errors.ts';
import { isSetFilePath, LOG_DIR, MANIFEST_DIR, manifestPath, SET_ID_PATTERN, SOURCE_NAME_PATTERN } from '../core/naming.ts';
import { MAX_MANIFEST_BYTES, parseManifest, type Manifest } from '../core/manifest.ts';
import { HashingPassThrough } from '../stages/hash.ts';
import type { SetReader } from './set-reader.ts';
import {
  checkLayoutDirectory,
  CREATE_EXCLUSIVE,
  openRegularFileNoFollow,
  READ_NO_FOLLOW,
  readSmallFileNoFollow,
  repositoryUnsafe,
  resolveInsideRepository,
} from './repository-paths.ts';

export const PARTIAL_SUFFIX = '.partial';
/** Where restorable keeps its own state (lock, publish journals, scratch space). */
export const STATE_DIR = '.restorable';
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const WRITE_BUFFER = 1024 * 1024;
/** A journal lists a set's files: a few hundred bytes. */
const MAX_JOURNAL_BYTES = 1024 * 1024;
const JOURNAL_NAME = /^(publish|prune)-(\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})\.json$/;
const journalSchema = z.object({ setId: z.string().regex(SET_ID_PATTERN), paths: z.array(z.string()).max(10_000) });

export interface WrittenFile {
  /** Relative path it will have once published. */
  path: string;
  sizeBytes: number;
  sha256: string;
}

export interface StoredSet {
  manifest: Manifest;
  /** Relative paths named by the manifest that are missing on disk. */
  missing: string[];
}

/** A manifest file that exists but is not a sound manifest: the set is damaged, and no command acts on it. */
export interface DamagedSet {
  setId: string;
  /** Relative path of the manifest file. */
  path: string;
  /** Why it is damaged (for the operator). */
  reason: string;
}

export class LocalRepository implements SetReader {
  constructor(readonly root: string) {}

  describe(): string {
    return `local repository ${this.root}`;
  }

  async openArtifact(relativePath: string): Promise<Readable> {
    // Surface a missing file here, with its path, rather than mid-pipeline.
    // Never through a link: a planted `db -> /etc` must not make verify hash /etc/shadow.
    const path = await resolveInsideRepository(this.root, relativePath);
    let handle;
    try {
      handle = await openRegularFileNoFollow(path);
    } catch (error) {
      throw new RestorableError(`${relativePath} cannot be read from ${this.describe()}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
        code: 'ARTIFACT_MISSING',
        where: { path },
        remedy: 'the set is damaged: restore from another set (`restorable list`) or an offsite copy',
        cause: error,
      });
    }
    return createReadStream('', { fd: handle, highWaterMark: 1024 * 1024 });
  }

  absolute(relativePath: string): string {
    return join(this.root, relativePath);
  }

  /**
   * Creates the layout and forces 0700 on every directory, also ones that
   * existed as 0755. The root is trusted as configured (it may be a link to a
   * mount); a layout directory that is a symlink refuses the repository.
   */
  async prepare(sourceNames: string[]): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: DIR_MODE });
    await chmodDirectory(this.root, DIR_MODE, false);
    for (const name of layoutDirectories(sourceNames)) {
      await checkLayoutDirectory(this.root, name);
      await ensurePrivateDir(join(this.root, name));
    }
  }

  /**
   * Refuses a repository whose layout directories (or those of `sourceNames`)
   * are symlinks or not directories. Every command runs it before acting.
   */
  async checkLayout(sourceNames: string[] = []): Promise<void> {
    for (const name of layoutDirectories(sourceNames)) await checkLayoutDirectory(this.root, name);
  }

  /**
   * Streams `source` through `stages` and a hash into `<path>.partial` (0600,
   * created exclusively), then fsyncs it. Not yet published: see publish().
   */
  async writePartial(relativePath: string, source: Readable, stages: Transform[], signal?: AbortSignal): Promise<WrittenFile> {
    const partial = await resolveInsideRepository(this.root, relativePath + PARTIAL_SUFFIX);
    await ensurePrivateDir(dirname(partial));
    const hash = new HashingPassThrough();
    // O_EXCL|O_NOFOLLOW: a file or link planted under this name is never written through.
    let sink;
    try {
      sink = createWriteStream('', { fd: await open(partial, CREATE_EXCLUSIVE, FILE_MODE), highWaterMark: WRITE_BUFFER });
    } catch (error) {
      throw describeSystemError(error, partial) ?? error;
    }
    try {
      await pipeline([source, ...stages, hash, sink], { signal });
      await syncFile(partial, FILE_MODE); // the umask may have narrowed the mode; make it exact
    } catch (error) {
      await rm(partial, { force: true });
      throw describeSystemError(error, partial) ?? error;
    }
    return { path: relativePath, sizeBytes: hash.byteCount, sha256: hash.digestHex() };
  }

  /** Removes a partial written by this run (after a failure). */
  async discardPartial(relativePath: string): Promise<void> {
    // rm never follows a link: at worst it removes a link planted under our name.
    await rm(await resolveInsideRepository(this.root, relativePath + PARTIAL_SUFFIX), { force: true });
  }

  /**
   * Publishes a run's partial files under their final names, then writes the
   * manifest last. A journal lists the files first, so that a run killed
   * between the renames and the manifest is swept cleanly by the next run.
   */
  async publishSet(manifest: Manifest, relativePaths: string[]): Promise<void> {
    const journal = await this.writeJournal('publish', manifest.setId, relativePaths);
    const dirs = new Set<string>();
    for (const relativePath of relativePaths) {
      const target = await resolveInsideRepository(this.root, relativePath);
      await rename(target + PARTIAL_SUFFIX, target);
      dirs.add(dirname(target));
    }
    for (const dir of dirs) await syncFile(dir);
    await writeFileAtomically(await resolveInsideRepository(this.root, manifestPath(manifest.setId)), JSON.stringify(manifest, null, 2) + '\n');
    await unlink(journal);
  }

  /**
   * Deletes a set: its manifest first (from then on the set does not exist for
   * any command), then its files. A journal written before makes a prune that
   * is killed half-way leave either a complete set or clearly orphaned files,
   * which the next run sweeps.
   */
  async deleteSet(manifest: Manifest): Promise<string[]> {
    const paths = manifest.artifacts.flatMap((artifact) => [artifact.path, ...(artifact.index ? [artifact.index.path] : [])]);
    // The manifest was validated when read; check again here, where deleting happens.
    const outside = paths.find((path) => !isSetFilePath(path, manifest.setId));
    if (outside !== undefined) throw repositoryUnsafe(this.root, join(this.root, manifestPath(manifest.setId)), `set ${manifest.setId} names ${JSON.stringify(outside.slice(0, 200))}, which is not one of its files`);
    const resolved = [];
    for (const path of paths) resolved.push(await resolveInsideRepository(this.root, path));
    const journal = await this.writeJournal('prune', manifest.setId, paths);
    await rm(await resolveInsideRepository(this.root, manifestPath(manifest.setId)), { force: true });
    await syncFile(join(this.root, MANIFEST_DIR));
    for (const path of resolved) await rm(path, { force: true });
    await unlink(journal);
    return [manifestPath(manifest.setId), ...paths];
  }

  /**
   * Removes the manifest file of a damaged set, and nothing else: the paths a
   * damaged manifest names are never trusted. The set's artifacts (if any)
   * stay, as files no manifest names. Refuses a manifest that is sound.
   */
  async deleteDamagedManifest(setId: string): Promise<string> {
    if (!SET_ID_PATTERN.test(setId)) {
      throw new RestorableError(`${JSON.stringify(setId.slice(0, 100))} is not a set id`, { code: 'USAGE', remedy: '`restorable list` shows the damaged sets by id' });
    }
    const damaged = (await this.scanSets()).damaged.find((set) => set.setId === setId);
    if (!damaged) {
      throw new RestorableError(`set ${setId} has no damaged manifest in ${this.describe()}`, {
        code: 'NO_SET',
        remedy: '`restorable list` shows the damaged sets; a sound set is removed by retention only',
      });
    }
    // unlink never follows: a manifest that is a planted link is removed as a link.
    await checkLayoutDirectory(this.root, MANIFEST_DIR);
    await unlink(join(this.root, damaged.path));
    await syncFile(join(this.root, MANIFEST_DIR));
    return damaged.path;
  }

  /** Ids of every set that has a manifest, newest first. */
  async setIds(): Promise<string[]> {
    await this.checkLayout();
    let names: string[];
    try {
      names = await readdir(join(this.root, MANIFEST_DIR));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return names
      .filter((name) => name.endsWith('.json') && SET_ID_PATTERN.test(name.slice(0, -5)))
      .map((name) => name.slice(0, -5))
      .sort()
      .reverse();
  }

  async readManifest(setId: string): Promise<Manifest> {
    const path = this.absolute(manifestPath(setId));
    try {
      if (!SET_ID_PATTERN.test(setId)) throw new Error('not a set id');
      await checkLayoutDirectory(this.root, MANIFEST_DIR);
      // O_NOFOLLOW: a manifest that is a link (ELOOP) is a damaged set, never read through.
      return parseManifest(await readSmallFileNoFollow(path, MAX_MANIFEST_BYTES), setId);
    } catch (error) {
      if (error instanceof RestorableError) throw error;
      if ((error as NodeJS.ErrnoException).code === 'ELOOP') (error as Error).message = 'the manifest file is a symlink';
      throw new RestorableError(`the manifest of set ${setId} cannot be read: ${(error as Error).message}`, {
        code: 'MANIFEST_UNREADABLE',
        where: { path },
        remedy: 'run `restorable verify` on the other sets; this set cannot be trusted',
        cause: error,
      });
    }
  }

  /**
   * Complete sets, newest first, with any artifact the manifest names but the
   * disk lacks. Safety sets (taken by `restore db` before it wrote over a
   * database) are no backups: left out unless `includeSafetySets`, so no
   * "newest set" (check, metrics, report, disk estimate) is ever one.
   * Damaged manifests go to `onUnreadable` and are never sets.
   */
  async listSets(onUnreadable?: (setId: string, error: RestorableError) => void, options: { includeSafetySets?: boolean } = {}): Promise<StoredSet[]> {
    const { sets, damaged } = await this.scanSets();
    for (const set of damaged) {
      onUnreadable?.(
        set.setId,
        new RestorableError(`the manifest of set ${set.setId} cannot be read: ${set.reason}`, { code: 'MANIFEST_UNREADABLE', where: { path: this.absolute(set.path) } }),
      );
    }
    return options.includeSafetySets ? sets : sets.filter((stored) => !stored.manifest.safety);
  }

  /** Sound sets (safety sets included) and damaged manifests, each newest first. */
  async scanSets(): Promise<{ sets: StoredSet[]; damaged: DamagedSet[] }> {
    const sets: StoredSet[] = [];
    const damaged: DamagedSet[] = [];
    for (const setId of await this.setIds()) {
      let manifest: Manifest;
      try {
        manifest = await this.readManifest(setId);
      } catch (error) {
        if (error instanceof RestorableError && error.code === 'REPOSITORY_UNSAFE') throw error;
        const reason = ((error as { cause?: Error }).cause ?? (error as Error)).message;
        damaged.push({ setId, path: manifestPath(setId), reason });
        continue;
      }
      const missing: string[] = [];
      for (const artifact of manifest.artifacts) {
        for (const path of [artifact.path, artifact.index?.path]) {
          if (path && !(await this.isRegularFile(path))) missing.push(path);
        }
      }
      sets.push({ manifest, missing });
    }
    return { sets, damaged };
  }

  /** True when a layout path is a regular file (a link there counts as missing; a linked directory refuses the repository). */
  private async isRegularFile(relativePath: string): Promise<boolean> {
    await resolveInsideRepository(this.root, dirname(relativePath));
    try {
      return (await lstat(join(this.root, relativePath))).isFile();
    } catch {
      return false;
    }
  }

  /** True when this id is free: no manifest and no artifact file names it. */
  async isSetIdFree(setId: string, artifactPaths: string[]): Promise<boolean> {
    for (const path of [manifestPath(setId), ...artifactPaths]) {
      const absolute = await resolveInsideRepository(this.root, path);
      if (await exists(absolute)) return false;
      if (await exists(absolute + PARTIAL_SUFFIX)) return false;
    }
    return true;
  }

  /**
   * Removes what dead runs left: `.partial` files in the repository's own
   * directories, files a publish journal names when its manifest never came,
   * and scratch directories. Call only while holding the job lock. Files we
   * did not write (e.g. the seed's own older backups) are never touched.
   */
  async sweepLeftovers(sourceNames: string[]): Promise<string[]> {
    const removed: string[] = [];
    for (const dir of [MANIFEST_DIR, ...sourceNames]) {
      // A layout directory that is a link to elsewhere would make us delete someone else's `.partial`.
      if (!(await checkLayoutDirectory(this.root, dir))) continue;
      for (const name of await listDir(join(this.root, dir))) {
        if (name.endsWith(PARTIAL_SUFFIX)) {
          await rm(join(this.root, dir, name), { force: true }); // never follows: a link is removed, not its target
          removed.push(`${dir}/${name}`);
        }
      }
    }
    if (!(await checkLayoutDirectory(this.root, STATE_DIR))) return removed;
    const stateDir = join(this.root, STATE_DIR);
    for (const name of await listDir(stateDir)) {
      // Journals of publishes and prunes: files that must go when their set has no manifest.
      const journalName = JOURNAL_NAME.exec(name);
      if (journalName) {
        const setId = journalName[2]!;
        const journal = join(stateDir, name);
        const paths = await this.readJournal(journal, setId);
        if (paths === undefined) {
          removed.push(`${STATE_DIR}/${name} (a damaged journal: none of the paths it names was touched)`);
        } else if (!(await exists(await resolveInsideRepository(this.root, manifestPath(setId))))) {
          for (const path of paths) {
            const absolute = await resolveInsideRepository(this.root, path);
            if (await exists(absolute)) {
              await rm(absolute, { force: true });
              removed.push(path);
            }
          }
        }
        await rm(journal, { force: true });
      } else if (name.startsWith('scratch-') || name.startsWith('drill-')) {
        // rm does not follow links inside what it removes.
        await rm(join(stateDir, name), { recursive: true, force: true });
        removed.push(`${STATE_DIR}/${name}`);
      } else if (name.endsWith(PARTIAL_SUFFIX)) {
        await rm(join(stateDir, name), { force: true });
      }
    }
    return removed;
  }

  /**
   * The paths a journal names, or undefined when it is damaged: not JSON, the
   * wrong shape, another set than its name says, or a path that is not one of
   * that set's files in the layout. A damaged journal is never acted on.
   */
  private async readJournal(journal: string, setId: string): Promise<string[] | undefined> {
    try {
      const parsed = journalSchema.safeParse(JSON.parse(await readSmallFileNoFollow(journal, MAX_JOURNAL_BYTES)));
      if (!parsed.success || parsed.data.setId !== setId) return undefined;
      if (!parsed.data.paths.every((path) => isSetFilePath(path, setId))) return undefined;
      return parsed.data.paths;
    } catch (error) {
      if (error instanceof RestorableError) throw error;
      return undefined;
    }
  }

  /** A private scratch directory for one run, inside the repository (same filesystem, excluded from file sources). */
  async createScratchDir(setId: string): Promise<string> {
    await checkLayoutDirectory(this.root, STATE_DIR);
    const dir = join(this.root, STATE_DIR, `scratch-${setId}-${process.pid}`);
    await rm(dir, { recursive: true, force: true });
    await ensurePrivateDir(dir);
    return dir;
  }

  private async writeJournal(kind: 'publish' | 'prune', setId: string, paths: string[]): Promise<string> {
    await checkLayoutDirectory(this.root, STATE_DIR);
    const journal = join(this.root, STATE_DIR, `${kind}-${setId}.json`);
    await writeFileAtomically(journal, JSON.stringify({ setId, paths }) + '\n');
    return journal;
  }
}

/** The directories of the layout: manifests, logs, state, and one per source. */
function layoutDirectories(sourceNames: string[]): string[] {
  for (const name of sourceNames) {
    if (!SOURCE_NAME_PATTERN.test(name)) throw new RestorableError(`${JSON.stringify(name)} is not a source name`, { code: 'USAGE' });
  }
  return [MANIFEST_DIR, LOG_DIR, STATE_DIR, ...sourceNames];
}

/**
 * Creates `dir` (and its parents) and forces 0700 on it. The directory itself
 * must not be a symlink: its mode is set through a descriptor opened with
 * O_NOFOLLOW, so a link planted there is refused, never chmodded through.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  await chmodDirectory(dir, DIR_MODE, true);
}

async function chmodDirectory(dir: string, mode: number, refuseLink: boolean): Promise<void> {
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
 * Writes a small file as `.partial` (created exclusively, never through a
 * link), fsyncs, renames, fsyncs the directory.
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
async function syncFile(path: string, mode?: number): Promise<void> {
  const handle = await open(path, READ_NO_FOLLOW);
  try {
    if (mode !== undefined) await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** True when something (a link included) is there. */
async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
