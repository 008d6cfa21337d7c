// Owns `restorable report [--send]`: prints the weekly report (text, or data
// with --json); --send mails/posts it through the configured channels now.

import type { Command } from 'commander';
import { ExitCode, RestorableError } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { gatherWeeklyReport, weeklyReportEvent, weeklyReportText } from '../jobs/report.ts';
import { systemClock } from '../jobs/ports.ts';
import { notifierForJob } from '../jobs/job-notifier.ts';
import { line, printJson, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';

export function registerReportCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('report')
    .description('the weekly report: sets, sizes and trend, durations, success rate, last drill, disk, offsite')
    .option('--send', 'send it through the configured notification channels now')
    .action(
      run(async (options) => {
        const loaded = loadConfig(locateConfig(options.config), options.configSafety);
        const now = systemClock.now();
        const data = await gatherWeeklyReport(loaded, now);
        if (output.json) printJson(output, data);
        else output.out.write(weeklyReportText(data));
        if (!options.send) return ExitCode.OK;
        const notifier = notifierForJob(loaded, systemClock, () => {});
        if (notifier.channels.length === 0) {
          throw new RestorableError('no notification channel is configured to send the report to', {
            code: 'USAGE',
            remedy: 'configure notify.email (or a webhook with events: [report]) in the config',
          });
        }
        const deliveries = await notifier.send(weeklyReportEvent(data, now));
        const failed = deliveries.filter((delivery) => !delivery.ok);
        if (!output.json) for (const delivery of deliveries) line(output, `${delivery.ok ? 'sent' : 'FAILED'} via ${delivery.channel}${delivery.error ? `: ${delivery.error}` : ''}`);
        if (deliveries.length === 0) {
          throw new RestorableError('no configured channel takes the report event', { code: 'USAGE', remedy: 'add `report` to the events of a channel' });
        }
        return failed.length === deliveries.length ? ExitCode.CRITICAL : failed.length > 0 ? ExitCode.WARNING : ExitCode.OK;
      }),
    );
}
