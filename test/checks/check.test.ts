// `restorable check`, the monitor: real sets made by runBackup on the sample
// app with clocks we choose, then graded by runCheck at a later "now" (the
// Clock port) and, where the process boundary matters (exit codes, the
// Nagios first line, a broken config), through the real CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { mkdirSync, readFileSync, renameSync, rmSync, statfsSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { makeSampleApp, type SampleApp } from '../support/sample-app.ts';
import { loadConfig, type LoadedConfig } from '../../src/config/load.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { silentReporter, type Clock } from '../../src/jobs/ports.ts';
import { runCheck, type CheckReport } from '../../src/jobs/check.ts';
import { gradeFreeSpace } from '../../src/checks/disk.ts';
import type { CheckResult } from '../../src/checks/check.ts';

const T0 = new Date('2026-11-26T03:00:00.000Z');
const HOUR = 3_600_000;

/** `RESTORABLE <STATE> - <summary>[ | <perfdata>]`, the Nagios plugin first line. */
const NAGIOS_FIRST_LINE = /^RESTORABLE (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+?)(?: \| ([^|\n]+))?$/;
/** One perfdata item: `label=value[UOM];[warn];[crit];[min];[max]`. */
const PERFDATA_ITEM = /^('[^']+'|[^\s'=]+)=(-?\d+(?:\.\d+)?)(s|B|%|c)?((?:;[\d.:~@-]*){0,4})$/;

function at(date: Date): Clock {
  return { now: () => date };
}

function after(hours: number, from = T0): Date {
  return new Date(from.getTime() + hours * HOUR);
}

async function backupAt(loaded: LoadedConfig, when: Date, only?: string[]): Promise<string> {
  const outcome = await runBackup({ loaded, clock: at(when), reporter: silentReporter, only });
  assert.equal(outcome.status, 'ok', outcome.error?.message);
  return outcome.setId!;
}

function result(report: CheckReport, name: string): CheckResult {
  const found = report.checks.find((check) => check.name === name);
  assert.ok(found, `a ${name} result in ${report.checks.map((check) => check.name).join(', ')}`);
  return found;
}

/** Parses the first line; fails the test when it is not in the plugin format. */
function firstLine(stdout: string): { state: string; summary: string; perfdata: Array<{ label: string; value: number; unit: string; thresholds: string }> } {
  const first = stdout.split('\n')[0]!;
  const match = NAGIOS_FIRST_LINE.exec(first);
  assert.ok(match, `Nagios first line: ${first}`);
  const perfdata = (match[3] ?? '').split(' ').filter(Boolean).map((item) => {
    const parsed = PERFDATA_ITEM.exec(item);
    assert.ok(parsed, `perfdata item ${item}`);
    return { label: parsed[1]!, value: Number(parsed[2]), unit: parsed[3] ?? '', thresholds: parsed[4] ?? '' };
  });
  return { state: match[1]!, summary: match[2]!, perfdata };
}

function setConfig(app: SampleApp, replace: (text: string) => string): void {
  writeFileSync(app.configPath, replace(readFileSync(app.configPath, 'utf8')));
}

test('the newest set is graded by age: OK at 1 h, WARNING at 26.5 h, CRITICAL at 48.5 h, with perfdata in seconds', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const loaded = loadConfig(app.configPath);
  const setId = await backupAt(loaded, T0);

  const fresh = await runCheck({ loaded, clock: at(after(1)) });
  assert.equal(fresh.state, 'OK', fresh.summary);
  assert.equal(fresh.exitCode, 0);
  assert.match(fresh.summary, new RegExp(`^newest set ${setId} is 1h 0m old, 3 sources, \\d+(\\.\\d)?% free$`));
  assert.deepEqual(result(fresh, 'age:db').perfdata, [{ label: 'db_age', value: 3600, unit: 's', warn: '93600', crit: '172800', min: 0 }]);

  const late = await runCheck({ loaded, clock: at(after(26.5)) });
  assert.equal(late.state, 'WARNING');
  assert.equal(late.exitCode, 1);
  for (const source of ['db', 'files', 'config']) {
    assert.equal(result(late, `age:${source}`).state, 'WARNING');
    assert.match(result(late, `age:${source}`).summary, new RegExp(`newest ${source} backup is 26h 30m old \\(set ${setId}; warning after 26h`));
  }
  assert.equal(result(late, 'last-run').state, 'OK', 'only the age is late');
  assert.match(late.summary, /^newest db backup is 26h 30m old/);
  assert.match(result(late, 'age:db').remedy ?? '', /restorable backup/);

  const dead = await runCheck({ loaded, clock: at(after(48.5)) });
  assert.equal(dead.state, 'CRITICAL');
  assert.equal(dead.exitCode, 2);
  assert.match(result(dead, 'age:db').summary, /48h 30m old .*critical after 48h/);
  assert.equal(dead.perfdata.find((item) => item.label === 'db_age')?.value, 48.5 * 3600);
});

test('through the CLI the exit code follows the age (2, then 1, then 0 as newer sets arrive); the first line is a Nagios plugin line with units', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const loaded = loadConfig(app.configPath);
  // The CLI reads the real clock: make the sets in the past instead.
  const ago = (hours: number) => new Date(Date.now() - hours * HOUR);

  await backupAt(loaded, ago(48.5));
  const critical = await runCli(['check', '-c', app.configPath]);
  assert.equal(critical.code, 2, critical.stdout + critical.stderr);
  assert.equal(firstLine(critical.stdout).state, 'CRITICAL');
  assert.match(critical.stdout, /^CRITICAL age:db: newest db backup is 48h 30m old .* - next: .*restorable backup/m);

  await backupAt(loaded, ago(26.5));
  const warning = await runCli(['-c', app.configPath, 'check']);
  assert.equal(warning.code, 1, warning.stdout + warning.stderr);
  assert.equal(firstLine(warning.stdout).state, 'WARNING');

  const newest = await backupAt(loaded, ago(1));
  const ok = await runCli(['check', '-c', app.configPath]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const parsed = firstLine(ok.stdout);
  assert.equal(parsed.state, 'OK');
  assert.match(parsed.summary, new RegExp(`^newest set ${newest} is 1h 0m old, 3 sources, \\d+(\\.\\d)?% free$`));
  const units = Object.fromEntries(parsed.perfdata.map((item) => [item.label, item.unit]));
  assert.deepEqual(units, { db_age: 's', files_age: 's', config_age: 's', last_run_duration: 's', free: 'B', free_pct: '%' });
  const age = parsed.perfdata.find((item) => item.label === 'db_age')!;
  assert.ok(age.value >= 3600 && age.value < 3700, `db_age ${age.value}`);
  assert.equal(age.thresholds, ';93600;172800;0');
  assert.match(parsed.perfdata.find((item) => item.label === 'free')!.thresholds, /^;1000000:;500000:;0;\d+$/, 'free space alerts below the threshold');
  // One line per check after the first.
  assert.deepEqual(
    ok.stdout.trim().split('\n').slice(1).map((text) => text.split(':')[0]),
    ['OK age', 'OK age', 'OK age', 'OK last-run', 'OK integrity', 'OK disk', 'OK lock'],
  );

  const json = await runCli(['check', '--json', '-c', app.configPath]);
  assert.equal(json.code, 0);
  const report = JSON.parse(json.stdout);
  assert.equal(report.state, 'OK');
  assert.match(report.summary, new RegExp(`^newest set ${newest} is 1h 0m old, 3 sources, `));
  assert.deepEqual(report.checks.map((check: CheckResult) => check.name), ['age:db', 'age:files', 'age:config', 'last-run', 'integrity', 'disk', 'lock']);
  assert.ok(report.perfdata.some((item: { label: string; unit: string }) => item.label === 'free' && item.unit === 'B'));
});

test('each source is graded by its own newest backup: a set made with --only does not make the others look fresh', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const loaded = loadConfig(app.configPath);
  const full = await backupAt(loaded, T0);
  const configOnly = await backupAt(loaded, after(25), ['config']);
  const report = await runCheck({ loaded, clock: at(after(26.5)) });
  assert.equal(report.state, 'WARNING');
  assert.match(result(report, 'age:db').summary, new RegExp(`26h 30m old \\(set ${full};`));
  assert.equal(result(report, 'age:files').state, 'WARNING');
  assert.equal(result(report, 'age:config').state, 'OK');
  assert.match(result(report, 'age:config').summary, new RegExp(`1h 30m old \\(set ${configOnly};`));
});

test('a failed last run is CRITICAL with its error and next step, even while the newest set is young; the next success clears it', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const loaded = loadConfig(app.configPath);
  await backupAt(loaded, T0);
  const moved = `${app.uploadsDir}-moved`;
  renameSync(app.uploadsDir, moved);
  const failed = await runBackup({ loaded, clock: at(after(0.5)), reporter: silentReporter });
  assert.equal(failed.status, 'failed');

  const report = await runCheck({ loaded, clock: at(after(1)) });
  assert.equal(report.state, 'CRITICAL');
  assert.equal(report.exitCode, 2);
  assert.equal(result(report, 'age:files').state, 'OK', 'the previous set is still young');
  const lastRun = result(report, 'last-run');
  assert.equal(lastRun.state, 'CRITICAL');
  assert.match(lastRun.summary, /the last backup run \(2026-11-26T03:30:00.000Z, 30m ago\) failed \(source files\): /);
  assert.ok(lastRun.summary.includes(app.uploadsDir), `names the missing path: ${lastRun.summary}`);
  assert.ok(lastRun.remedy && lastRun.remedy.length > 0, 'says what to do next');
  assert.ok(report.summary.startsWith('the last backup run'), report.summary);

  renameSync(moved, app.uploadsDir);
  await backupAt(loaded, after(2));
  const recovered = await runCheck({ loaded, clock: at(after(3)) });
  assert.equal(recovered.state, 'OK', recovered.summary);
  assert.match(result(recovered, 'last-run').summary, /succeeded/);
});

test('a deleted artifact of the newest set is CRITICAL naming the file; a truncated one names both sizes', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const loaded = loadConfig(app.configPath);
  const setId = await backupAt(loaded, new Date(Date.now() - HOUR));
  const filesArtifact = `files/files_backup_${setId}.tar.gz`;
  rmSync(join(app.repository, filesArtifact));

  const cli = await runCli(['check', '-c', app.configPath]);
  assert.equal(cli.code, 2, cli.stdout + cli.stderr);
  const first = firstLine(cli.stdout);
  assert.equal(first.state, 'CRITICAL');
  assert.ok(first.summary.includes(`${filesArtifact} is missing`), first.summary);
  assert.match(cli.stdout, new RegExp(`^CRITICAL integrity: set ${setId} is damaged: ${filesArtifact} is missing - next: `, 'm'));
  // Age counts only backups still on disk: there is no files backup left to restore, the db one is fine.
  assert.match(cli.stdout, /^CRITICAL age:files: every backup of source files is missing from disk/m);
  assert.match(cli.stdout, /^OK age:db: /m);

  const dbArtifact = `db/db_backup_${setId}.sqlite.gz`;
  const manifest = JSON.parse(readFileSync(join(app.repository, 'manifests', `${setId}.json`), 'utf8'));
  const recorded = manifest.artifacts.find((artifact: { source: string }) => artifact.source === 'db').sizeBytes as number;
  truncateSync(join(app.repository, dbArtifact), 100);
  const report = await runCheck({ loaded, clock: at(new Date()) });
  const integrity = result(report, 'integrity');
  assert.equal(integrity.state, 'CRITICAL');
  assert.ok(integrity.summary.includes(`${dbArtifact} is 100 B, the manifest says ${recorded} B`), integrity.summary);
  assert.ok(integrity.summary.includes(`${filesArtifact} is missing`), 'every damaged file is named');
});

test('a stale lock is WARNING with a next step; a live run past warn_after is WARNING; a young live run is OK', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const loaded = loadConfig(app.configPath);
  await backupAt(loaded, T0);
  const lock = join(app.repository, '.restorable/lock');
  const now = after(2);

  const dead = spawn('true');
  await new Promise((resolve) => dead.on('close', resolve));
  writeFileSync(lock, JSON.stringify({ pid: dead.pid, host: hostname(), startedAt: after(1).toISOString(), command: 'backup' }));
  const stale = await runCheck({ loaded, clock: at(now) });
  assert.equal(stale.state, 'WARNING');
  assert.equal(stale.exitCode, 1);
  const staleLock = result(stale, 'lock');
  assert.match(staleLock.summary, new RegExp(`stale lock: the run that took it \\(pid ${dead.pid} .*\\) is dead; it held the lock for 1h 0m`));
  assert.ok(staleLock.remedy?.includes(lock), 'the remedy names the lock file');

  const live = spawn('sleep', ['60']);
  t.after(() => live.kill());
  writeFileSync(lock, JSON.stringify({ pid: live.pid, host: hostname(), startedAt: new Date(now.getTime() - 30 * HOUR).toISOString(), command: 'backup' }));
  const stuck = await runCheck({ loaded, clock: at(now) });
  assert.equal(stuck.state, 'WARNING');
  assert.match(result(stuck, 'lock').summary, new RegExp(`^a run has been going for 30h 0m \\(pid ${live.pid} `));
  assert.match(result(stuck, 'lock').remedy ?? '', new RegExp(`kill ${live.pid}`));

  writeFileSync(lock, JSON.stringify({ pid: live.pid, host: hostname(), startedAt: new Date(now.getTime() - 10 * 60_000).toISOString(), command: 'backup' }));
  const running = await runCheck({ loaded, clock: at(now) });
  assert.equal(running.state, 'OK', running.summary);
  assert.match(result(running, 'lock').summary, /a run is in progress .* for 10m/);
});

test('a repository that cannot be read is UNKNOWN, exit 3, naming the path', async (t) => {
  const root = tempDir(t);
  const app = makeSampleApp(root, { repository: join(root, 'not-a-directory') });
  writeFileSync(app.repository, 'a file where the repository should be\n');

  const cli = await runCli(['check', '-c', app.configPath]);
  assert.equal(cli.code, 3, cli.stdout + cli.stderr);
  const first = firstLine(cli.stdout);
  assert.equal(first.state, 'UNKNOWN');
  assert.match(first.summary, new RegExp(`the repository ${app.repository} cannot be read: .*ENOTDIR`));
  assert.match(cli.stdout, /^UNKNOWN repository: .* - next: check that `repository` in /m);

  // The same when only its manifests directory is unusable.
  const other = makeSampleApp(join(root, 'second'));
  const loaded = loadConfig(other.configPath);
  mkdirSync(other.repository);
  writeFileSync(join(other.repository, 'manifests'), '');
  const report = await runCheck({ loaded, clock: at(T0) });
  assert.equal(report.state, 'UNKNOWN');
  assert.equal(report.exitCode, 3);
  assert.deepEqual(report.checks.map((check) => check.name), ['repository']);
});

test('a config that is invalid or missing is UNKNOWN with exit 3 (not 2), the problem named on the first line', async (t) => {
  const app = makeSampleApp(tempDir(t));
  setConfig(app, (text) => text.replace('monitor: { min_free: 1MB }', 'monitor: { min_free: 1MB, warn_after: soon }'));

  const invalid = await runCli(['check', '-c', app.configPath]);
  assert.equal(invalid.code, 3, invalid.stdout + invalid.stderr);
  const first = firstLine(invalid.stdout);
  assert.equal(first.state, 'UNKNOWN');
  assert.match(first.summary, /^configuration problem: .*monitor\.warn_after/);
  assert.match(invalid.stdout, /^UNKNOWN config: .* - next: /m);
  assert.doesNotMatch(invalid.stdout + invalid.stderr, /\n\s+at /, 'no stack trace');

  const json = await runCli(['check', '--json', '-c', app.configPath]);
  assert.equal(json.code, 3);
  assert.equal(JSON.parse(json.stdout).state, 'UNKNOWN');

  const missing = await runCli(['check', '-c', join(app.root, 'no-such.yml')]);
  assert.equal(missing.code, 3);
  assert.match(firstLine(missing.stdout).summary, /no-such\.yml/);
});

test('no set at all is CRITICAL; free space is measured where the repository will be', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const report = await runCheck({ loaded: loadConfig(app.configPath), clock: at(T0) });
  assert.equal(report.state, 'CRITICAL');
  assert.match(result(report, 'age').summary, /^no complete backup set in /);
  assert.equal(result(report, 'disk').state, 'OK', 'measured on the parent of the not-yet-created repository');
  assert.match(result(report, 'disk').summary, new RegExp(` on ${app.root} `));
});

test('free space: WARNING below min_free, CRITICAL below half of it, for a percentage and an absolute size', () => {
  const total = 100e9;
  const grade = (freeBytes: number, minFree: string) => gradeFreeSpace({ freeBytes, totalBytes: total }, minFree).state;
  assert.equal(grade(11e9, '10%'), 'OK');
  assert.equal(grade(10e9, '10%'), 'OK', 'exactly min_free is enough');
  assert.equal(grade(9.9e9, '10%'), 'WARNING');
  assert.equal(grade(5e9, '10%'), 'WARNING');
  assert.equal(grade(4.9e9, '10%'), 'CRITICAL');
  assert.equal(grade(6e9, '5GB'), 'OK');
  assert.equal(grade(4e9, '5GB'), 'WARNING');
  assert.equal(grade(2.4e9, '5GB'), 'CRITICAL');
  const perfdata = gradeFreeSpace({ freeBytes: 8e9, totalBytes: total }, '10%').perfdata;
  assert.deepEqual(perfdata, [
    { label: 'free', value: 8e9, unit: 'B', warn: '10000000000:', crit: '5000000000:', min: 0, max: total },
    { label: 'free_pct', value: 8, unit: '%', warn: '10:', crit: '5:', min: 0, max: 100 },
  ]);
});

test('the disk check reads the real filesystem: a min_free above what is free warns, one above twice that is critical', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const stats = statfsSync(app.root);
  const free = stats.bavail * stats.bsize;
  const gigabytes = (bytes: number) => `${(bytes / 1e9).toFixed(3)}GB`;
  const diskAt = async (minFree: string) => {
    setConfig(app, (text) => text.replace(/monitor: .*/, `monitor: { min_free: ${minFree} }`));
    return result(await runCheck({ loaded: loadConfig(app.configPath), clock: at(T0) }), 'disk');
  };
  // Margins of a third either way: other tests writing meanwhile cannot flip the grade.
  const warning = await diskAt(gigabytes(free * 1.5));
  assert.equal(warning.state, 'WARNING', warning.summary);
  assert.match(warning.remedy ?? '', /^free at least .* on that filesystem \(df -h /);
  assert.equal((await diskAt(gigabytes(free * 3))).state, 'CRITICAL');
  assert.equal((await diskAt(gigabytes(free * 0.5))).state, 'OK');
});
