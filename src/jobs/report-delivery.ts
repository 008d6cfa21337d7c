// Owns sending the weekly report: on demand (`restorable report --send`) and
// when it is due after a backup (the seed mailed it on Sundays after the
// successful backup: on `notify.report_day`, a local day in
// `retention.timezone`, after the first successful run of that day).
// Invariants: a due report is sent at most once per day, and counts as sent
// only when a channel took it; sending never changes the backup's outcome.

import { RestorableError } from '../core/errors.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { Delivery } from '../notify/delivery-records.ts';
import type { Notifier } from '../notify/notifier.ts';
import { readNotifyState, writeNotifyState } from '../notify/state.ts';
import { notifierForJob } from './job-notifier.ts';
import type { Clock, RunReporter } from '../core/ports.ts';
import { gatherWeeklyReport, localDay, weeklyReportEvent, type WeeklyReportData } from './report.ts';

/**
 * Sends `data` (gathered at `gatheredAt`) now through every channel that takes
 * the report. Throws USAGE when no channel is configured or none takes the
 * `report` event.
 */
export async function sendWeeklyReport(loaded: LoadedConfig, data: WeeklyReportData, gatheredAt: Date, clock: Clock): Promise<Delivery[]> {
  const notifier = notifierForJob(loaded, clock, () => {});
  if (notifier.channels.length === 0) {
    throw new RestorableError('no notification channel is configured to send the report to', {
      code: 'USAGE',
      remedy: 'configure notify.email (or a webhook with events: [report]) in the config',
    });
  }
  const deliveries = await notifier.send(weeklyReportEvent(data, gatheredAt));
  if (deliveries.length === 0) {
    throw new RestorableError('no configured channel takes the report event', { code: 'USAGE', remedy: 'add `report` to the events of a channel' });
  }
  return deliveries;
}

/** After a successful backup: sends the report when today is the report day and it was not sent today. */
export async function sendWeeklyReportIfDue(loaded: LoadedConfig, notifier: Notifier, now: Date, reporter: RunReporter): Promise<void> {
  if (notifier.channels.length === 0) return;
  const { day, weekday } = localDay(now, loaded.config.retention.timezone);
  if (weekday !== loaded.config.notify.report_day) return;
  const memory = await readNotifyState(loaded.repositoryPath);
  if (memory.reportSentOn === day) return;
  const deliveries = await notifier.send(weeklyReportEvent(await gatherWeeklyReport(loaded, now), now));
  if (deliveries.some((delivery) => delivery.ok)) {
    await writeNotifyState(loaded.repositoryPath, { ...(await readNotifyState(loaded.repositoryPath)), reportSentOn: day });
    reporter.step(`weekly report sent (${loaded.config.notify.report_day})`);
  }
}
