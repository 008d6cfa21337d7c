// Owns applying retention to the local repository: plan (pure, with reasons),
// then delete each removed set manifest-first. `dryRun` prints the same plan
// and deletes nothing. Runs on its own (`restorable prune`) or right after a
// successful backup, which already holds the job lock.
//
// Damaged sets (a manifest that is unreadable or fails the schema) never
// enter the plan: they neither count as the newest complete set nor are
// deleted through the paths they name. `removeDamaged` removes the manifest
// file of named damaged sets, and only that file, when the operator asks.

import { LocalRepository, type StoredSet } from '../storage/local-repository.ts';
import { acquireJobLock } from '../storage/job-lock.ts';
import { applyRetention, type RetentionPolicy } from '../core/retention.ts';
import { dateOfSetId } from '../core/naming.ts';
import { totalSizeBytes } from '../core/manifest.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { Clock, RunReporter } from './ports.ts';
import { RestorableError } from '../core/errors.ts';

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
  /** Sets whose manifest is damaged: left out of the plan, untouched unless named in `removeDamaged`. */
  damaged: Array<{ setId: string; reason: string }>;
  /** Manifest files of damaged sets removed on request (empty on a dry run). */
  removedDamaged: string[];
}

export interface PruneRequest {
  loaded: LoadedConfig;
  dryRun: boolean;
  clock: Clock;
  reporter: RunReporter;
  /** True when called by a run that already holds the job lock. */
  lockHeld?: boolean;
  /** Set ids of damaged sets whose manifest file should be removed (`prune --remove-damaged`). */
  removeDamaged?: string[];
}

/** The retention plan over the complete sets of a repository. Pure apart from reading manifests. */
export async function planRetention(
  repository: LocalRepository,
  policy: RetentionPolicy,
  now: Date = new Date(),
  onDamaged?: (setId: string, reason: string) => void,
): Promise<{ keep: PrunePlanEntry[]; remove: Array<PrunePlanEntry & { stored: StoredSet }> }> {
  const all = await repository.listSets((setId, error) => onDamaged?.(setId, error.message), { includeSafetySets: true });
  // Safety sets stand outside every timeline: they neither push a backup out
  // nor are kept by the count rules; their own expiry decides.
  const sets = all.filter((stored) => !stored.manifest.safety);
  const candidates = sets.map((stored) => ({ setId: stored.manifest.setId, createdAt: dateOfSetId(stored.manifest.setId), stored }));
  const plan = applyRetention(candidates, policy);
  const keep: PrunePlanEntry[] = plan.keep.map((set) => ({ setId: set.setId, sizeBytes: totalSizeBytes(set.stored.manifest), reasons: set.reasons }));
  const remove: Array<PrunePlanEntry & { stored: StoredSet }> = plan.remove.map((set) => ({ setId: set.setId, sizeBytes: totalSizeBytes(set.stored.manifest), reasons: [], stored: set.stored }));
  for (const stored of all) {
    const safety = stored.manifest.safety;
    if (!safety) continue;
    const entry = { setId: stored.manifest.setId, sizeBytes: totalSizeBytes(stored.manifest) };
    const expires = new Date(safety.expiresAt);
    if (Number.isNaN(expires.getTime()) || expires.getTime() > now.getTime()) keep.push({ ...entry, reasons: [`safety copy of ${safety.of} until ${safety.expiresAt}`] });
    else remove.push({ ...entry, reasons: [`safety copy of ${safety.of} expired ${safety.expiresAt}`], stored });
  }
  keep.sort((a, b) => (a.setId < b.setId ? 1 : -1));
  remove.sort((a, b) => (a.setId < b.setId ? 1 : -1));
  return { keep, remove };
}

export async function runPrune(request: PruneRequest): Promise<PruneOutcome> {
  const { loaded, reporter } = request;
  const repository = new LocalRepository(loaded.repositoryPath);
  const lock = request.lockHeld || request.dryRun ? undefined : await acquireJobLock(repository.root, 'prune', request.clock.now());
  try {
    const swept = lock ? await repository.sweepLeftovers(Object.keys(loaded.config.sources)) : [];
    for (const path of swept) reporter.warn(`removed leftover of an interrupted run: ${path}`);
    const damaged: PruneOutcome['damaged'] = [];
    const plan = await planRetention(repository, loaded.config.retention, request.clock.now(), (setId, reason) => damaged.push({ setId, reason }));
    for (const set of damaged) reporter.warn(`set ${set.setId} is damaged and left out of retention: ${set.reason}`);
    const removedDamaged: string[] = [];
    const notDamaged = (request.removeDamaged ?? []).filter((setId) => !damaged.some((set) => set.setId === setId));
    if (notDamaged.length > 0) {
      throw new RestorableError(`--remove-damaged names set(s) without a damaged manifest: ${notDamaged.join(', ')}`, {
        code: 'USAGE',
        remedy: damaged.length > 0 ? `the damaged sets are: ${damaged.map((set) => set.setId).join(', ')}` : 'no set is damaged: `restorable list` shows none',
      });
    }
    for (const setId of request.removeDamaged ?? []) {
      if (request.dryRun) {
        reporter.step(`would remove the damaged manifest of set ${setId}`);
        continue;
      }
      const path = await repository.deleteDamagedManifest(setId);
      removedDamaged.push(path);
      reporter.step(`removed the damaged manifest ${path} (no file it names was touched)`);
    }
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
      damaged,
      removedDamaged,
    };
  } finally {
    await lock?.release();
  }
}
