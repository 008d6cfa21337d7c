// Owns what `restorable list` shows: the complete sets of the repository,
// newest first (safety sets included, marked by their manifest), each with the
// newest drill of it from the run history, and the manifests that are damaged.
// Invariants: a damaged manifest is listed with its reason and never read
// further; an aborted (interrupted) drill proves nothing either way, so the
// earlier proof of that set stands.

import type { LoadedConfig } from '../config/load.ts';
import type { StoredSet } from '../storage/set-reader.ts';
import { openRepository } from '../storage/open-repository.ts';
import { readRuns, type RunRecord } from '../storage/state-store.ts';

/** The newest completed drill of one set. */
export interface DrillProof {
  status: 'ok' | 'warning' | 'failed';
  at: string;
  restoreSeconds: Record<string, number>;
}

export interface SetListing {
  /** Where the sets were read. */
  repository: string;
  sets: StoredSet[];
  damaged: Array<{ setId: string; reason: string }>;
  /** By set id. */
  drills: Map<string, DrillProof>;
}

export async function listSets(loaded: LoadedConfig): Promise<SetListing> {
  const repository = openRepository(loaded);
  const damaged: SetListing['damaged'] = [];
  const sets = await repository.listSets((setId, error) => damaged.push({ setId, reason: error.message }), { includeSafetySets: true });
  return { repository: repository.root, sets, damaged, drills: latestDrillPerSet(await readRuns(repository.root)) };
}

/** The newest drill of each set, from the run history (oldest first). */
export function latestDrillPerSet(runs: RunRecord[]): Map<string, DrillProof> {
  const proofs = new Map<string, DrillProof>();
  for (const run of runs) {
    if (run.command !== 'drill' || !run.setId || run.status === 'aborted') continue;
    proofs.set(run.setId, { status: run.status, at: run.finishedAt, restoreSeconds: run.details?.restoreSeconds ?? {} });
  }
  return proofs;
}
