// Owns the monitoring snapshot: the repository read once — complete sets,
// run history, free space, the lock and whether its holder lives — at a given
// "now", and every monitor check run on that one snapshot. `check`, `metrics`
// and `doctor` grade the same facts, so they never disagree. A check that
// throws is UNKNOWN with its reason and does not stop the others.

import { stat } from 'node:fs/promises';
import { RestorableError } from '../core/errors.ts';
import type { LoadedConfig } from '../config/load.ts';
import { openRepository } from '../storage/open-repository.ts';
import { isHolderAlive, lockPath, readHolder } from '../storage/job-lock.ts';
import { readRuns, runHistoryPath } from '../storage/state-store.ts';
import { filesystemSpace } from '../storage/filesystem-space.ts';
import type { Check, CheckContext, CheckResult, FilesystemSpaceFact } from './check.ts';

/**
 * Reads everything the checks grade. Throws REPOSITORY_UNREADABLE when the
 * sets or the run history cannot be read (a repository path that is a file,
 * a directory without permission), REPOSITORY_MISSING when it does not exist
 * (an unmounted disk: never read as "no sets"; `restorable init` creates it).
 */
export async function gatherCheckContext(loaded: LoadedConfig, now: Date): Promise<CheckContext> {
  const root = loaded.repositoryPath;
  const repository = openRepository(loaded);
  const unreadableManifests: CheckContext['unreadableManifests'] = [];
  const unreadable = (what: string, path: string, error: unknown) =>
    new RestorableError(`the repository ${root} cannot be read: ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      code: 'REPOSITORY_UNREADABLE',
      where: { job: loaded.config.app, path },
      remedy: `check that \`repository\` in ${loaded.path} names the backup directory and that the user running \`restorable check\` may read it (usually root)`,
      cause: error,
    });

  let sets: CheckContext['sets'];
  try {
    sets = await repository.listSets((setId, error) => unreadableManifests.push({ setId, message: error.message }));
  } catch (error) {
    if (error instanceof RestorableError && (error.code === 'REPOSITORY_UNSAFE' || error.code === 'REPOSITORY_MISSING')) throw error;
    throw unreadable('listing', repository.absolute('manifests'), error);
  }
  let runs: CheckContext['runs'];
  try {
    runs = await readRuns(root);
  } catch (error) {
    throw unreadable('reading', runHistoryPath(root), error);
  }
  const path = lockPath(root);
  let present: boolean;
  try {
    present = await lockFilePresent(path);
  } catch (error) {
    throw unreadable('reading', path, error);
  }
  return {
    job: loaded.config.app,
    config: loaded.config,
    repositoryRoot: root,
    now,
    sets,
    unreadableManifests,
    runs,
    space: await measureSpace(root),
    lock: { path, present, holder: present ? await readLockHolder(path) : undefined },
  };
}

/** Who holds the lock and whether that process lives (undefined when the lock cannot be read). */
async function readLockHolder(path: string): Promise<CheckContext['lock']['holder']> {
  const holder = await readHolder(path);
  return holder && { pid: holder.pid, host: holder.host, command: holder.command, startedAt: holder.startedAt, alive: isHolderAlive(holder) };
}

/** Runs each check; one that throws is UNKNOWN with its reason and does not stop the others. */
export async function evaluateChecks(context: CheckContext, checks: readonly Check[]): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    try {
      results.push(...(await check(context)));
    } catch (error) {
      const name = check.name.replace(/Check$/, '') || 'check';
      results.push({
        name,
        state: 'UNKNOWN',
        summary: `the ${name} check could not be evaluated: ${(error as Error).message}`,
        remedy: error instanceof RestorableError && error.remedy ? error.remedy : 'rerun with RESTORABLE_DEBUG=1 and report it if the cause is not obvious',
        perfdata: [],
      });
    }
  }
  return results;
}

/** Free space where the repository is (it exists: a missing one fails the snapshot before this). */
async function measureSpace(root: string): Promise<FilesystemSpaceFact | { error: string }> {
  try {
    return { measuredAt: root, ...(await filesystemSpace(root)) };
  } catch (error) {
    return { error: `${(error as NodeJS.ErrnoException).code ?? (error as Error).message} on ${root}` };
  }
}

/** Whether a lock file exists (a present but unreadable lock is still a lock). */
async function lockFilePresent(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
