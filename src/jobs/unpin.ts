// Owns taking a pin off a set (`restorable unpin SET`): the pin is a note in
// the set's manifest (`backup --keep NOTE`), and retention keeps a pinned set
// whatever its rules say. Unpinning rewrites the manifest without it.
// Invariants: the rewrite is atomic (`.partial`, fsync, rename, fsync of the
// directory: the manifest is whole before or after, never half), it runs
// under the job lock (a prune deleting the set meanwhile must not race it),
// and nothing but the pin changes; a damaged manifest is never rewritten.

import { RestorableError } from '../core/errors.ts';
import { manifestPath } from '../core/naming.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { Clock } from '../core/ports.ts';
import { acquireJobLock } from '../storage/job-lock.ts';
import { writeFileAtomically } from '../storage/local-repository.ts';
import { openRepository } from '../storage/open-repository.ts';
import { resolveSetId } from '../storage/set-reader.ts';

export interface UnpinRequest {
  loaded: LoadedConfig;
  /** A set id (a pin is taken off one named set: `latest` is not accepted). */
  set: string;
  clock: Clock;
}

export interface UnpinOutcome {
  setId: string;
  /** The note of the pin taken off; undefined when the set was not pinned (nothing changed). */
  removedNote?: string;
}

export async function unpinSet(request: UnpinRequest): Promise<UnpinOutcome> {
  if (request.set === 'latest') {
    throw new RestorableError('unpin takes the id of a pinned set, not `latest`', { code: 'USAGE', remedy: '`restorable list` shows each pinned set as PINNED with its id' });
  }
  const repository = openRepository(request.loaded);
  await repository.checkLayout();
  const lock = await acquireJobLock(repository.root, 'unpin', request.clock.now());
  try {
    // Read through the validating reader: a damaged manifest is never rewritten.
    const manifest = await repository.readManifest(await resolveSetId(repository, request.set));
    if (!manifest.pin) return { setId: manifest.setId };
    const { pin, ...unpinned } = manifest;
    await writeFileAtomically(repository.absolute(manifestPath(manifest.setId)), JSON.stringify(unpinned, null, 2) + '\n');
    return { setId: manifest.setId, removedNote: pin.note };
  } finally {
    await lock.release();
  }
}
