// Owns the doctor's questions about room: free space where the repository is
// (against `monitor.min_free`, as `check` grades it) and the growth trend,
// "days until full at the current rate".
//
// The rate comes from the stored sets (their manifests), not from a guess:
// with retention keeping about N sets, the repository holds N copies of the
// app, so it grows by N times the growth of one set. Per source, the growth of
// one artifact per day is the change between its oldest and newest artifact in
// the last TREND_WINDOW_DAYS (a set made with `--only` has only some sources,
// which is why it is per source). Fewer than two sets a day apart: no trend yet
// (skipped, with that reason).

import { formatBytes } from '../core/units.ts';
import { totalSizeBytes, type Manifest } from '../core/manifest.ts';
import { setStartedAt } from './age.ts';
import { openRepository } from '../storage/open-repository.ts';
import { filesystemSpace, reserveBytes } from '../storage/filesystem-space.ts';
import { findingFromError, type DoctorContext, type Finding } from './doctor-finding.ts';

const TREND_WINDOW_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Fewer days than these until the reserve is reached: critical, then warning. */
const CRITICAL_DAYS = 7;
const WARNING_DAYS = 30;

export async function spaceFindings(context: DoctorContext): Promise<Finding[]> {
  const { loaded } = context;
  const root = loaded.repositoryPath;
  let space;
  try {
    space = await filesystemSpace(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return [{ name: 'free space', status: 'skipped', found: `not measured: the repository ${root} is not there` }];
    }
    return [findingFromError('free space', error)];
  }
  const reserve = reserveBytes(loaded.config.monitor.min_free, space.totalBytes);
  const usable = space.freeBytes - reserve;
  const free: Finding =
    usable >= 0
      ? { name: 'free space', status: 'ok', found: `${formatBytes(space.freeBytes)} free of ${formatBytes(space.totalBytes)} (monitor.min_free ${loaded.config.monitor.min_free} keeps ${formatBytes(reserve)})` }
      : {
          name: 'free space',
          status: 'critical',
          found: `only ${formatBytes(space.freeBytes)} free of ${formatBytes(space.totalBytes)}, below monitor.min_free ${loaded.config.monitor.min_free} (${formatBytes(reserve)})`,
          remedy: 'remove old sets (restorable prune, or a shorter retention), or move the repository to a larger disk',
        };
  let manifests: Manifest[];
  try {
    manifests = (await openRepository(loaded).listSets()).map((set) => set.manifest);
  } catch (error) {
    return [free, findingFromError('growth trend', error, 'warning')];
  }
  return [free, trendFinding(manifests, context.now, Math.max(0, usable))];
}

/** Days until the reserve is reached at the current rate of growth; pure, for tests. */
export function trendFinding(manifests: readonly Manifest[], now: Date, usableBytes: number): Finding {
  const name = 'growth trend';
  const since = now.getTime() - TREND_WINDOW_DAYS * DAY_MS;
  const recent = manifests.filter((manifest) => setStartedAt(manifest).getTime() >= since);
  const oldestMs = Math.min(...recent.map((manifest) => setStartedAt(manifest).getTime()));
  const spanDays = (now.getTime() - oldestMs) / DAY_MS;
  if (recent.length < 2 || !(spanDays >= 1)) {
    return { name, status: 'skipped', found: `not estimated: ${recent.length} set(s) in the last ${TREND_WINDOW_DAYS} days, at least two a day apart are needed` };
  }
  const stored = manifests.reduce((sum, manifest) => sum + totalSizeBytes(manifest), 0);
  const perSetGrowthPerDay = [...artifactTimelines(recent).values()].reduce((sum, timeline) => sum + growthPerDay(timeline), 0);
  const perDay = perSetGrowthPerDay * manifests.length;
  const basis = `${manifests.length} set(s) stored (${formatBytes(stored)}), one set grows ${formatBytes(Math.abs(perSetGrowthPerDay))}/day${perSetGrowthPerDay < 0 ? ' smaller' : ''} over the last ${Math.round(spanDays)} day(s)`;
  if (perDay <= 0) return { name, status: 'ok', found: `not growing: ${basis}` };
  const days = usableBytes / perDay;
  const found = `full in about ${Math.floor(days)} day(s) at the current rate (${formatBytes(perDay)}/day): ${basis}`;
  if (days >= WARNING_DAYS) return { name, status: 'ok', found };
  return {
    name,
    status: days < CRITICAL_DAYS ? 'critical' : 'warning',
    found,
    remedy: 'keep fewer sets (retention), move the repository to a larger disk, or exclude what need not be backed up (files.exclude)',
  };
}

/** Per source: (time, size) of each artifact, oldest first. */
function artifactTimelines(manifests: readonly Manifest[]): Map<string, Array<{ atMs: number; bytes: number }>> {
  const timelines = new Map<string, Array<{ atMs: number; bytes: number }>>();
  for (const manifest of manifests) {
    const atMs = setStartedAt(manifest).getTime();
    for (const artifact of manifest.artifacts) {
      const timeline = timelines.get(artifact.source) ?? [];
      timeline.push({ atMs, bytes: artifact.sizeBytes + (artifact.index?.sizeBytes ?? 0) });
      timelines.set(artifact.source, timeline);
    }
  }
  for (const timeline of timelines.values()) timeline.sort((a, b) => a.atMs - b.atMs);
  return timelines;
}

function growthPerDay(timeline: ReadonlyArray<{ atMs: number; bytes: number }>): number {
  const first = timeline[0]!;
  const last = timeline[timeline.length - 1]!;
  const days = (last.atMs - first.atMs) / DAY_MS;
  return days >= 1 ? (last.bytes - first.bytes) / days : 0;
}
