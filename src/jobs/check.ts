// Owns the monitor use-case behind `restorable check` (and the facts behind
// `metrics`): read the repository once — complete sets, run history, free
// space, the lock — at the injected clock's "now", run every check on that
// one snapshot, and combine: the worst state wins (OK < UNKNOWN < WARNING <
// CRITICAL, see src/checks/check.ts). When the repository cannot be read at
// all, nothing else can be graded and the whole result is UNKNOWN.

import { RestorableError } from '../core/errors.ts';
import type { LoadedConfig } from '../config/load.ts';
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
  type Perfdata,
} from '../checks/check.ts';
import { defaultChecks } from '../checks/registry.ts';
import { newestSetPerSource, setStartedAt } from '../checks/age.ts';
import { formatPercent } from '../checks/disk.ts';
import { evaluateChecks, gatherCheckContext } from '../checks/check-snapshot.ts';
import type { Clock } from '../core/ports.ts';

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
    // Not "unknown": a planted symlink means someone wrote into it; a missing repository means no backups are there.
    if (error instanceof RestorableError && (error.code === 'REPOSITORY_UNSAFE' || error.code === 'REPOSITORY_MISSING')) {
      return combine(loaded, undefined, [{ name: 'repository', state: 'CRITICAL', summary: error.message, remedy: error.remedy, perfdata: [] }]);
    }
    if (!(error instanceof RestorableError) || error.code !== 'REPOSITORY_UNREADABLE') throw error;
    return combine(loaded, undefined, [{ name: 'repository', state: 'UNKNOWN', summary: error.message, remedy: error.remedy, perfdata: [] }]);
  }
  return combine(loaded, context, await evaluateChecks(context, request.checks ?? defaultChecks));
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
