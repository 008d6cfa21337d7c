// Owns the schedule check: whether the schedule the config names is installed
// (cron.d, a user crontab, systemd timers, or a live daemon) and firing.
//
// - No `schedule` section: nothing is graded (no result), as before.
// - Configured but installed nowhere and no fresh daemon heartbeat: WARNING,
//   remedy `restorable schedule install` (or run `restorable daemon`).
// - Installed without some configured job: WARNING (install again).
// - Installed but not firing: no backup run recorded since its last due time
//   plus GRACE_MS, while no live run holds the lock. One missed run is a
//   WARNING (a reboot at 03:00 happens); the two last due runs both missed,
//   CRITICAL: the schedule has stopped. Due times before the install (or the
//   daemon's start) do not count, so a fresh install is not an alarm.
// The run history records runs when they end; a live run holding the lock is
// a firing schedule, so a long backup is not reported as missing.

import { Cron } from 'croner';
import { scheduledJobs, type ScheduleConfig } from '../config/schedule-schema.ts';
import { isHeartbeatFresh, readHeartbeat, type DaemonHeartbeat } from '../storage/daemon-heartbeat.ts';
import { findInstalledSchedules, readUserCrontab, type InstallationLookup, type InstalledSchedule } from '../schedule/schedule-installation.ts';
import { formatAge, type Check, type CheckContext, type CheckResult } from './check.ts';

/** How late a due backup may start (and be recorded as started) before it counts as missed. */
export const GRACE_MS = 3_600_000;
/** A run that started this much before its due time still counts (clocks of cron and node differ a little). */
const EARLY_TOLERANCE_MS = 60_000;

const REMEDY_INSTALL = 'run `restorable schedule install` (or `--user`, `--systemd`), or run `restorable daemon` under a service manager';

/** The check as `restorable check` runs it: the real root, and the user's crontab. */
export const scheduleCheck: Check = (context) => scheduleCheckWith({ root: '/', readCrontab: readUserCrontab })(context);

/** The check looking for installations under `lookup.root` (tests, image builders). */
export function scheduleCheckWith(lookup: InstallationLookup): Check {
  return async (context) => {
    const schedule = context.config?.schedule;
    const jobs = scheduledJobs(schedule);
    if (jobs.length === 0) return [];
    const installed = await findInstalledSchedules(context.job, lookup);
    const heartbeat = await readHeartbeat(context.repositoryRoot);
    const daemon = heartbeat && isHeartbeatFresh(heartbeat, context.now) ? heartbeat : undefined;
    const configured = jobs.map(({ job, expression }) => `${job} "${expression}"`).join(', ');

    if (installed.length === 0 && !daemon) {
      const lastBeat = heartbeat ? `; the daemon's last heartbeat is ${formatAge(context.now.getTime() - Date.parse(heartbeat.beatAt))} old (pid ${heartbeat.pid} on ${heartbeat.host})` : '';
      return [result('WARNING', `the schedule in the config (${configured}) is not installed: nothing runs the jobs${lastBeat}`, REMEDY_INSTALL)];
    }
    const places = [...installed.map(describePlace), ...(daemon ? [`the daemon (pid ${daemon.pid} on ${daemon.host})`] : [])];
    const missingJobs = daemon ? [] : jobs.filter(({ job }) => !installed.some((place) => place.jobs.includes(job))).map(({ job }) => job);
    if (missingJobs.length > 0) {
      return [result('WARNING', `the installed schedule (${places.join(', ')}) lacks ${missingJobs.join(', ')}, which the config schedules`, 'run `restorable schedule install` again (with the same --user/--systemd as before) to write what the config says')];
    }
    const firing = gradeFiring(context, schedule!, installed, daemon);
    if (firing) return [firing];
    return [result('OK', `installed in ${places.join(', ')}${nextBackup(schedule!, context.now)}`)];
  };
}

function result(state: CheckResult['state'], summary: string, remedy?: string): CheckResult {
  return { name: 'schedule', state, summary, remedy, perfdata: [] };
}

function describePlace(place: InstalledSchedule): string {
  return place.target === 'crontab' ? "the user's crontab" : place.where;
}

function nextBackup(schedule: ScheduleConfig, now: Date): string {
  if (!schedule.backup) return '';
  const next = new Cron(schedule.backup, { mode: '5-or-6-parts', timezone: schedule.timezone }).nextRun(now);
  return next ? `; next backup ${next.toISOString()}` : '';
}

/** The not-firing result, or undefined when the backup ran when it was due (or no due time has passed since the install). */
function gradeFiring(context: CheckContext, schedule: ScheduleConfig, installed: InstalledSchedule[], daemon: DaemonHeartbeat | undefined): CheckResult | undefined {
  if (!schedule.backup) return undefined;
  if (context.lock.holder?.alive) return undefined;
  const since = Math.min(...installed.map((place) => place.installedAt?.getTime() ?? -Infinity), daemon ? Date.parse(daemon.startedAt) : Infinity);
  const cron = new Cron(schedule.backup, { mode: '5-or-6-parts', timezone: schedule.timezone });
  const now = context.now.getTime();
  // Due times old enough that their run must have started by now, newest first.
  const overdue = cron.previousRuns(2, new Date(now - GRACE_MS)).filter((due) => due.getTime() >= since);
  if (overdue.length === 0) return undefined;
  const backupStarts = context.runs.filter((run) => run.command === 'backup').map((run) => Date.parse(run.startedAt));
  const ranAfter = (due: Date) => backupStarts.some((started) => started >= due.getTime() - EARLY_TOLERANCE_MS);
  if (ranAfter(overdue[0]!)) return undefined;
  const lastBackup = backupStarts.length > 0 ? `the last backup started ${formatAge(now - Math.max(...backupStarts))} ago` : 'no backup was ever recorded';
  const bothMissed = overdue.length === 2;
  return result(
    bothMissed ? 'CRITICAL' : 'WARNING',
    `the schedule is installed but not firing: backup was due at ${overdue[0]!.toISOString()}${bothMissed ? ` and ${overdue[1]!.toISOString()}` : ''} ("${schedule.backup}"), and ${lastBackup}`,
    `run \`restorable schedule status\`; see that cron (or the timers: systemctl list-timers 'restorable-*') runs and read the run log it writes; is the machine's clock or timezone off?`,
  );
}
