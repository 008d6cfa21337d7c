// Owns what surrounds a backup run for the people and systems watching it:
// the dead-man's-switch start ping, the run itself, then the events it
// warrants (failed at once, recovered after failures, succeeded for pings),
// the weekly report when due, and the Prometheus textfile. Shared by the CLI
// and, later, the daemon. Invariant: notifications never change the run's
// outcome or exit code.

import { hostname } from 'node:os';
import type { LoadedConfig } from '../config/load.ts';
import { readRuns } from '../storage/state-store.ts';
import { backupStartedEvent, eventsForBackupOutcome } from './backup-events.ts';
import { runBackup, type BackupOutcome } from './backup.ts';
import { buildMetrics } from './metrics.ts';
import { writePrometheusTextfile } from '../notify/prometheus-text.ts';
import type { Clock, RunReporter } from '../core/ports.ts';
import { notifierForJob } from './job-notifier.ts';
import { sendWeeklyReportIfDue } from './report-delivery.ts';

export interface BackupAndNotifyRequest {
  loaded: LoadedConfig;
  only?: string[];
  keep?: string;
  clock: Clock;
  reporter: RunReporter;
  signal?: AbortSignal;
}

export async function runBackupAndNotify(request: BackupAndNotifyRequest): Promise<BackupOutcome> {
  const { loaded, clock, reporter } = request;
  const host = hostname();
  const notifier = notifierForJob(loaded, clock, (message) => reporter.warn(`notification: ${message}`));
  // Read before the run: the run appends its own record.
  const previousRuns = await readRuns(loaded.repositoryPath).catch(() => []);
  // The start ping runs alongside the backup: an unreachable monitor must not delay it.
  const started = notifier.send(backupStartedEvent(loaded.config.app, host, clock.now()));
  const outcome = await runBackup(request);
  await started;
  for (const event of eventsForBackupOutcome(outcome, previousRuns, loaded.config.app, host, clock.now())) {
    const deliveries = await notifier.send(event);
    for (const delivery of deliveries) {
      if (delivery.ok) reporter.step(`notified ${delivery.channel}: ${event.kind}`);
    }
  }
  if (outcome.status !== 'failed') await sendWeeklyReportIfDue(loaded, notifier, clock.now(), reporter);
  const textfile = loaded.config.monitor.prometheus_textfile;
  if (textfile) {
    try {
      await writePrometheusTextfile(textfile, await buildMetrics({ loaded, clock }));
    } catch (error) {
      reporter.warn(`could not write the Prometheus textfile ${textfile}: ${(error as Error).message}`);
    }
  }
  return outcome;
}
