// Owns the monitor use-case behind `restorable check` (and the facts behind
// `metrics`): read the repository once — complete sets, run history, free
// space, the lock — at the injected clock's "now", run every check on that
// one snapshot, and combine: the worst state wins (OK < UNKNOWN < WARNING <
// CRITICAL, see src/checks/check.ts). When the repository cannot be read at
// all, nothing else can be graded and the whole result is UNKNOWN.

import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { RestorableError } from '../core/errors.ts';
import type { LoadedConfig } from '../config/load.ts';
import { LocalRepository } from '../storage/local-repository.ts';
import { lockPath, readHolder } from '../storage/job-lock.ts';
import { readRuns, runHistoryPath } from '../storage/run-history.ts';
import {
  compareBySeverity,
  formatAge,
  oneLine,
  STATE_EXIT_CODE,
  worstState,
  type Check,
  type CheckContext,
  type CheckResult,
  type CheckState,
  type FilesystemSpaceFact,
  type Perfdata,
} from '../checks/check.ts';
import { defaultChecks } from '../checks/registry.ts';
import { newestSetPerSource, setStartedAt } from '../checks/age.ts';
import { formatPercent } from '../checks/disk.ts';
import { lockFilePresent } from '../checks/lock.ts';
import { filesystemSpace } from './disk-space.ts';
import type { Clock } from './ports.ts';

export interface CheckRequest {
  loaded: LoadedConfig;
  clock: Clock;
  /** The checks to run; the registry's list by default. */
  checks?: readonly Check[];
}

export interface CheckReport {
  job: string;
  repository: string;
  state: CheckState;
  /** One line: the problems, worst first; or, when all is well, an overview of the newest set. */
  summary: string;
  checks: CheckResult[];
  /** Every check's perfdata, in check order. */
  perfdata: Perfdata[];
  exitCode: 0 | 1 | 2 | 3;
}

export async function runCheck(request: CheckRequest): Promise<CheckReport> {
  const { loaded } = request;
  let context: CheckContext;
  try {
    context = await gatherCheckContext(loaded, request.clock.now());
  } catch (error) {
    // A repository with a planted symlink is not "unknown": someone who should not has written into it.
    if (error instanceof RestorableError && error.code === 'REPOSITORY_UNSAFE') {
      return combine(loaded, undefined, [{ name: 'repository', state: 'CRITICAL', summary: error.message, remedy: error.remedy, perfdata: [] }]);
    }
    if (!(error instanceof RestorableError) || error.code !== 'REPOSITORY_UNREADABLE') throw error;
    return combine(loaded, undefined, [{ name: 'repository', state: 'UNKNOWN', summary: error.message, remedy: error.remedy, perfdata: [] }]);
  }
  return combine(loaded, context, await evaluateChecks(context, request.checks ?? defaultChecks));
}

/**
 * Reads everything the checks grade. Throws REPOSITORY_UNREADABLE when the
 * sets or the run history cannot be read (a repository path that is a file,
 * a directory without permission); a repository that does not exist yet is
 * simply empty.
 */
export async function gatherCheckContext(loaded: LoadedConfig, now: Date): Promise<CheckContext> {
  const root = loaded.repositoryPath;
  const repository = new LocalRepository(root);
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
    if (error instanceof RestorableError && error.code === 'REPOSITORY_UNSAFE') throw error;
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
    lock: { path, present, holder: present ? await readHolder(path) : undefined },
  };
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

/** Free space where the repository is, or will be: before the first run, its nearest existing parent. */
async function measureSpace(root: string): Promise<FilesystemSpaceFact | { error: string }> {
  let measuredAt = root;
  try {
    for (;;) {
      try {
        await stat(measuredAt);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(measuredAt) === measuredAt) throw error;
        measuredAt = dirname(measuredAt);
      }
    }
    return { measuredAt, ...(await filesystemSpace(measuredAt)) };
  } catch (error) {
    return { error: `${(error as NodeJS.ErrnoException).code ?? (error as Error).message} on ${measuredAt}` };
  }
}

function combine(loaded: LoadedConfig, context: CheckContext | undefined, checks: CheckResult[]): CheckReport {
  const state = worstState(checks.map((check) => check.state));
  const problems = checks.filter((check) => check.state !== 'OK').sort((a, b) => compareBySeverity(a.state, b.state));
  const summary = problems.length > 0 ? problems.map((problem) => oneLine(problem.summary)).join('; ') : overview(context, checks);
  return {
    job: loaded.config.app,
    repository: loaded.repositoryPath,
    state,
    summary,
    checks,
    perfdata: checks.flatMap((check) => check.perfdata),
    exitCode: STATE_EXIT_CODE[state],
  };
}

/** "newest set 2026-11-26_03-00-00 is 1h 2m old, 3 sources, 41% free" — what a green line should still tell. */
function overview(context: CheckContext | undefined, checks: CheckResult[]): string {
  const newest = context?.sets[0];
  if (!context || !newest) return `${checks.length} check(s) OK`;
  const parts = [`newest set ${newest.manifest.setId} is ${formatAge(context.now.getTime() - setStartedAt(newest.manifest).getTime())} old`];
  const perSource = newestSetPerSource(context.sets, Object.keys(context.config.sources));
  // A run with --only leaves the newest set without some sources: name the oldest backup still relied on.
  let oldest: { source: string; ageMs: number } | undefined;
  for (const [source, stored] of perSource) {
    if (!stored || stored === newest) continue;
    const ageMs = context.now.getTime() - setStartedAt(stored.manifest).getTime();
    if (!oldest || ageMs > oldest.ageMs) oldest = { source, ageMs };
  }
  if (oldest) parts.push(`oldest source backup ${oldest.source} ${formatAge(oldest.ageMs)} old`);
  parts.push(`${perSource.size} source${perSource.size === 1 ? '' : 's'}`);
  if (!('error' in context.space) && context.space.totalBytes > 0) {
    parts.push(`${formatPercent((context.space.freeBytes / context.space.totalBytes) * 100)} free`);
  }
  return parts.join(', ');
}
