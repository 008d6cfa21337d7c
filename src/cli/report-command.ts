// Owns `restorable report [--send]`: prints the weekly report (text, or data
// with --json); --send mails/posts it through the configured channels now.

import type { Command } from 'commander';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { gatherWeeklyReport, weeklyReportText } from '../jobs/report.ts';
import { sendWeeklyReport } from '../jobs/report-delivery.ts';
import { systemClock } from '../core/ports.ts';
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
        const deliveries = await sendWeeklyReport(loaded, data, now, systemClock);
        if (!output.json) for (const delivery of deliveries) line(output, `${delivery.ok ? 'sent' : 'FAILED'} via ${delivery.channel}${delivery.error ? `: ${delivery.error}` : ''}`);
        const failed = deliveries.filter((delivery) => !delivery.ok);
        return failed.length === deliveries.length ? ExitCode.CRITICAL : failed.length > 0 ? ExitCode.WARNING : ExitCode.OK;
      }),
    );
}
