// Owns which events a finished backup run raises: `backup_failed` at once when
// it failed (with how long it has been failing), `backup_recovered` for the first
// success after one or more failures, and `backup_succeeded` for every success
// (the healthchecks success ping; channels that ask for it). Also the
// `backup_started` event for the /start ping. It maps a job's outcome to the
// event types of notify/, so it lives in jobs/: notify/ only types and delivers.
// Pure: the history is passed in.

import { totalSizeBytes } from '../core/manifest.ts';
import type { RestorableError } from '../core/errors.ts';
import type { BackupOutcome } from './backup.ts';
import type { RunRecord } from '../storage/state-store.ts';
import type { BackupHasFailed, BackupHasRecovered, BackupHasStarted, BackupHasSucceeded, ErrorFacts, NotifyEvent } from '../notify/events.ts';

export function backupStartedEvent(job: string, host: string, at: Date): BackupHasStarted {
  return { kind: 'backup_started', job, host, at: at.toISOString() };
}

/**
 * The events to send after a backup run.
 *
 * `previousRuns` is the run history as read BEFORE this run (readRuns, oldest
 * first). A history read afterwards also works for a successful run (its own
 * record is recognised by runId and skipped) but would count a failed run twice.
 * `finishedAt` is when the run ended (the clock's now after runBackup returned).
 */
export function eventsForBackupOutcome(
  outcome: BackupOutcome,
  previousRuns: RunRecord[],
  job: string,
  host: string,
  finishedAt: Date,
): NotifyEvent[] {
  const ownRunId = outcome.manifest?.runId;
  const earlierBackups = previousRuns.filter((run) => run.command === 'backup' && (ownRunId === undefined || run.runId !== ownRunId));
  const streak = failureStreak(earlierBackups);
  const at = finishedAt.toISOString();

  if (outcome.status === 'failed' || outcome.setId === undefined) {
    const failed: BackupHasFailed = {
      kind: 'backup_failed',
      job,
      host,
      at,
      error: errorFacts(outcome.error, job),
      consecutiveFailures: streak.length + 1,
      failingSince: streak[0]?.startedAt ?? new Date(finishedAt.getTime() - outcome.durationMs).toISOString(),
      ...(outcome.runLogPath !== undefined ? { runLogPath: outcome.runLogPath } : {}),
    };
    return [failed];
  }

  const setId = outcome.setId;
  const events: NotifyEvent[] = [];
  const firstFailure = streak[0];
  if (firstFailure !== undefined) {
    const recovered: BackupHasRecovered = {
      kind: 'backup_recovered',
      job,
      host,
      at,
      setId,
      failingSince: firstFailure.startedAt,
      failedForMs: Math.max(0, finishedAt.getTime() - new Date(firstFailure.startedAt).getTime()),
      failedRuns: streak.length,
    };
    events.push(recovered);
  }
  const artifacts = outcome.manifest?.artifacts ?? [];
  const succeeded: BackupHasSucceeded = {
    kind: 'backup_succeeded',
    job,
    host,
    at,
    setId,
    status: outcome.status,
    durationMs: outcome.durationMs,
    totalSizeBytes: outcome.manifest ? totalSizeBytes(outcome.manifest) : 0,
    sources: artifacts.map((artifact) => ({ source: artifact.source, sizeBytes: artifact.sizeBytes, rawSizeBytes: artifact.rawSizeBytes })),
    warnings: outcome.warnings.map((warning) => `${warning.source}: ${warning.message}`),
  };
  events.push(succeeded);
  return events;
}

/** The failed backup runs at the end of the history (oldest first); empty when the last one succeeded. */
function failureStreak(backups: RunRecord[]): RunRecord[] {
  let start = backups.length;
  while (start > 0 && backups[start - 1]!.status === 'failed') start--;
  return backups.slice(start);
}

function errorFacts(error: RestorableError | undefined, job: string): ErrorFacts {
  if (error === undefined) {
    return { message: 'the backup failed without an error description', code: 'BACKUP_FAILED', where: { job }, details: [] };
  }
  return {
    message: error.message,
    code: error.code,
    ...(error.remedy !== undefined ? { remedy: error.remedy } : {}),
    where: { job, ...error.where },
    details: [...error.details],
  };
}
