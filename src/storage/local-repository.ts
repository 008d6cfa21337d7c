// Owns the local repository as its callers (backup, prune, list, verify,
// restore, drill, check, report) see it: the seed's layout on a local disk,
// made of two parts that each keep their own invariants:
// - the local spool (local-spool.ts) that a run writes into: layout and
//   permissions, `.partial` files, publishing, sweeping dead runs' leftovers;
// - the destination (a LocalDestination, possibly wrapped: retry, logging,
//   dry run, fault injection; see open-repository.ts) that holds the
//   published sets, read through a DestinationSetReader (set-reader.ts) and
//   deleted from through it.
// A set exists only once its manifest does. A manifest that fails validation
// is a damaged set: reported, never acted on, removable only by name.

import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Transform } from 'node:stream';
import { RestorableError } from '../core/errors.ts';
import { isSetFilePath, manifestPath, SET_ID_PATTERN } from '../core/naming.ts';
import type { Manifest } from '../core/manifest.ts';
import { isLinkInPlaceOfFile, type Destination } from './destination.ts';
import { LocalDestination } from './local-destination.ts';
import { journalPath, LocalSpool, type WrittenFile } from './local-spool.ts';
import { repositoryUnsafe } from './repository-paths.ts';
import { DestinationSetReader, type DamagedSet, type SetReader, type StoredSet } from './set-reader.ts';

export { STATE_DIR, type WrittenFile } from './local-spool.ts';
export { ensurePrivateDir, PARTIAL_SUFFIX, writeFileAtomically } from './private-files.ts';
export type { DamagedSet, StoredSet } from './set-reader.ts';

export class LocalRepository implements SetReader {
  readonly spool: LocalSpool;
  readonly reader: DestinationSetReader;

  /** `destination` defaults to the plain local destination at `root`; open-repository.ts passes a wrapped one. */
  constructor(
    readonly root: string,
    readonly destination: Destination = new LocalDestination(root),
  ) {
    this.spool = new LocalSpool(root, destination);
    this.reader = new DestinationSetReader(destination);
  }

  describe(): string {
    return this.destination.describe();
  }

  /** Streams one stored file; never through a link (a planted `db -> /etc` must not make verify hash /etc/shadow). */
  openArtifact(relativePath: string): Promise<Readable> {
    return this.reader.openArtifact(relativePath);
  }

  absolute(relativePath: string): string {
    return join(this.root, relativePath);
  }

  prepare(sourceNames: string[]): Promise<void> {
    return this.spool.prepare(sourceNames);
  }

  /** Refuses a repository whose layout directories are symlinks or not directories. Every command runs it before acting. */
  checkLayout(sourceNames: string[] = []): Promise<void> {
    return this.spool.checkLayout(sourceNames);
  }

  writePartial(relativePath: string, source: Readable, stages: Transform[], signal?: AbortSignal): Promise<WrittenFile> {
    return this.spool.writePartial(relativePath, source, stages, signal);
  }

  discardPartial(relativePath: string): Promise<void> {
    return this.spool.discardPartial(relativePath);
  }

  publishSet(manifest: Manifest, relativePaths: string[]): Promise<void> {
    return this.spool.publishSet(manifest, relativePaths);
  }

  /**
   * Deletes a set through the destination: its manifest first (from then on
   * the set does not exist for any command), then its files. A journal put
   * before makes a prune that is killed half-way leave either a complete set
   * or clearly orphaned files, which the next run sweeps. Returns the paths.
   */
  async deleteSet(manifest: Manifest): Promise<string[]> {
    const paths = manifest.artifacts.flatMap((artifact) => [artifact.path, ...(artifact.index ? [artifact.index.path] : [])]);
    // The manifest was validated when read; check again here, where deleting happens.
    const outside = paths.find((path) => !isSetFilePath(path, manifest.setId));
    if (outside !== undefined) throw repositoryUnsafe(this.root, join(this.root, manifestPath(manifest.setId)), `set ${manifest.setId} names ${JSON.stringify(outside.slice(0, 200))}, which is not one of its files`);
    // Refuse before deleting anything: a linked directory on the way makes the whole destination unsafe.
    for (const path of paths) {
      await this.destination.stat(path).catch((error: unknown) => {
        if (error instanceof RestorableError && error.code === 'REPOSITORY_UNSAFE' && !isLinkInPlaceOfFile(error)) throw error;
      });
    }
    const journal = journalPath('prune', manifest.setId);
    await this.destination.remove(journal); // a stale one of a dead prune of this very set
    await this.destination.put(journal, () => Readable.from([Buffer.from(JSON.stringify({ setId: manifest.setId, paths }) + '\n')]));
    await this.destination.remove(manifestPath(manifest.setId));
    for (const path of paths) await this.destination.remove(path);
    await this.destination.remove(journal);
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
    // remove never follows: a manifest that is a planted link is removed as a link.
    await this.destination.remove(damaged.path);
    return damaged.path;
  }

  /** Ids of every set that has a manifest, newest first. */
  async setIds(): Promise<string[]> {
    await this.checkLayout();
    return this.reader.setIds();
  }

  readManifest(setId: string): Promise<Manifest> {
    return this.reader.readManifest(setId);
  }

  /** Complete sets, newest first (safety sets only on request); damaged manifests go to `onUnreadable`. See DestinationSetReader.listSets. */
  async listSets(onUnreadable?: (setId: string, error: RestorableError) => void, options: { includeSafetySets?: boolean } = {}): Promise<StoredSet[]> {
    await this.checkLayout();
    return this.reader.listSets(onUnreadable, options);
  }

  /** Sound sets (safety sets included) and damaged manifests, each newest first. */
  async scanSets(): Promise<{ sets: StoredSet[]; damaged: DamagedSet[] }> {
    await this.checkLayout();
    return this.reader.scanSets();
  }

  isSetIdFree(setId: string, artifactPaths: string[]): Promise<boolean> {
    return this.spool.isSetIdFree(setId, artifactPaths);
  }

  sweepLeftovers(sourceNames: string[]): Promise<string[]> {
    return this.spool.sweepLeftovers(sourceNames);
  }

  createScratchDir(setId: string): Promise<string> {
    return this.spool.createScratchDir(setId);
  }
}
