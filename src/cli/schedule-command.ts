// Owns `restorable schedule install | remove | status`: where the config's
// schedule goes (default /etc/cron.d/restorable; --user the invoking user's
// crontab; --systemd a service + timer per job), `--root DIR` to write under
// DIR instead of / (image builders, tests: no crontab or systemctl is run),
// and rendering what the job did. `status` exits 0 when what is installed is
// what the config says, 1 (WARNING) when it is missing or differs.

import type { Command } from 'commander';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { installSchedule, removeSchedule, scheduleStatus, type ScheduleChange, type ScheduleRequest } from '../schedule/schedule-installer.ts';
import type { ScheduleTarget } from '../schedule/schedule-installation.ts';
import { line, printJson, type Output } from './render.ts';
import type { ActionWrapper, GlobalOptions } from './main.ts';

/** restorable's bin beside this module: src/cli/ or the bundle's dist/cli/, both two levels below the package. */
export const RESTORABLE_BIN = fileURLToPath(new URL('../../bin/restorable', import.meta.url));

function requestFrom(options: GlobalOptions & Record<string, unknown>): ScheduleRequest {
  const loaded = loadConfig(locateConfig(options.config), options.configSafety);
  const target: ScheduleTarget = options.systemd ? 'systemd' : options.user ? 'crontab' : 'cron.d';
  return {
    loaded,
    target,
    root: typeof options.root === 'string' ? resolve(options.root) : '/',
    node: process.execPath,
    bin: RESTORABLE_BIN,
    logPath: typeof options.log === 'string' ? resolve(options.log) : undefined,
    now: new Date(),
  };
}

function withTargetOptions(command: Command): Command {
  return command
    .option('--user', "the invoking user's crontab instead of /etc/cron.d/restorable")
    .option('--systemd', 'systemd service + timer units (Persistent=true) instead of cron')
    .option('--root <dir>', 'write under DIR instead of / (for image builders and tests; runs no crontab or systemctl)');
}

function renderChange(output: Output, verb: string, change: ScheduleChange): void {
  if (output.json) return printJson(output, change);
  if (change.paths.length) line(output, `${verb} ${change.target}: ${change.paths.join(', ')}`);
  for (const note of change.notes) line(output, `  ${note}`);
}

export function registerScheduleCommand(program: Command, output: Output, run: ActionWrapper): void {
  const schedule = program.command('schedule').description("install the config's schedule in cron or systemd, remove it, or show its status");
  withTargetOptions(schedule.command('install'))
    .description('write the schedule: /etc/cron.d/restorable (default), --user crontab, or --systemd timers')
    .option('--log <file>', 'append the scheduled runs\' output here (default <repository>/.restorable/schedule.log)')
    .action(
      run(async (options) => {
        renderChange(output, 'installed in', await installSchedule(requestFrom(options)));
        return ExitCode.OK;
      }),
    );
  withTargetOptions(schedule.command('remove'))
    .description('remove what `schedule install` wrote (only that: other lines and units stay)')
    .action(
      run(async (options) => {
        renderChange(output, 'removed from', await removeSchedule(requestFrom(options)));
        return ExitCode.OK;
      }),
    );
  schedule
    .command('status')
    .description('what is installed where, whether it matches the config, and the next run times')
    .option('--root <dir>', 'look under DIR instead of /')
    .option('--log <file>', 'the log path given to `schedule install --log`, if any')
    .action(
      run(async (options) => {
        const status = await scheduleStatus(requestFrom(options));
        if (output.json) printJson(output, status);
        else {
          if (status.jobs.length === 0) line(output, `no schedule configured for ${status.app}`);
          for (const job of status.jobs) line(output, `${job.job.padEnd(6)} "${job.expression}"  next: ${job.nextRuns.join(', ')} (${status.timezone})`);
          for (const place of status.installed) {
            line(output, `installed in ${place.where} (${place.target}): ${place.jobs.join(', ')}${place.installedAt ? ` since ${place.installedAt.toISOString()}` : ''}${place.matchesConfig ? '' : ' - DIFFERS from the config'}`);
          }
          if (status.daemon) line(output, `daemon pid ${status.daemon.pid} on ${status.daemon.host}: last heartbeat ${status.daemon.beatAt}${status.daemon.fresh ? '' : ' (stale: not running?)'}`);
          for (const problem of status.problems) line(output, `WARNING: ${problem}`);
        }
        return status.problems.length > 0 ? ExitCode.WARNING : ExitCode.OK;
      }),
    );
}
