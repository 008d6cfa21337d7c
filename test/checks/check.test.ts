// `restorable check`, the monitor as a whole (the contract of
// src/checks/check.ts, run by jobs/check.ts and the command): exit codes, the
// Nagios plugin first line with perfdata units, --json, and UNKNOWN when the
// repository or the config cannot be read. Each check has its own file here
// (age, disk, drill, integrity, last-run, lock, schedule).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/temp.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runCheck } from '../../src/jobs/check.ts';
import type { CheckResult } from '../../src/checks/check.ts';
import { at, backupAt, firstLine, HOUR, setConfig, T0 } from '../support/check-harness.ts';

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

test('a repository that cannot be read is UNKNOWN, exit 3, naming the path', async (t) => {
  const root = tempDir(t);
  const app = makeSampleApp(root, { repository: join(root, 'not-a-directory'), initialise: false });
  writeFileSync(app.repository, 'a file where the repository should be\n');

  const cli = await runCli(['check', '-c', app.configPath]);
  assert.equal(cli.code, 3, cli.stdout + cli.stderr);
  const first = firstLine(cli.stdout);
  assert.equal(first.state, 'UNKNOWN');
  assert.match(first.summary, new RegExp(`the repository ${app.repository} cannot be read: .*ENOTDIR`));
  assert.match(cli.stdout, /^UNKNOWN repository: .* - next: check that `repository` in /m);

  // The same when only its manifests directory is unusable.
  const other = makeSampleApp(join(root, 'second'), { initialise: false });
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
