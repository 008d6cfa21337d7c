// Owns what `schedule install` writes, as text: the marked crontab block of an
// app (for /etc/cron.d/restorable, with a user field, or for a user crontab,
// without) and the systemd service + timer pair per job. `schedule status`
// renders the same texts to tell whether what is installed is what the
// config says. It lives beside schedule-installation.ts (the block markers and
// unit names it reads back) so the written and the read shapes stay one.
// Invariants: every entry runs with absolute paths (node, restorable's bin,
// the config), in a directory that exists (the config's), under `umask 077`,
// with a PATH that finds the dump tools, appending its output to the run log;
// cron's `%` and systemd's `%` specifiers are escaped, and paths are quoted,
// so a path with a space or a percent sign cannot break an entry.

import { RestorableError } from '../core/errors.ts';
import { scheduledJobs, type ScheduledJob, type ScheduleConfig } from '../config/schedule-schema.ts';
import { blockBegin, blockEnd, jobMarker, unitName } from './schedule-installation.ts';
import { onCalendarValues } from '../core/schedule-calendar.ts';

/** The PATH scheduled runs get: cron's default lacks /usr/local and the sbin directories some dump tools live in. */
export const SCHEDULE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Everything an entry names: what runs, where, with which config, logging where. */
export interface ScheduleInvocation {
  app: string;
  /** Absolute path of node (process.execPath). */
  node: string;
  /** Absolute path of restorable's bin. */
  bin: string;
  /** Absolute path of the config. */
  configPath: string;
  /** Directory the entries run in (the config's). */
  workingDirectory: string;
  /** The file output is appended to. */
  logPath: string;
  schedule: ScheduleConfig;
  installedAt: Date;
}

/** The command line arguments each scheduled job runs with. */
export const JOB_ARGUMENTS: Record<ScheduledJob, string[]> = {
  backup: ['backup'],
  check: ['check'],
  drill: ['drill'],
  report: ['report', '--send'],
};

/** Exit codes that are not a failed unit: a backup with warnings did its job; check's state is its finding, not a fault. */
const SUCCESS_EXIT_STATUS: Record<ScheduledJob, string | undefined> = { backup: '1', check: '1 2 3', drill: undefined, report: '1' };

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The block for a crontab: cron.d lines carry `user` as the sixth field, a user crontab's do not. */
export function cronBlock(invocation: ScheduleInvocation, user?: string): string {
  const lines = [blockBegin(invocation.app, invocation.installedAt), `# config ${invocation.configPath}; written by \`restorable schedule install\`, removed by \`restorable schedule remove\``];
  if (invocation.schedule.timezone) lines.push(`CRON_TZ=${invocation.schedule.timezone}`);
  for (const { job, expression } of scheduledJobs(invocation.schedule)) {
    if (expression.trim().split(/\s+/).length !== 5) {
      throw new RestorableError(`schedule.${job} "${expression}" has a seconds field, which cron cannot run`, {
        code: 'SCHEDULE_NOT_CRON',
        remedy: 'use 5 fields (minute hour day month weekday) for cron, or install with --systemd, or run `restorable daemon`',
      });
    }
    const command = [
      `cd ${shellQuote(invocation.workingDirectory)}`,
      'umask 077',
      `PATH=${SCHEDULE_PATH} exec ${[invocation.node, invocation.bin, '-c', invocation.configPath].map(shellQuote).join(' ')} ${JOB_ARGUMENTS[job].join(' ')} >> ${shellQuote(invocation.logPath)} 2>&1`,
    ].join(' && ');
    // cron turns an unescaped % into a newline: escape every one.
    lines.push(jobMarker(job), `${expression.trim()}${user ? ` ${user}` : ''} ${command.replaceAll('%', '\\%')}`);
  }
  lines.push(blockEnd(invocation.app));
  return lines.join('\n');
}

/** A systemd argument: double-quoted, `%` doubled (specifiers), `\` and `"` escaped. */
function systemdWord(text: string): string {
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('%', '%%')}"`;
}

function systemdPath(text: string): string {
  return text.replaceAll('%', '%%');
}

export interface SystemdUnit {
  name: string;
  text: string;
}

/** The service and timer of each scheduled job, in that order. */
export function systemdUnits(invocation: ScheduleInvocation): SystemdUnit[] {
  const stamp = `# written by \`restorable schedule install --systemd\` for ${invocation.app} (config ${invocation.configPath}) installed=${invocation.installedAt.toISOString()}`;
  return scheduledJobs(invocation.schedule).flatMap(({ job, expression }) => {
    const service = unitName(invocation.app, job, 'service');
    const success = SUCCESS_EXIT_STATUS[job];
    const serviceText = [
      stamp,
      '[Unit]',
      `Description=restorable ${job} of ${invocation.app}`,
      'Wants=network-online.target',
      'After=network-online.target',
      '',
      '[Service]',
      'Type=oneshot',
      `WorkingDirectory=${systemdPath(invocation.workingDirectory)}`,
      'UMask=0077',
      `Environment=PATH=${SCHEDULE_PATH}`,
      `ExecStart=${[invocation.node, invocation.bin, '-c', invocation.configPath].map(systemdWord).join(' ')} ${JOB_ARGUMENTS[job].join(' ')}`,
      `StandardOutput=append:${systemdPath(invocation.logPath)}`,
      `StandardError=append:${systemdPath(invocation.logPath)}`,
      ...(success ? [`SuccessExitStatus=${success}`] : []),
      '',
    ].join('\n');
    const timerText = [
      stamp,
      '[Unit]',
      `Description=restorable ${job} of ${invocation.app} on its schedule (${expression})`,
      '',
      '[Timer]',
      ...onCalendarValues(expression, invocation.schedule.timezone).map((value) => `OnCalendar=${value}`),
      // A run missed while the machine was off is made up at the next boot.
      'Persistent=true',
      `Unit=${service}`,
      '',
      '[Install]',
      'WantedBy=timers.target',
      '',
    ].join('\n');
    return [
      { name: service, text: serviceText },
      { name: unitName(invocation.app, job, 'timer'), text: timerText },
    ];
  });
}
