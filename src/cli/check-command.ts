// Owns `restorable check [--json]`: the monitor as a Nagios/Icinga plugin
// (also fine for cron mail and Zabbix). The first line is
// `RESTORABLE <STATE> - <summary> | <perfdata>`, then one line per monitor check
// with its next step when not OK; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
// Unlike every other command, a config that is missing or invalid is exit 3
// (UNKNOWN), not 2: by the plugin convention, 2 claims the backups are broken,
// while here we only know that we could not look. Anything unexpected is
// UNKNOWN too — a monitor plugin must never die without a state line.

import type { Command } from 'commander';
import { asRestorableError, type RestorableError } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import type { CheckReport } from '../jobs/check.ts';
import { runCheckAndNotify } from '../jobs/check-and-notify.ts';
import { systemClock } from '../core/ports.ts';
import { formatPerfdata, oneLine, STATE_EXIT_CODE } from '../checks/check.ts';
import { line, printJson, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';

export const PLUGIN_NAME = 'RESTORABLE';

export function registerCheckCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('check')
    .description('the monitor: backup age, last run, integrity, disk space, lock; Nagios first line and exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)')
    .action(
      run(async (options) => {
        let report: PluginReport;
        try {
          const loaded = loadConfig(locateConfig(options.config), options.configSafety);
          report = await runCheckAndNotify({ loaded, clock: systemClock }, (message) => {
            if (!output.json) output.err.write(`notification: ${message}\n`);
          });
        } catch (error) {
          if (process.env.RESTORABLE_DEBUG && error instanceof Error) output.err.write(`${error.stack}\n`);
          report = couldNotEvaluate(asRestorableError(error));
        }
        if (output.json) printJson(output, report);
        else for (const text of renderPluginOutput(report)) line(output, text);
        return report.exitCode;
      }),
    );
}

/** A report, or — when the config kept us from looking — one without a job and repository. */
type PluginReport = CheckReport | Omit<CheckReport, 'job' | 'repository'>;

/** The plugin output: the state line with all perfdata, then one line per check. */
export function renderPluginOutput(report: Pick<CheckReport, 'state' | 'summary' | 'checks' | 'perfdata'>): string[] {
  const perfdata = report.perfdata.map(formatPerfdata).join(' ');
  const first = `${PLUGIN_NAME} ${report.state} - ${oneLine(report.summary)}${perfdata ? ` | ${perfdata}` : ''}`;
  const lines = report.checks.map(
    (check) => `${check.state} ${check.name}: ${oneLine(check.summary)}${check.state !== 'OK' && check.remedy ? ` - next: ${oneLine(check.remedy)}` : ''}`,
  );
  return [first, ...lines];
}

/** UNKNOWN: the config (or something unexpected) kept us from looking at the backups at all. */
function couldNotEvaluate(error: RestorableError): PluginReport {
  const isConfig = error.code.startsWith('CONFIG_');
  const summary = isConfig ? `configuration problem: ${error.message}` : `cannot evaluate: ${error.message}`;
  const details = error.details.length > 0 ? ` (${error.details.join('; ')})` : '';
  return {
    state: 'UNKNOWN',
    summary,
    checks: [
      {
        name: isConfig ? 'config' : 'check',
        state: 'UNKNOWN',
        summary: `${error.message}${details}`,
        remedy: error.remedy ?? 'rerun with RESTORABLE_DEBUG=1 and report it if the cause is not obvious',
        perfdata: [],
      },
    ],
    perfdata: [],
    exitCode: STATE_EXIT_CODE.UNKNOWN,
  };
}
