// Owns applying retention to the local repository: plan (pure, with reasons),
// then delete each removed set manifest-first. `dryRun` prints the same plan
// and deletes nothing. Runs on its own (`restorable prune`) or right after a
// successful backup, which already holds the job lock.

import { LocalRepository, type StoredSet } from '../storage/local-repository.ts';
import { acquireJobLock } from '../storage/job-lock.ts';
import { applyRetention, type RetentionPolicy } from '../core/retention.ts';
import { dateOfSetId } from '../core/naming.ts';
import { totalSizeBytes } from '../core/manifest.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { Clock, RunReporter } from './ports.ts';

export interface PrunePlanEntry {
  setId: string;
  sizeBytes: number;
  reasons: string[];
}

export interface PruneOutcome {
  dryRun: boolean;
  keep: PrunePlanEntry[];
  remove: PrunePlanEntry[];
  /** Paths actually deleted (empty on a dry run). */
  deletedPaths: string[];
  freedBytes: number;
  /** Leftovers of dead runs that were swept (standalone prune only). */
  swept: string[];
}

export interface PruneRequest {
  loaded: LoadedConfig;
  dryRun: boolean;
  clock: Clock;
  reporter: RunReporter;
  /** True when called by a run that already holds the job lock. */
  lockHeld?: boolean;
}

/** The retention plan over the complete sets of a repository. Pure apart from reading manifests. */
export async function planRetention(repository: LocalRepository, policy: RetentionPolicy): Promise<{ keep: PrunePlanEntry[]; remove: Array<PrunePlanEntry & { stored: StoredSet }> }> {
  const sets = await repository.listSets();
  const candidates = sets.map((stored) => ({ setId: stored.manifest.setId, createdAt: dateOfSetId(stored.manifest.setId), stored }));
  const plan = applyRetention(candidates, policy);
  return {
    keep: plan.keep.map((set) => ({ setId: set.setId, sizeBytes: totalSizeBytes(set.stored.manifest), reasons: set.reasons })),
    remove: plan.remove.map((set) => ({ setId: set.setId, sizeBytes: totalSizeBytes(set.stored.manifest), reasons: [], stored: set.stored })),
  };
}

export async function runPrune(request: PruneRequest): Promise<PruneOutcome> {
  const { loaded, reporter } = request;
  const repository = new LocalRepository(loaded.repositoryPath);
  const lock = request.lockHeld || request.dryRun ? undefined : await acquireJobLock(repository.root, 'prune', request.clock.now());
  try {
    const swept = lock ? await repository.sweepLeftovers(Object.keys(loaded.config.sources)) : [];
    for (const path of swept) reporter.warn(`removed leftover of an interrupted run: ${path}`);
    const plan = await planRetention(repository, loaded.config.retention);
    const deletedPaths: string[] = [];
    let freedBytes = 0;
    for (const set of plan.remove) {
      if (request.dryRun) {
        reporter.step(`would remove set ${set.setId}`);
        continue;
      }
      deletedPaths.push(...(await repository.deleteSet(set.stored.manifest)));
      freedBytes += set.sizeBytes;
      reporter.step(`removed set ${set.setId} (retention)`);
    }
    return {
      dryRun: request.dryRun,
      keep: plan.keep,
      remove: plan.remove.map(({ stored: _stored, ...entry }) => entry),
      deletedPaths,
      freedBytes,
      swept,
    };
  } finally {
    await lock?.release();
  }
}
