// Owns what each scheduled job is when the daemon runs it: the same use case
// its CLI command calls (backup, check, drill and report with their
// notifications), given the daemon's clock, a reporter writing to the daemon's
// log and the AbortSignal that stop() aborts; and the one line the daemon logs
// about its outcome. Invariant: a job's failure is its outcome line, never an
// exception that could stop the daemon (unexpected throws are caught by the
// daemon, logged, and the schedule goes on).

import type { RunReporter } from '../core/ports.ts';
import { openRepository } from '../storage/open-repository.ts';
import { runBackupAndNotify } from './backup-and-notify.ts';
import { runCheckAndNotify } from './check-and-notify.ts';
import { runDrillAndNotify } from './drill-and-notify.ts';
import { gatherWeeklyReport } from './report.ts';
import { sendWeeklyReport } from './report-delivery.ts';
import { startDaemon as startScheduler, type Daemon, type DaemonJobRunner, type DaemonOptions } from '../schedule/daemon-scheduler.ts';

export type { Daemon, DaemonJobRunner };

/** `restorable daemon`: the scheduler of schedule/daemon-scheduler.ts running the real use cases (or `runJob`, in tests). */
export function startDaemon(options: Omit<DaemonOptions, 'runJob'> & { runJob?: DaemonJobRunner }): Daemon {
  return startScheduler({ ...options, runJob: options.runJob ?? runDaemonJob });
}

const notifyProblem = (reporter: RunReporter) => (message: string) => reporter.warn(`notification: ${message}`);

export const runDaemonJob: DaemonJobRunner = async (job, { loaded, clock, reporter, signal }) => {
  if (job === 'backup') {
    const outcome = await runBackupAndNotify({ loaded, clock, reporter, signal });
    const failure = outcome.error ? `: ${outcome.error.message}${outcome.error.remedy ? ` - next: ${outcome.error.remedy}` : ''}` : '';
    return `${outcome.status}${outcome.setId ? `, set ${outcome.setId}` : ''}${failure}`;
  }
  if (job === 'check') {
    const report = await runCheckAndNotify({ loaded, clock }, notifyProblem(reporter));
    return `${report.state} - ${report.summary}`;
  }
  if (job === 'drill') {
    const outcome = await runDrillAndNotify({ loaded, reader: openRepository(loaded), clock, reporter, signal }, notifyProblem(reporter));
    return `${outcome.status}, set ${outcome.setId}${outcome.error ? `: ${outcome.error.message}` : ''}`;
  }
  const now = clock.now();
  const deliveries = await sendWeeklyReport(loaded, await gatherWeeklyReport(loaded, now), now, clock);
  if (deliveries.length === 0) return 'no notification channel is configured to send the report to';
  return deliveries.map((delivery) => `${delivery.ok ? 'sent' : 'FAILED'} via ${delivery.channel}${delivery.error ? `: ${delivery.error}` : ''}`).join('; ');
};
