// Owns the disk-space guard before a run (the seed's "No space left on
// device"): estimate the new set from the newest complete one and refuse to
// start when it would not fit with `monitor.min_free` left over. With
// `retention.make_space: true` it first deletes the sets the policy would
// delete next — never any other.

import { RestorableError } from '../core/errors.ts';
import { applyRetention } from '../core/retention.ts';
import { retentionCandidateOf } from './prune.ts';
import { setIdFor } from '../core/naming.ts';
import { totalSizeBytes } from '../core/manifest.ts';
import { formatBytes } from '../core/units.ts';
import type { Config } from '../config/schema.ts';
import type { LocalRepository } from '../storage/local-repository.ts';
import { filesystemSpace, reserveBytes } from '../storage/filesystem-space.ts';

// check and report read the repository's filesystem the same way.
export { filesystemSpace, type FilesystemSpace } from '../storage/filesystem-space.ts';

export interface SpaceDecision {
  estimateBytes: number;
  freeBytes: number;
  reserveBytes: number;
  /** Sets deleted to make room (only with retention.make_space). */
  deletedSetIds: string[];
}

/**
 * Throws DISK_SPACE_LOW when the next set would not fit. The first run has
 * nothing to estimate from and is not held back (its own writes still fail
 * cleanly on a full disk).
 */
export async function ensureRoomForNextSet(
  repository: LocalRepository,
  config: Config,
  now: Date,
  onDelete: (setId: string) => void,
): Promise<SpaceDecision | undefined> {
  const sets = await repository.listSets();
  const newest = sets[0];
  if (!newest) return undefined;
  const estimateBytes = totalSizeBytes(newest.manifest);
  let space = await filesystemSpace(repository.root);
  const reserve = reserveBytes(config.monitor.min_free, space.totalBytes);
  const fits = () => space.freeBytes - estimateBytes >= reserve;
  const deletedSetIds: string[] = [];
  if (!fits() && config.retention.make_space) {
    // The sets the policy would remove once this run's set exists, oldest first.
    const upcoming = { setId: setIdFor(now), createdAt: now, stored: undefined };
    const candidates = [...sets.map(retentionCandidateOf), upcoming];
    const removable = applyRetention(candidates, config.retention).remove.filter((set) => set.stored !== undefined).reverse();
    for (const set of removable) {
      if (fits()) break;
      await repository.deleteSet(set.stored!.manifest);
      deletedSetIds.push(set.setId);
      onDelete(set.setId);
      space = await filesystemSpace(repository.root);
    }
  }
  if (!fits()) {
    const shortBy = estimateBytes + reserve - space.freeBytes;
    throw new RestorableError(
      `not enough disk space for the next set: it needs about ${formatBytes(estimateBytes)} (the size of set ${newest.manifest.setId}), ` +
        `${formatBytes(space.freeBytes)} are free on ${repository.root}, and ${formatBytes(reserve)} must stay free (monitor.min_free ${config.monitor.min_free})`,
      {
        code: 'DISK_SPACE_LOW',
        where: { path: repository.root },
        remedy: `free at least ${formatBytes(shortBy)} on that filesystem, lower retention, or set retention.make_space: true to let restorable delete the sets its policy would delete next`,
      },
    );
  }
  return { estimateBytes, freeBytes: space.freeBytes, reserveBytes: reserve, deletedSetIds };
}
