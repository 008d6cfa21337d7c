// Owns the one interface through which everything that READS a set goes
// (verify, restore, drill, list): the local repository implements it today,
// offsite destinations (S3, SFTP) will implement it for `--from DEST`, so there
// is never a second restore path.

import type { Readable } from 'node:stream';
import { RestorableError } from '../core/errors.ts';
import type { Manifest } from '../core/manifest.ts';

export interface SetReader {
  /** Where the sets come from, for messages: "local repository /var/backups/app". */
  describe(): string;
  /** Ids of complete sets (those with a manifest), newest first. */
  setIds(): Promise<string[]>;
  readManifest(setId: string): Promise<Manifest>;
  /** Streams one stored file (artifact or index) by its path relative to the set's root. */
  openArtifact(relativePath: string): Promise<Readable>;
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
