// Owns the weekly report (the seed's Sunday mail): per source the sets of the
// last 7 days, sizes and their trend, durations, success rate, the last drill
// and its restore time, disk free, and offsite state — as data, plain text and
// HTML, and the local day and weekday it is due on (report-delivery.ts sends
// it). Invariant: it only reads (the sets and the run history).

import { hostname } from 'node:os';
import type { LoadedConfig } from '../config/load.ts';
import { openRepository } from '../storage/open-repository.ts';
import { readRuns, type RunRecord } from '../storage/state-store.ts';
import { filesystemSpace } from './disk-space.ts';
import { formatBytes, formatSeconds } from '../core/units.ts';
import { totalSizeBytes } from '../core/manifest.ts';
import type { WeeklyReport } from '../notify/events.ts';
import { describeDegradation } from '../core/set-degradation.ts';

const WEEK_MS = 7 * 86_400_000;

export interface SourceWeek {
  source: string;
  sets: number;
  newestSizeBytes: number | undefined;
  /** Size of the newest set of the week vs. the oldest one of the week, in percent. */
  sizeTrendPercent: number | undefined;
  averageDurationMs: number | undefined;
}

export interface WeeklyReportData {
  job: string;
  host: string;
  periodStart: string;
  periodEnd: string;
  runs: { total: number; ok: number; warning: number; failed: number; successRatePercent: number | undefined };
  /** Sets of the week that are complete but not faithful copies (files changed while read, unreadable). */
  degradedSets: Array<{ setId: string; summary: string }>;
  failures: Array<{ at: string; message: string }>;
  sources: SourceWeek[];
  completeSets: number;
  repositorySizeBytes: number;
  lastDrill: { at: string; status: string; setId?: string; restoreSeconds?: Record<string, number> } | undefined;
  disk: { freeBytes: number; totalBytes: number } | undefined;
  offsite: string;
}

export async function gatherWeeklyReport(loaded: LoadedConfig, now: Date): Promise<WeeklyReportData> {
  const repository = openRepository(loaded);
  const since = new Date(now.getTime() - WEEK_MS);
  const inWeek = (iso: string) => new Date(iso) >= since && new Date(iso) <= now;
  const runs = await readRuns(repository.root);
  const backups = runs.filter((run) => run.command === 'backup' && inWeek(run.startedAt));
  const sets = await repository.listSets();
  const weekSets = sets.filter((set) => inWeek(set.manifest.startedAt)).reverse(); // oldest first

  const sources: SourceWeek[] = Object.keys(loaded.config.sources).map((source) => {
    const artifacts = weekSets.flatMap((set) => set.manifest.artifacts.filter((artifact) => artifact.source === source));
    const first = artifacts[0];
    const last = artifacts[artifacts.length - 1];
    return {
      source,
      sets: artifacts.length,
      newestSizeBytes: last?.sizeBytes,
      sizeTrendPercent: first && last && first.sizeBytes > 0 ? ((last.sizeBytes - first.sizeBytes) / first.sizeBytes) * 100 : undefined,
      averageDurationMs: artifacts.length ? artifacts.reduce((sum, artifact) => sum + artifact.durationMs, 0) / artifacts.length : undefined,
    };
  });
  const count = (status: RunRecord['status']) => backups.filter((run) => run.status === status).length;
  // An aborted (interrupted) drill proves nothing: the last completed one is reported.
  const drills = runs.filter((run) => run.command === 'drill' && run.status !== 'aborted');
  const lastDrill = drills[drills.length - 1];
  let disk: WeeklyReportData['disk'];
  try {
    disk = await filesystemSpace(repository.root);
  } catch {
    disk = undefined;
  }
  return {
    job: loaded.config.app,
    host: hostname(),
    periodStart: since.toISOString(),
    periodEnd: now.toISOString(),
    runs: {
      total: backups.length,
      ok: count('ok'),
      warning: count('warning'),
      failed: count('failed'),
      successRatePercent: backups.length ? ((count('ok') + count('warning')) / backups.length) * 100 : undefined,
    },
    failures: backups.filter((run) => run.status === 'failed').map((run) => ({ at: run.startedAt, message: run.error?.message ?? 'unknown error' })),
    degradedSets: weekSets.flatMap((set) => {
      const degradation = set.manifest.status === 'warning' ? describeDegradation(set.manifest) : undefined;
      return degradation ? [{ setId: set.manifest.setId, summary: degradation.summary }] : [];
    }),
    sources,
    completeSets: sets.length,
    repositorySizeBytes: sets.reduce((sum, set) => sum + totalSizeBytes(set.manifest), 0),
    lastDrill: lastDrill
      ? {
          at: lastDrill.startedAt,
          status: lastDrill.status,
          setId: lastDrill.setId,
          restoreSeconds: lastDrill.details?.restoreSeconds,
        }
      : undefined,
    disk,
    offsite: 'no offsite destination configured',
  };
}

/** The report as plain-text lines (the mail's text part and `restorable report`). */
export function weeklyReportText(data: WeeklyReportData): string {
  const lines = [
    `Weekly backup report for ${data.job} on ${data.host}`,
    `Period: ${data.periodStart.slice(0, 10)} to ${data.periodEnd.slice(0, 10)}`,
    '',
    `Backup runs: ${data.runs.total} (${data.runs.ok} ok, ${data.runs.warning} warning, ${data.runs.failed} failed)` +
      (data.runs.successRatePercent === undefined ? '' : `, success rate ${data.runs.successRatePercent.toFixed(0)} %`),
    ...data.failures.map((failure) => `  failed ${failure.at}: ${failure.message}`),
    ...data.degradedSets.map((set) => `  degraded set ${set.setId}: ${set.summary}`),
    '',
    'Per source (sets this week, newest size, trend over the week, average duration):',
    ...data.sources.map(
      (source) =>
        `  ${source.source.padEnd(10)} ${String(source.sets).padStart(3)} set(s)  ${source.newestSizeBytes === undefined ? '-' : formatBytes(source.newestSizeBytes)}` +
        `  ${source.sizeTrendPercent === undefined ? '' : `${source.sizeTrendPercent >= 0 ? '+' : ''}${source.sizeTrendPercent.toFixed(1)} %`}` +
        `  ${source.averageDurationMs === undefined ? '' : formatSeconds(source.averageDurationMs)}`,
    ),
    '',
    `Complete sets in the repository: ${data.completeSets} (${formatBytes(data.repositorySizeBytes)})`,
    data.disk
      ? `Disk: ${formatBytes(data.disk.freeBytes)} free of ${formatBytes(data.disk.totalBytes)} (${((data.disk.freeBytes / data.disk.totalBytes) * 100).toFixed(0)} %)`
      : 'Disk: could not be measured',
    data.lastDrill
      ? `Last restore drill: ${data.lastDrill.status} at ${data.lastDrill.at}${data.lastDrill.setId ? ` (set ${data.lastDrill.setId})` : ''}` +
        restoreTimeText(data.lastDrill.restoreSeconds)
      : 'Last restore drill: none recorded (configure drills to prove the sets restorable)',
    `Offsite: ${data.offsite}`,
  ];
  return lines.join('\n') + '\n';
}

/**
 * `, restore time db 4.2 s, files 1.0 s`, or nothing: a drill that failed
 * before any restore finished records no (or an empty) restoreSeconds, and a
 * "restore time" with nothing after it reads like a bug.
 */
function restoreTimeText(restoreSeconds: Record<string, number> | undefined): string {
  const timed = Object.entries(restoreSeconds ?? {}).filter(([, seconds]) => typeof seconds === 'number' && Number.isFinite(seconds));
  return timed.length > 0 ? `, restore time ${timed.map(([source, seconds]) => `${source} ${seconds.toFixed(1)} s`).join(', ')}` : '';
}

export function weeklyReportEvent(data: WeeklyReportData, now: Date): WeeklyReport {
  const text = weeklyReportText(data);
  const healthy = data.runs.failed === 0 && data.runs.total > 0;
  return {
    kind: 'report',
    job: data.job,
    host: data.host,
    at: now.toISOString(),
    subject: `[restorable] ${healthy ? 'OK' : 'WARNING'}: weekly backup report for ${data.job} (${data.runs.total} runs, ${data.runs.failed} failed)`,
    text,
    html: `<!doctype html><html><body><pre style="font-family: ui-monospace, monospace">${escapeHtml(text)}</pre></body></html>`,
  };
}

/** The local calendar day and weekday of `now` in `timeZone`. */
export function localDay(now: Date, timeZone: string): { day: string; weekday: string } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'long' })
      .formatToParts(now)
      .map((part) => [part.type, part.value]),
  );
  return { day: `${parts.year}-${parts.month}-${parts.day}`, weekday: String(parts.weekday).toLowerCase() };
}

function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
