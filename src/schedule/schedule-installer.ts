// Owns `schedule install | remove | status`: writing the config's schedule
// where the system runs it (the cron.d file, the invoking user's crontab, or
// systemd timers), removing exactly that again, and telling what is installed
// where, whether it is what the config says, and when each job runs next.
// Invariants: only our marked block (schedule-installation.ts) or our
// own units are ever written or removed: foreign crontab lines, other apps'
// blocks and other units stay as they were. With a root other than `/`
// everything is written under it and neither `crontab` nor `systemctl` runs
// (image builders, tests): the user's crontab is then the file
// <root>/var/spool/cron/crontabs/<user>.

import { spawnSync } from 'node:child_process';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { Cron } from 'croner';
import { RestorableError } from '../core/errors.ts';
import type { LoadedConfig } from '../config/load.ts';
import { ADD_SCHEDULE_REMEDY, scheduledJobs, SCHEDULED_JOBS } from '../config/schedule-schema.ts';
import { writeFileAtomically } from '../storage/private-files.ts';
import { STATE_DIR } from '../storage/repository-paths.ts';
import { isHeartbeatFresh, readHeartbeat } from '../storage/daemon-heartbeat.ts';
import {
  CRON_D_FILE,
  findInstalledSchedules,
  readIfPresent,
  readUserCrontab,
  SYSTEMD_UNIT_DIR,
  unitName,
  withoutBlock,
  withoutStamps,
  type InstalledSchedule,
  type ScheduleTarget,
} from './schedule-installation.ts';
import { cronBlock, systemdUnits, type ScheduleInvocation } from './schedule-entries.ts';

export interface ScheduleRequest {
  loaded: LoadedConfig;
  target: ScheduleTarget;
  /** `/` for this system; any other directory is written into instead, running no crontab or systemctl. */
  root: string;
  /** Absolute paths of node and of restorable's bin, as the entries will run them. */
  node: string;
  bin: string;
  /** Where scheduled runs append their output (default <repository>/.restorable/schedule.log). */
  logPath?: string;
  now: Date;
  /** The user cron.d lines run as, and whose crontab --user means (default: the invoking user). */
  user?: string;
}

export interface ScheduleChange {
  target: ScheduleTarget;
  /** The files written or removed (`crontab -l` for the user's crontab). */
  paths: string[];
  /** Things to know: the repository is missing, what systemctl did, nothing was installed. */
  notes: string[];
}

export function defaultLogPath(loaded: LoadedConfig): string {
  return join(loaded.repositoryPath, STATE_DIR, 'schedule.log');
}

function invocationFor(request: ScheduleRequest): ScheduleInvocation {
  const { loaded } = request;
  return {
    app: loaded.config.app,
    node: request.node,
    bin: request.bin,
    configPath: loaded.path,
    workingDirectory: loaded.directory,
    logPath: request.logPath ?? defaultLogPath(loaded),
    schedule: loaded.config.schedule ?? {},
    installedAt: request.now,
  };
}

const isRealRoot = (root: string) => root === '/';
const userOf = (request: Pick<ScheduleRequest, 'user'>) => request.user ?? userInfo().username;

function userCrontabFile(request: Pick<ScheduleRequest, 'root' | 'user'>): string {
  return join(request.root, 'var/spool/cron/crontabs', userOf(request));
}

/** Reads the user's crontab: `crontab -l`, or the spool file under a scratch root. */
function readCrontab(request: Pick<ScheduleRequest, 'root' | 'user'>): string {
  if (isRealRoot(request.root)) return readUserCrontab();
  try {
    return readFileSync(userCrontabFile(request), 'utf8');
  } catch {
    return '';
  }
}

async function writeCrontab(request: ScheduleRequest, text: string): Promise<string> {
  if (!isRealRoot(request.root)) {
    const file = userCrontabFile(request);
    await mkdir(dirname(file), { recursive: true });
    await writeFileAtomically(file, text);
    return file;
  }
  const written = spawnSync('crontab', ['-'], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (written.error || written.status !== 0) {
    throw new RestorableError(`crontab - failed: ${written.error?.message ?? written.stderr.trim()}`, {
      code: 'SCHEDULE_CRONTAB_FAILED',
      remedy: 'install cron (apt install cron), or use --systemd, or run `restorable daemon`',
    });
  }
  return 'crontab -l';
}

function systemctl(request: ScheduleRequest, args: string[], notes: string[]): void {
  if (!isRealRoot(request.root)) return;
  const ran = spawnSync('systemctl', args, { encoding: 'utf8', timeout: 60_000 });
  if (ran.error || ran.status !== 0) {
    throw new RestorableError(`systemctl ${args.join(' ')} failed: ${ran.error?.message ?? ran.stderr.trim()}`, {
      code: 'SCHEDULE_SYSTEMCTL_FAILED',
      remedy: 'run as root on a system booted with systemd, or use cron (`schedule install`) or `restorable daemon`',
    });
  }
  notes.push(`ran systemctl ${args.join(' ')}`);
}

/** Text with the block taken out (and ours appended, when given): blank lines it leaves are not left to pile up. */
function replaceBlock(text: string, app: string, block: string | undefined): string {
  const kept = withoutBlock(text, app).replace(/\n{3,}/g, '\n\n').replace(/\s+$/, '');
  const parts = [kept, block].filter((part): part is string => Boolean(part));
  return parts.length ? `${parts.join('\n\n')}\n` : '';
}

export async function installSchedule(request: ScheduleRequest): Promise<ScheduleChange> {
  const { loaded } = request;
  if (scheduledJobs(loaded.config.schedule).length === 0) {
    throw new RestorableError(`${loaded.path} has no schedule to install`, {
      code: 'SCHEDULE_NOT_CONFIGURED',
      remedy: ADD_SCHEDULE_REMEDY,
    });
  }
  const invocation = invocationFor(request);
  const notes = existsSync(loaded.repositoryPath) ? [] : [`the repository ${loaded.repositoryPath} does not exist yet: run \`restorable init\` before the first scheduled run`];
  if (request.target === 'systemd') return { target: 'systemd', paths: await installUnits(request, invocation, notes), notes };
  if (request.target === 'crontab') {
    const block = cronBlock(invocation);
    return { target: 'crontab', paths: [await writeCrontab(request, replaceBlock(readCrontab(request), loaded.config.app, block))], notes };
  }
  const block = cronBlock(invocation, userOf(request));
  const file = join(request.root, CRON_D_FILE);
  if (!existsSync(dirname(file))) {
    if (isRealRoot(request.root)) {
      throw new RestorableError(`${dirname(file)} does not exist: cron is not installed`, { code: 'SCHEDULE_NO_CRON', remedy: 'install cron (apt install cron), or use --systemd, or run `restorable daemon`' });
    }
    await mkdir(dirname(file), { recursive: true });
  }
  await writeFileAtomically(file, replaceBlock((await readIfPresent(file)) ?? '', loaded.config.app, block));
  // cron.d files are root's and read by cron; 0644 as the packages ship theirs (nothing secret in it).
  await chmod(file, 0o644);
  return { target: 'cron.d', paths: [file], notes };
}

async function installUnits(request: ScheduleRequest, invocation: ScheduleInvocation, notes: string[]): Promise<string[]> {
  const unitDir = join(request.root, SYSTEMD_UNIT_DIR);
  await mkdir(unitDir, { recursive: true });
  const units = systemdUnits(invocation);
  // A job no longer in the config loses its units.
  const stale = await removeUnits(request, (job) => !units.some((unit) => unit.name === unitName(invocation.app, job, 'timer')), notes);
  const paths: string[] = [];
  for (const unit of units) {
    const path = join(unitDir, unit.name);
    await writeFileAtomically(path, unit.text);
    await chmod(path, 0o644);
    paths.push(path);
  }
  systemctl(request, ['daemon-reload'], notes);
  systemctl(request, ['enable', '--now', ...units.filter((unit) => unit.name.endsWith('.timer')).map((unit) => unit.name)], notes);
  if (stale.length) notes.push(`removed units of jobs no longer scheduled: ${stale.join(', ')}`);
  return paths;
}

/** Stops, disables and deletes the units of the jobs `which` picks; returns the deleted paths. */
async function removeUnits(request: ScheduleRequest, which: (job: (typeof SCHEDULED_JOBS)[number]) => boolean, notes: string[]): Promise<string[]> {
  const unitDir = join(request.root, SYSTEMD_UNIT_DIR);
  const app = request.loaded.config.app;
  const removed: string[] = [];
  for (const job of SCHEDULED_JOBS.filter(which)) {
    const timer = unitName(app, job, 'timer');
    if (!existsSync(join(unitDir, timer))) continue;
    systemctl(request, ['disable', '--now', timer], notes);
    for (const name of [timer, unitName(app, job, 'service')]) {
      await rm(join(unitDir, name), { force: true });
      removed.push(join(unitDir, name));
    }
  }
  return removed;
}

export async function removeSchedule(request: ScheduleRequest): Promise<ScheduleChange> {
  const app = request.loaded.config.app;
  const notes: string[] = [];
  if (request.target === 'systemd') {
    const paths = await removeUnits(request, () => true, notes);
    if (paths.length) systemctl(request, ['daemon-reload'], notes);
    else notes.push(`no systemd units of ${app} in ${join(request.root, SYSTEMD_UNIT_DIR)}`);
    return { target: 'systemd', paths, notes };
  }
  const text = request.target === 'crontab' ? readCrontab(request) : (await readIfPresent(join(request.root, CRON_D_FILE))) ?? '';
  if (withoutBlock(text, app) === text) {
    notes.push(`nothing of ${app} is installed in ${request.target === 'crontab' ? "the user's crontab" : join(request.root, CRON_D_FILE)}`);
    return { target: request.target, paths: [], notes };
  }
  const remaining = replaceBlock(text, app, undefined);
  if (request.target === 'crontab') return { target: 'crontab', paths: [await writeCrontab(request, remaining)], notes };
  const file = join(request.root, CRON_D_FILE);
  if (remaining.trim() === '') await rm(file, { force: true });
  else {
    await writeFileAtomically(file, remaining);
    await chmod(file, 0o644);
  }
  return { target: 'cron.d', paths: [file], notes };
}

export interface ScheduleStatus {
  app: string;
  timezone: string;
  /** Each configured job with its next runs, as local times in `timezone`. */
  jobs: Array<{ job: string; expression: string; nextRuns: string[] }>;
  installed: Array<Omit<InstalledSchedule, 'text'> & { matchesConfig: boolean }>;
  daemon?: { pid: number; host: string; beatAt: string; fresh: boolean };
  /** What is wrong: nothing installed, or installed differently from the config. */
  problems: string[];
}

/** `2026-12-04 03:00:00` in `timeZone`. */
function localTime(date: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('sv-SE', { timeZone, dateStyle: 'short', timeStyle: 'medium' }).format(date);
}

export async function scheduleStatus(request: Omit<ScheduleRequest, 'target'>): Promise<ScheduleStatus> {
  const { loaded } = request;
  const schedule = loaded.config.schedule;
  const timezone = schedule?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const jobs = scheduledJobs(schedule).map(({ job, expression }) => ({
    job,
    expression,
    nextRuns: new Cron(expression, { mode: '5-or-6-parts', timezone: schedule?.timezone }).nextRuns(3, request.now).map((date) => localTime(date, timezone)),
  }));
  const found = await findInstalledSchedules(loaded.config.app, { root: request.root, readCrontab: () => readCrontab(request) });
  const invocation = invocationFor({ ...request, target: 'cron.d' });
  const expected = (target: ScheduleTarget): string | undefined => {
    try {
      if (target === 'systemd') return systemdUnits(invocation).map((unit) => unit.text).join('\n');
      return cronBlock(invocation, target === 'cron.d' ? userOf(request) : undefined);
    } catch {
      return undefined;
    }
  };
  const installed = found.map(({ text, ...place }) => ({ ...place, matchesConfig: withoutStamps(text) === withoutStamps(expected(place.target) ?? '') }));
  const heartbeat = await readHeartbeat(loaded.repositoryPath);
  const daemon = heartbeat && { pid: heartbeat.pid, host: heartbeat.host, beatAt: heartbeat.beatAt, fresh: isHeartbeatFresh(heartbeat, request.now) };
  const problems: string[] = [];
  if (jobs.length > 0 && installed.length === 0 && !daemon?.fresh) problems.push('the configured schedule is not installed: run `restorable schedule install` (or --user, --systemd) or `restorable daemon`');
  if (jobs.length === 0 && installed.length > 0) problems.push('a schedule is installed but the config has none: run `restorable schedule remove`');
  for (const place of installed.filter((place) => !place.matchesConfig)) {
    problems.push(`${place.where} differs from the config (schedule, paths or log): run \`restorable schedule install${place.target === 'crontab' ? ' --user' : place.target === 'systemd' ? ' --systemd' : ''}\` again`);
  }
  return { app: loaded.config.app, timezone, jobs, installed, daemon, problems };
}
