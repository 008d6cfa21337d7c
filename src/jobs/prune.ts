// Owns applying retention to the local repository: plan (pure, with reasons),
// then delete each removed set manifest-first. `dryRun` prints the same plan
// and deletes nothing. Runs on its own (`restorable prune`) or right after a
// successful backup, which already holds the job lock. The dry run is the
// destination's (composeDestination: removes are reported, not done); here
// only the words and the outcome's "actually deleted" fields tell it apart.
//
// Retention is per source (core/retention.ts): each source's timeline keeps
// its own sets, pins and `within` keep sets whatever the counts say.
//
// Damaged sets (a manifest that is unreadable or fails the schema) never
// enter the plan: they neither count as the newest complete set nor are
// deleted through the paths they name. `removeDamaged` removes the manifest
// file of named damaged sets, and only that file, when the operator asks.

import type { LocalRepository, StoredSet } from '../storage/local-repository.ts';
import { openRepository } from '../storage/open-repository.ts';
import { acquireJobLock } from '../storage/job-lock.ts';
import { applyRetention, type RetentionCandidate, type RetentionPolicy } from '../core/retention.ts';
import { dateOfSetId } from '../core/naming.ts';
import { totalSizeBytes } from '../core/manifest.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { Clock, RunReporter } from '../core/ports.ts';
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

/**
 * A stored set as retention sees it: its date, the sources it holds (it is on
 * each one's timeline) and its pin. disk-space.ts's make_space plans with it too.
 */
export function retentionCandidateOf(stored: StoredSet): RetentionCandidate & { stored: StoredSet } {
  const { manifest } = stored;
  return { setId: manifest.setId, createdAt: dateOfSetId(manifest.setId), sources: manifest.artifacts.map((artifact) => artifact.source), pin: manifest.pin?.note, stored };
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
  const candidates = sets.map(retentionCandidateOf);
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
  const repository = openRepository(loaded, { dryRun: request.dryRun });
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
    const removed = request.dryRun ? 'would remove' : 'removed';
    for (const setId of request.removeDamaged ?? []) {
      const path = await repository.deleteDamagedManifest(setId);
      removedDamaged.push(path);
      reporter.step(`${removed} the damaged manifest ${path} (no file it names was touched)`);
    }
    const deletedPaths: string[] = [];
    let freedBytes = 0;
    for (const set of plan.remove) {
      deletedPaths.push(...(await repository.deleteSet(set.stored.manifest)));
      freedBytes += set.sizeBytes;
      reporter.step(`${removed} set ${set.setId} (retention)`);
    }
    // What a dry run's destination only reported was not deleted.
    const deleted = request.dryRun ? { deletedPaths: [], freedBytes: 0, removedDamaged: [] } : { deletedPaths, freedBytes, removedDamaged };
    return {
      dryRun: request.dryRun,
      keep: plan.keep,
      remove: plan.remove.map(({ stored: _stored, ...entry }) => entry),
      ...deleted,
      swept,
      damaged,
    };
  } finally {
    await lock?.release();
  }
}
