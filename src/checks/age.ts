// Owns the age check: per configured source, how old its newest usable backup
// is, graded against `monitor.warn_after` and `monitor.critical_after`. Age is
// counted from the set's start, the moment its data is from (what a restore
// would bring back). A set whose artifact for the source is missing on disk
// does not count for that source: the integrity check names the missing file,
// and the age shown is the age of the newest backup that could actually be
// restored.

import { dateOfSetId } from '../core/naming.ts';
import type { Manifest } from '../core/manifest.ts';
import type { StoredSet } from '../storage/set-reader.ts';
import { formatAge, type Check, type CheckResult } from './check.ts';

/** The moment a set's data is from: its recorded start, else the time its id names. */
export function setStartedAt(manifest: Manifest): Date {
  const started = new Date(manifest.startedAt);
  return Number.isNaN(started.getTime()) ? dateOfSetId(manifest.setId) : started;
}

/** For each source name, the newest complete set holding a present artifact of it (sets newest first). */
export function newestSetPerSource(sets: StoredSet[], sourceNames: string[]): Map<string, StoredSet | undefined> {
  const newest = new Map<string, StoredSet | undefined>();
  for (const name of sourceNames) {
    newest.set(
      name,
      sets.find(({ manifest, missing }) => manifest.artifacts.some((artifact) => artifact.source === name && !missing.includes(artifact.path))),
    );
  }
  return newest;
}

export const ageCheck: Check = async (context) => {
  const { warn_after: warnAfter, critical_after: criticalAfter } = context.config.monitor;
  const { warn_after_ms: warnMs, critical_after_ms: criticalMs } = context.config.monitor;
  const sourceNames = Object.keys(context.config.sources);
  const thresholds = `warning after ${warnAfter}, critical after ${criticalAfter}`;

  if (context.sets.length === 0) {
    return [
      {
        name: 'age',
        state: 'CRITICAL',
        summary: `no complete backup set in ${context.repositoryRoot}`,
        remedy: `run \`restorable backup\` now, then check why the scheduled backup does not run (cron, systemd timer, its log in ${context.repositoryRoot}/logs)`,
        perfdata: [],
      },
    ];
  }

  const results: CheckResult[] = [];
  for (const [source, stored] of newestSetPerSource(context.sets, sourceNames)) {
    const name = `age:${source}`;
    if (!stored) {
      const everBackedUp = context.sets.some(({ manifest }) => manifest.artifacts.some((artifact) => artifact.source === source));
      results.push({
        name,
        state: 'CRITICAL',
        summary: everBackedUp
          ? `every backup of source ${source} is missing from disk (the integrity check names the files)`
          : `no complete set holds a backup of source ${source}`,
        remedy: everBackedUp
          ? `run \`restorable backup\` now, then find out what deleted files in ${context.repositoryRoot}`
          : `run \`restorable backup --only ${source}\` and read its output; if the source was just added to the config, that first run is all it needs`,
        perfdata: [],
      });
      continue;
    }
    const ageMs = Math.max(0, context.now.getTime() - setStartedAt(stored.manifest).getTime());
    const state = ageMs > criticalMs ? 'CRITICAL' : ageMs > warnMs ? 'WARNING' : 'OK';
    results.push({
      name,
      state,
      summary: `newest ${source} backup is ${formatAge(ageMs)} old (set ${stored.manifest.setId}; ${thresholds})`,
      remedy:
        state === 'OK'
          ? undefined
          : `check the last run (\`restorable list\`, the run logs in ${context.repositoryRoot}/logs) and the schedule (cron/systemd); run \`restorable backup\` to get a fresh set now`,
      perfdata: [{ label: `${source}_age`, value: Math.round(ageMs / 1000), unit: 's', warn: String(warnMs / 1000), crit: String(criticalMs / 1000), min: 0 }],
    });
  }
  return results;
};
