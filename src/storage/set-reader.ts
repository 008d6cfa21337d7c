// Owns the one interface through which everything that READS a set goes
// (verify, restore, drill, list, retention), and its one implementation on
// top of a Destination: the local repository today, offsite destinations
// (S3, SFTP) for `--from DEST` later, so there is never a second read path.
//
// The destination is untrusted input (docs/security.md): a manifest that
// cannot be read or fails validation is a damaged set, reported and never
// acted on; only a destination that is unsafe as a whole (a linked layout
// directory) fails the listing.

import type { Readable } from 'node:stream';
import { RestorableError } from '../core/errors.ts';
import { MAX_MANIFEST_BYTES, parseManifest, type Manifest } from '../core/manifest.ts';
import { MANIFEST_DIR, manifestPath, SET_ID_PATTERN } from '../core/naming.ts';
import { isLinkInPlaceOfFile, isNotFound, type Destination } from './destination.ts';

export interface SetReader {
  /** Where the sets come from, for messages: "local repository /var/backups/app". */
  describe(): string;
  /** Ids of complete sets (those with a manifest), newest first. */
  setIds(): Promise<string[]>;
  readManifest(setId: string): Promise<Manifest>;
  /** Streams one stored file (artifact or index) by its path relative to the set's root. */
  openArtifact(relativePath: string): Promise<Readable>;
}

export interface StoredSet {
  manifest: Manifest;
  /** Relative paths named by the manifest that are missing from the destination. */
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

/** Reads sets from any Destination. */
export class DestinationSetReader implements SetReader {
  constructor(readonly destination: Destination) {}

  describe(): string {
    return this.destination.describe();
  }

  async setIds(): Promise<string[]> {
    const files = await this.destination.list(MANIFEST_DIR);
    return files
      .map((file) => file.path.slice(MANIFEST_DIR.length + 1))
      .filter((name) => name.endsWith('.json') && SET_ID_PATTERN.test(name.slice(0, -5)))
      .map((name) => name.slice(0, -5))
      .sort()
      .reverse();
  }

  async readManifest(setId: string): Promise<Manifest> {
    const path = manifestPath(setId);
    try {
      if (!SET_ID_PATTERN.test(setId)) throw new Error('not a set id');
      return parseManifest(await readSmallStoredFile(this.destination, path, MAX_MANIFEST_BYTES), setId);
    } catch (error) {
      // A linked directory refuses the whole destination; anything else about this one file damages only its set.
      if (error instanceof RestorableError && error.code === 'REPOSITORY_UNSAFE' && !isLinkInPlaceOfFile(error)) throw error;
      const reason = isLinkInPlaceOfFile(error) ? new Error('the manifest file is a symlink') : ((error as { cause?: Error }).cause ?? (error as Error));
      throw new RestorableError(`the manifest of set ${setId} cannot be read: ${reason.message}`, {
        code: 'MANIFEST_UNREADABLE',
        where: { destination: this.describe(), path },
        remedy: 'run `restorable verify` on the other sets; this set cannot be trusted',
        cause: reason,
      });
    }
  }

  async openArtifact(relativePath: string): Promise<Readable> {
    // Surface a missing file here, with its path, rather than mid-pipeline.
    try {
      return await this.destination.get(relativePath);
    } catch (error) {
      if (!(error instanceof RestorableError) || error.code === 'REPOSITORY_UNSAFE') throw error;
      const cause = (error.cause as NodeJS.ErrnoException | undefined) ?? error;
      throw new RestorableError(`${relativePath} cannot be read from ${this.describe()}: ${cause.code ?? cause.message}`, {
        code: 'ARTIFACT_MISSING',
        where: error.where,
        remedy: 'the set is damaged: restore from another set (`restorable list`) or an offsite copy',
        cause,
      });
    }
  }

  /**
   * Complete sets, newest first, with any artifact the manifest names but the
   * destination lacks. Safety sets (taken by `restore db` before it wrote over
   * a database) are no backups: left out unless `includeSafetySets`, so no
   * "newest set" (check, metrics, report, disk estimate) is ever one.
   * Damaged manifests go to `onUnreadable` and are never sets.
   */
  async listSets(onUnreadable?: (setId: string, error: RestorableError) => void, options: { includeSafetySets?: boolean } = {}): Promise<StoredSet[]> {
    const { sets, damaged } = await this.scanSets();
    for (const set of damaged) {
      onUnreadable?.(set.setId, new RestorableError(`the manifest of set ${set.setId} cannot be read: ${set.reason}`, { code: 'MANIFEST_UNREADABLE', where: { destination: this.describe(), path: set.path } }));
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
          if (path && !(await this.isStored(path))) missing.push(path);
        }
      }
      sets.push({ manifest, missing });
    }
    return { sets, damaged };
  }

  /** True when a stored file is there (a link in its place counts as missing; a linked directory refuses the destination). */
  private async isStored(path: string): Promise<boolean> {
    try {
      await this.destination.stat(path);
      return true;
    } catch (error) {
      if (error instanceof RestorableError && error.code === 'REPOSITORY_UNSAFE' && !isLinkInPlaceOfFile(error)) throw error;
      if (isNotFound(error) || isLinkInPlaceOfFile(error) || error instanceof RestorableError) return false;
      throw error;
    }
  }
}

/** A small stored file as text, refused when it is larger than `maxBytes` (read no further than that). */
export async function readSmallStoredFile(destination: Destination, path: string, maxBytes: number): Promise<string> {
  const stream = await destination.get(path);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw Object.assign(new Error(`${path} is more than the ${maxBytes} bytes allowed`), { code: 'EFBIG' });
      chunks.push(chunk);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Resolves `latest` or an explicit set id to a set that exists. */
export async function resolveSetId(reader: SetReader, requested: string | undefined): Promise<string> {
  const ids = await reader.setIds();
  if (!requested || requested === 'latest') {
    // A safety set (restore db's copy of a database it wrote over) is never `latest`,
    // and neither is a damaged set (a manifest that fails validation): `latest` is the newest sound set.
    let newest: string | undefined;
    for (const id of ids) {
      const manifest = await reader.readManifest(id).catch(() => undefined);
      if (!manifest || manifest.safety) continue;
      newest = id;
      break;
    }
    if (!newest) {
      throw new RestorableError(`no complete set in ${reader.describe()}`, {
        code: 'NO_SET',
        remedy: 'run `restorable backup` first',
      });
    }
    return newest;
  }
  if (!ids.includes(requested)) {
    throw new RestorableError(`set ${requested} does not exist in ${reader.describe()} (or it has no manifest, so it is incomplete)`, {
      code: 'NO_SET',
      remedy: `\`restorable list\` shows the complete sets${ids[0] ? `; the newest is ${ids[0]}` : ''}`,
    });
  }
  return requested;
}
