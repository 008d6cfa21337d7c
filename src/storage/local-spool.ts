// Owns the local spool: where a run writes its artifacts before they are
// published, inside the local repository (same filesystem, so publishing is a
// rename). It creates the layout (dirs 0700, whatever existed), streams each
// artifact into `<path>.partial` (O_EXCL|O_NOFOLLOW, 0600, fsynced), publishes
// a run's files and then its manifest, and sweeps what dead runs left. The
// manifest is put through the destination (destination.ts), so a destination
// wrapper (a fault, a dry run) sees the moment a set comes to exist.
//
// Invariants: a set exists only once its manifest does; a failed publish
// leaves neither the set's files nor its manifest; a journal lists a set's
// files before they are renamed or deleted, so a run killed half-way leaves
// files the next run sweeps; the spool never touches a file we did not write
// (the seed's own older backups), and never follows a link below the root.

import { mkdir, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { z } from 'zod';
import { RestorableError } from '../core/errors.ts';
import type { Manifest } from '../core/manifest.ts';
import { isSetFilePath, LOG_DIR, MANIFEST_DIR, manifestPath, SET_ID_PATTERN, SOURCE_NAME_PATTERN } from '../core/naming.ts';
import { HashingPassThrough } from '../stages/hash.ts';
import type { Destination } from './destination.ts';
import { chmodDirectory, DIR_MODE, ensurePrivateDir, exists, listDir, PARTIAL_SUFFIX, syncFile, writeFileAtomically, writePartialFile } from './private-files.ts';
import { checkLayoutDirectory, readSmallFileNoFollow, resolveInsideRepository, STATE_DIR } from './repository-paths.ts';
import { requireRepositoryRoot } from './repository-root.ts';

export { STATE_DIR };

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

/** The path of a set's journal (publish or prune), relative to the root. */
export function journalPath(kind: 'publish' | 'prune', setId: string): string {
  return `${STATE_DIR}/${kind}-${setId}.json`;
}

export class LocalSpool {
  /** `destination` holds the published sets; for the local repository it has the same root. */
  constructor(
    readonly root: string,
    private readonly destination: Destination,
  ) {}

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

  /** Refuses a repository whose layout directories (or those of `sourceNames`) are symlinks or not directories. */
  async checkLayout(sourceNames: string[] = []): Promise<void> {
    await requireRepositoryRoot(this.root); // a missing repository is named, never read as "no sets"
    for (const name of layoutDirectories(sourceNames)) await checkLayoutDirectory(this.root, name);
  }

  /**
   * Streams `source` through `stages` and a hash into `<path>.partial` (0600,
   * created exclusively), then fsyncs it. Not yet published: see publishSet().
   */
  async writePartial(relativePath: string, source: Readable, stages: Transform[], signal?: AbortSignal): Promise<WrittenFile> {
    const partial = await resolveInsideRepository(this.root, relativePath + PARTIAL_SUFFIX);
    await ensurePrivateDir(dirname(partial));
    const hash = new HashingPassThrough();
    await writePartialFile(partial, source, [...stages, hash], signal);
    return { path: relativePath, sizeBytes: hash.byteCount, sha256: hash.digestHex() };
  }

  /** Removes a partial written by this run (after a failure). */
  async discardPartial(relativePath: string): Promise<void> {
    // rm never follows a link: at worst it removes a link planted under our name.
    await rm(await resolveInsideRepository(this.root, relativePath + PARTIAL_SUFFIX), { force: true });
  }

  /**
   * Publishes a run's partial files under their final names, then puts the
   * manifest last. A journal lists the files first, so that a run killed
   * between the renames and the manifest is swept cleanly by the next run; a
   * publish that fails takes its renamed files back out (nothing published).
   */
  async publishSet(manifest: Manifest, relativePaths: string[]): Promise<void> {
    const journal = join(this.root, journalPath('publish', manifest.setId));
    await checkLayoutDirectory(this.root, STATE_DIR);
    await writeFileAtomically(journal, JSON.stringify({ setId: manifest.setId, paths: relativePaths }) + '\n');
    const renamed: string[] = [];
    try {
      const dirs = new Set<string>();
      for (const relativePath of relativePaths) {
        const target = await resolveInsideRepository(this.root, relativePath);
        await rename(target + PARTIAL_SUFFIX, target);
        renamed.push(target);
        dirs.add(dirname(target));
      }
      for (const dir of dirs) await syncFile(dir);
      const text = JSON.stringify(manifest, null, 2) + '\n';
      await this.destination.put(manifestPath(manifest.setId), () => Readable.from([Buffer.from(text)]));
    } catch (error) {
      for (const target of renamed) await rm(target, { force: true });
      await rm(journal, { force: true });
      throw error;
    }
    await unlink(journal);
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
   * directories, files a journal names when its manifest never came (or is
   * gone), and scratch directories. Call only while holding the job lock.
   * Files we did not write (e.g. the seed's own older backups) are never touched.
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
}

/** The directories of the layout: manifests, logs, state, and one per source. */
function layoutDirectories(sourceNames: string[]): string[] {
  for (const name of sourceNames) {
    if (!SOURCE_NAME_PATTERN.test(name)) throw new RestorableError(`${JSON.stringify(name)} is not a source name`, { code: 'USAGE' });
  }
  return [MANIFEST_DIR, LOG_DIR, STATE_DIR, ...sourceNames];
}
