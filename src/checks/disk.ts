// Owns the disk check: free space on the repository's filesystem against
// `monitor.min_free`. WARNING below min_free, CRITICAL below half of it — for a
// percentage ("10%": warning below 10 %, critical below 5 %) and for an
// absolute size alike ("5GB": warning below 5 GB, critical below 2.5 GB). The
// same min_free is the reserve the backup's pre-flight keeps free, so WARNING
// here means "the next run may be refused", CRITICAL "it almost certainly will
// be".

import { parseFreeSpace } from '../core/free-space.ts';
import { formatBytes } from '../core/units.ts';
import type { Check, CheckResult, CheckState, FilesystemSpaceFact, Perfdata } from './check.ts';

export interface FreeSpaceGrade {
  state: CheckState;
  freePercent: number;
  warnBelowBytes: number;
  criticalBelowBytes: number;
  /** "below 10%" / "below 5 GB" for messages. */
  warnBelow: string;
  criticalBelow: string;
  perfdata: Perfdata[];
}

/** Grades free space against `min_free` ("10%" or "5GB"); CRITICAL at half of it. */
export function gradeFreeSpace(space: Pick<FilesystemSpaceFact, 'freeBytes' | 'totalBytes'>, minFree: string): FreeSpaceGrade {
  const threshold = parseFreeSpace(minFree);
  const freePercent = space.totalBytes > 0 ? (space.freeBytes / space.totalBytes) * 100 : 0;
  const warnBelowBytes = 'percent' in threshold ? Math.ceil((space.totalBytes * threshold.percent) / 100) : threshold.bytes;
  const criticalBelowBytes = Math.ceil(warnBelowBytes / 2);
  const state: CheckState = space.freeBytes < criticalBelowBytes ? 'CRITICAL' : space.freeBytes < warnBelowBytes ? 'WARNING' : 'OK';
  const perfdata: Perfdata[] = [
    { label: 'free', value: space.freeBytes, unit: 'B', warn: `${warnBelowBytes}:`, crit: `${criticalBelowBytes}:`, min: 0, max: space.totalBytes },
    {
      label: 'free_pct',
      value: Math.round(freePercent * 100) / 100,
      unit: '%',
      ...('percent' in threshold ? { warn: `${threshold.percent}:`, crit: `${threshold.percent / 2}:` } : {}),
      min: 0,
      max: 100,
    },
  ];
  return {
    state,
    freePercent,
    warnBelowBytes,
    criticalBelowBytes,
    warnBelow: 'percent' in threshold ? `${threshold.percent}%` : formatBytes(threshold.bytes),
    criticalBelow: 'percent' in threshold ? `${threshold.percent / 2}%` : formatBytes(criticalBelowBytes),
    perfdata,
  };
}

export const diskCheck: Check = async (context) => {
  const { space } = context;
  if ('error' in space) {
    return [
      {
        name: 'disk',
        state: 'UNKNOWN',
        summary: `free space of ${context.repositoryRoot} cannot be measured: ${space.error}`,
        remedy: `check that ${context.repositoryRoot} (or its parent) exists and is readable by the user running \`restorable check\``,
        perfdata: [],
      },
    ];
  }
  const minFree = context.config.monitor.min_free;
  const grade = gradeFreeSpace(space, minFree);
  const result: CheckResult = {
    name: 'disk',
    state: grade.state,
    summary:
      `${formatPercent(grade.freePercent)} free (${formatBytes(space.freeBytes)} of ${formatBytes(space.totalBytes)}) on ${space.measuredAt} ` +
      `(warning below ${grade.warnBelow}, critical below ${grade.criticalBelow})`,
    perfdata: grade.perfdata,
  };
  if (grade.state !== 'OK') {
    result.remedy =
      `free at least ${formatBytes(grade.warnBelowBytes - space.freeBytes)} on that filesystem (df -h ${space.measuredAt}), ` +
      'lower retention and run `restorable prune`, or set retention.make_space: true';
  }
  return [result];
};

/** Rounded down, so a value just under a threshold never reads as the threshold itself; one decimal under 10 %. */
export function formatPercent(percent: number): string {
  return percent < 10 ? `${Math.floor(percent * 10) / 10}%` : `${Math.floor(percent)}%`;
}
