// Owns the drill check: once restore drills are in use (configured smoke
// queries, or any drill in the run history), the newest drill must have
// passed and be younger than `monitor.drill_max_age` (default 8d: a weekly
// drill with a day of slack). A backup nobody has proven restorable lately is
// a risk the monitor should name; before the first drill, it says how to start.
// An aborted drill (interrupted by Ctrl-C or SIGTERM) proves nothing either
// way, so it is skipped: the newest completed drill counts.

import { formatAge, type Check } from './check.ts';

export const drillCheck: Check = async (context) => {
  const drills = context.runs.filter((run) => run.command === 'drill' && run.status !== 'aborted');
  const last = drills[drills.length - 1];
  const configured = context.config.drill.queries.length > 0;
  if (!last) {
    if (!configured) return [];
    return [{ name: 'drill', state: 'WARNING', summary: 'drills are configured but none has run yet', remedy: 'run `restorable drill` (and schedule it weekly)', perfdata: [] }];
  }
  const maxAgeMs = context.config.monitor.drill_max_age_ms;
  const ageMs = context.now.getTime() - new Date(last.finishedAt).getTime();
  const perfdata = [{ label: 'drill_age', value: Math.round(ageMs / 1000), unit: 's' as const, warn: String(Math.round(maxAgeMs / 1000)), min: 0 }];
  const restoreSeconds = last.details?.restoreSeconds ?? {};
  const total = Object.values(restoreSeconds).reduce((sum, seconds) => sum + seconds, 0);
  if (last.status === 'failed') {
    return [
      {
        name: 'drill',
        state: 'CRITICAL',
        summary: `the last restore drill (set ${last.setId ?? '?'}, ${formatAge(ageMs)} ago) failed: ${last.error ? last.error.message : whatFailed(last.details?.results)}`,
        remedy: 'read `restorable drill --json` output or the run history, fix the cause, then run `restorable drill` again',
        perfdata,
      },
    ];
  }
  if (ageMs > maxAgeMs) {
    return [
      {
        name: 'drill',
        state: 'WARNING',
        summary: `the last restore drill passed but is ${formatAge(ageMs)} old (monitor.drill_max_age ${context.config.monitor.drill_max_age})`,
        remedy: 'run `restorable drill` (and schedule it weekly)',
        perfdata,
      },
    ];
  }
  return [
    {
      name: 'drill',
      state: 'OK',
      summary: `set ${last.setId ?? '?'} proven restorable ${formatAge(ageMs)} ago (restore ${total.toFixed(1)} s)`,
      perfdata: [...perfdata, { label: 'restore_time', value: Math.round(total * 10) / 10, unit: 's' as const, min: 0 }],
    },
  ];
};

const LONGEST_DIFFERENCE = 200;

/** The first failed source of a recorded drill, as the drill's summary line says it. */
function whatFailed(results: unknown): string {
  const failed = (Array.isArray(results) ? results : []).find((result) => result && typeof result === 'object' && result.ok === false) as
    | { source?: string; restoreFailure?: { summary?: string; stage?: string }; differences?: unknown[] }
    | undefined;
  if (!failed) return 'the restored data differed from the backup';
  if (failed.restoreFailure?.summary) return `${failed.source} could not be ${failed.restoreFailure.stage === 'compare' ? 'compared' : 'restored'}: ${failed.restoreFailure.summary}`;
  const first = String(failed.differences?.[0] ?? 'differences');
  return `${failed.source} did not restore as recorded: ${first.length > LONGEST_DIFFERENCE ? `${first.slice(0, LONGEST_DIFFERENCE)}...` : first}`;
}
