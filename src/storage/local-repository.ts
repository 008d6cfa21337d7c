// Owns the local repository on disk: the seed's layout, permissions (dirs
// 0700, files 0600 whatever the umask or the existing mode), atomic writes
// (`.partial` -> fsync -> rename -> fsync dir), reading manifests, and
// sweeping what dead runs left behind. A set exists only once its manifest does.

import { constants as fsConstants, createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable, Transform } from 'node:stream';
import { describeSystemError, RestorableError } from '../core/errors.ts';
import { LOG_DIR, MANIFEST_DIR, manifestPath, SET_ID_PATTERN } from '../core/naming.ts';
import { parseManifest, type Manifest } from '../core/manifest.ts';
import { HashingPassThrough } from '../stages/hash.ts';
import type { SetReader } from './set-reader.ts';

export const PARTIAL_SUFFIX = '.partial';
/** Where restorable keeps its own state (lock, publish journals, scratch space). */
export const STATE_DIR = '.restorable';
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const WRITE_BUFFER = 1024 * 1024;

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

export class LocalRepository implements SetReader {
  constructor(readonly root: string) {}

  describe(): string {
    return `local repository ${this.root}`;
  }

  async openArtifact(relativePath: string): Promise<Readable> {
    const path = this.absolute(relativePath);
    const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
    // Surface a missing file here, with its path, rather than mid-pipeline.
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (error) =>
        reject(
          new RestorableError(`${relativePath} cannot be read from ${this.describe()}: ${(error as NodeJS.ErrnoException).code ?? error.message}`, {
            code: 'ARTIFACT_MISSING',
            where: { path },
            remedy: 'the set is damaged: restore from another set (`restorable list`) or an offsite copy',
            cause: error,
          }),
        ),
      );
    });
    return stream;
  }

  absolute(relativePath: string): string {
    return join(this.root, relativePath);
  }

  /** Creates the layout and forces 0700 on every directory, also ones that existed as 0755. */
  async prepare(sourceNames: string[]): Promise<void> {
    const dirs = [this.root, ...[MANIFEST_DIR, LOG_DIR, STATE_DIR, ...sourceNames].map((name) => join(this.root, name))];
    for (const dir of dirs) await ensurePrivateDir(dir);
  }

  /**
   * Streams `source` through `stages` and a hash into `<path>.partial` (0600,
   * created exclusively), then fsyncs it. Not yet published: see publish().
   */
  async writePartial(relativePath: string, source: Readable, stages: Transform[], signal?: AbortSignal): Promise<WrittenFile> {
    const partial = this.absolute(relativePath) + PARTIAL_SUFFIX;
    await ensurePrivateDir(dirname(partial));
    const hash = new HashingPassThrough();
    const sink = createWriteStream(partial, { flags: 'wx', mode: FILE_MODE, highWaterMark: WRITE_BUFFER });
    try {
      await pipeline([source, ...stages, hash, sink], { signal });
      await chmod(partial, FILE_MODE); // the umask may have narrowed it; make it exact
      await fsyncPath(partial);
    } catch (error) {
      await rm(partial, { force: true });
      throw describeSystemError(error, partial) ?? error;
    }
    return { path: relativePath, sizeBytes: hash.byteCount, sha256: hash.digestHex() };
  }

  /** Removes a partial written by this run (after a failure). */
  async discardPartial(relativePath: string): Promise<void> {
    await rm(this.absolute(relativePath) + PARTIAL_SUFFIX, { force: true });
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
      const target = this.absolute(relativePath);
      await rename(target + PARTIAL_SUFFIX, target);
      dirs.add(dirname(target));
    }
    for (const dir of dirs) await fsyncPath(dir);
    await writeFileAtomically(this.absolute(manifestPath(manifest.setId)), JSON.stringify(manifest, null, 2) + '\n');
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
    const journal = await this.writeJournal('prune', manifest.setId, paths);
    await rm(this.absolute(manifestPath(manifest.setId)), { force: true });
    await fsyncPath(join(this.root, MANIFEST_DIR));
    for (const path of paths) await rm(this.absolute(path), { force: true });
    await unlink(journal);
    return [manifestPath(manifest.setId), ...paths];
  }

  /** Ids of every set that has a manifest, newest first. */
  async setIds(): Promise<string[]> {
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
      return parseManifest(await readFile(path, 'utf8'));
    } catch (error) {
      throw new RestorableError(`the manifest of set ${setId} cannot be read: ${(error as Error).message}`, {
        code: 'MANIFEST_UNREADABLE',
        where: { path },
        remedy: 'run `restorable verify` on the other sets; this set cannot be trusted',
        cause: error,
      });
    }
  }

  /** Complete sets, newest first, with any artifact the manifest names but the disk lacks. */
  async listSets(onUnreadable?: (setId: string, error: RestorableError) => void): Promise<StoredSet[]> {
    const sets: StoredSet[] = [];
    for (const setId of await this.setIds()) {
      let manifest: Manifest;
      try {
        manifest = await this.readManifest(setId);
      } catch (error) {
        onUnreadable?.(setId, error as RestorableError);
        continue;
      }
      const missing: string[] = [];
      for (const artifact of manifest.artifacts) {
        for (const path of [artifact.path, artifact.index?.path]) {
          if (path && !(await exists(this.absolute(path)))) missing.push(path);
        }
      }
      sets.push({ manifest, missing });
    }
    return sets;
  }

  /** True when this id is free: no manifest and no artifact file names it. */
  async isSetIdFree(setId: string, artifactPaths: string[]): Promise<boolean> {
    for (const path of [manifestPath(setId), ...artifactPaths]) {
      if (await exists(this.absolute(path))) return false;
      if (await exists(this.absolute(path) + PARTIAL_SUFFIX)) return false;
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
      for (const name of await listDir(join(this.root, dir))) {
        if (name.endsWith(PARTIAL_SUFFIX)) {
          await rm(join(this.root, dir, name), { force: true });
          removed.push(`${dir}/${name}`);
        }
      }
    }
    const stateDir = join(this.root, STATE_DIR);
    for (const name of await listDir(stateDir)) {
      // Journals of publishes and prunes: files that must go when their set has no manifest.
      if (/^(publish|prune)-.*\.json$/.test(name)) {
        const journal = join(stateDir, name);
        const { setId, paths } = JSON.parse(await readFile(journal, 'utf8')) as { setId: string; paths: string[] };
        if (!(await exists(this.absolute(manifestPath(setId))))) {
          for (const path of paths) {
            if (await exists(this.absolute(path))) {
              await rm(this.absolute(path), { force: true });
              removed.push(path);
            }
          }
        }
        await rm(journal, { force: true });
      } else if (name.startsWith('scratch-') || name.startsWith('drill-')) {
        await rm(join(stateDir, name), { recursive: true, force: true });
        removed.push(`${STATE_DIR}/${name}`);
      } else if (name.endsWith(PARTIAL_SUFFIX)) {
        await rm(join(stateDir, name), { force: true });
      }
    }
    return removed;
  }

  /** A private scratch directory for one run, inside the repository (same filesystem, excluded from file sources). */
  async createScratchDir(setId: string): Promise<string> {
    const dir = join(this.root, STATE_DIR, `scratch-${setId}-${process.pid}`);
    await rm(dir, { recursive: true, force: true });
    await ensurePrivateDir(dir);
    return dir;
  }

  private async writeJournal(kind: 'publish' | 'prune', setId: string, paths: string[]): Promise<string> {
    const journal = join(this.root, STATE_DIR, `${kind}-${setId}.json`);
    await writeFileAtomically(journal, JSON.stringify({ setId, paths }) + '\n');
    return journal;
  }
}

export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  const info = await stat(dir);
  if ((info.mode & 0o777) !== DIR_MODE) await chmod(dir, DIR_MODE);
}

/** Writes a small file as `.partial`, fsyncs, renames, fsyncs the directory. */
export async function writeFileAtomically(path: string, content: string): Promise<void> {
  const partial = path + PARTIAL_SUFFIX;
  try {
    await writeFile(partial, content, { mode: FILE_MODE, flag: 'w' });
    await chmod(partial, FILE_MODE);
    await fsyncPath(partial);
    await rename(partial, path);
    await fsyncPath(dirname(path));
  } catch (error) {
    await rm(partial, { force: true });
    throw describeSystemError(error, path) ?? error;
  }
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
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
