// Owns where and how an installed schedule is written down, and reading it
// back: the marked block of an app in /etc/cron.d/restorable or in a user's
// crontab, and the systemd timer + service units of an app. `schedule install`
// (schedule-installer.ts) writes in these shapes; `schedule status` and the schedule
// check read them here, so writer and readers cannot drift apart.
// Invariants: a block is everything from `# BEGIN restorable app=<app>` to its
// `# END restorable app=<app>`, so foreign lines and other apps' blocks are
// never touched; each entry is preceded by a `# job: <name>` line; the
// `installed=` stamp is the only line that differs between two installs of the
// same config (comparisons ignore it); every path is under `root` (`/`
// normally, a scratch directory for tests and image builders).

import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SCHEDULED_JOBS, type ScheduledJob } from '../config/schedule-schema.ts';

export type ScheduleTarget = 'cron.d' | 'crontab' | 'systemd';

export const CRON_D_FILE = 'etc/cron.d/restorable';
export const SYSTEMD_UNIT_DIR = 'etc/systemd/system';

export function blockBegin(app: string, installedAt: Date): string {
  return `# BEGIN restorable app=${app} installed=${installedAt.toISOString()}`;
}

export function blockEnd(app: string): string {
  return `# END restorable app=${app}`;
}

export const jobMarker = (job: ScheduledJob): string => `# job: ${job}`;

/** `restorable-<app>-<job>`: app names are letters, digits, `.`, `-`, `_`, all valid in unit names. */
export function unitName(app: string, job: ScheduledJob, suffix: 'service' | 'timer'): string {
  return `restorable-${app}-${job}.${suffix}`;
}

/** What of one app's schedule is installed in one place. */
export interface InstalledSchedule {
  target: ScheduleTarget;
  /** The file (or `crontab -l` of the user). */
  where: string;
  jobs: ScheduledJob[];
  /** From the `installed=` stamp; undefined when it cannot be read. */
  installedAt?: Date;
  /** The written text (the block, or the units one after another), for comparing with what the config gives. */
  text: string;
}

/** The lines of `app`'s block in a crontab-shaped text, with their position; undefined when there is none. */
export function findBlock(text: string, app: string): { start: number; end: number; lines: string[] } | undefined {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`# BEGIN restorable app=${app} `));
  if (start < 0) return undefined;
  const end = lines.indexOf(blockEnd(app), start);
  if (end < 0) return undefined;
  return { start, end, lines: lines.slice(start, end + 1) };
}

/** The text without `app`'s block (foreign lines and other blocks kept as they were). */
export function withoutBlock(text: string, app: string): string {
  const block = findBlock(text, app);
  if (!block) return text;
  const lines = text.split('\n');
  lines.splice(block.start, block.end - block.start + 1);
  return lines.join('\n');
}

/** The text with stamps removed: what two installs of one config share. */
export function withoutStamps(text: string): string {
  return text.replace(/ installed=\S+/g, '');
}

function stampOf(text: string): Date | undefined {
  const match = / installed=(\S+)/.exec(text);
  const date = match ? new Date(match[1]!) : undefined;
  return date && Number.isFinite(date.getTime()) ? date : undefined;
}

function jobsNamed(lines: string[]): ScheduledJob[] {
  return SCHEDULED_JOBS.filter((job) => lines.includes(jobMarker(job)));
}

/** A file's text, or undefined when it does not exist. */
export async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The invoking user's crontab (`crontab -l`); empty when there is none or no crontab program. */
export function readUserCrontab(): string {
  const listed = spawnSync('crontab', ['-l'], { encoding: 'utf8', timeout: 10_000 });
  if (listed.error || listed.status !== 0) return '';
  return listed.stdout;
}

export interface InstallationLookup {
  /** `/` normally. */
  root: string;
  /** Reads the user's crontab; omitted (as with --root) it is not looked at. */
  readCrontab?: () => string;
}

function fromBlock(target: ScheduleTarget, where: string, text: string | undefined, app: string): InstalledSchedule[] {
  const block = text === undefined ? undefined : findBlock(text, app);
  if (!block) return [];
  const blockText = block.lines.join('\n');
  return [{ target, where, jobs: jobsNamed(block.lines), installedAt: stampOf(blockText), text: blockText }];
}

/** Every place `app`'s schedule is installed: the cron.d file, the user's crontab, systemd units. */
export async function findInstalledSchedules(app: string, lookup: InstallationLookup): Promise<InstalledSchedule[]> {
  const cronFile = join(lookup.root, CRON_D_FILE);
  const found = fromBlock('cron.d', cronFile, await readIfPresent(cronFile), app);
  if (lookup.readCrontab) found.push(...fromBlock('crontab', 'crontab -l', lookup.readCrontab(), app));
  const unitDir = join(lookup.root, SYSTEMD_UNIT_DIR);
  let names: string[] = [];
  try {
    names = await readdir(unitDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const jobs = SCHEDULED_JOBS.filter((job) => names.includes(unitName(app, job, 'timer')));
  if (jobs.length > 0) {
    const texts: string[] = [];
    for (const job of jobs) {
      for (const suffix of ['service', 'timer'] as const) texts.push((await readIfPresent(join(unitDir, unitName(app, job, suffix)))) ?? '');
    }
    const text = texts.join('\n');
    found.push({ target: 'systemd', where: unitDir, jobs, installedAt: stampOf(text), text });
  }
  return found;
}
