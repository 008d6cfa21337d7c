// `restorable metrics`: the Prometheus exposition built from real sets on the
// sample app — the series a dashboard or alert rule would use, with values
// checked against the manifests and the clock, and the text checked by
// `promtool check metrics` (Debian package prometheus) when it is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import { loadConfig, type LoadedConfig } from '../../src/config/load.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { silentReporter, type Clock } from '../../src/core/ports.ts';
import { buildMetrics } from '../../src/jobs/metrics.ts';
import { renderExposition, writePrometheusTextfile } from '../../src/notify/prometheus-text.ts';

const T0 = new Date('2026-11-26T03:00:00.000Z');
const HOUR = 3_600_000;
const promtoolMissing = spawnSync('promtool', ['--version']).error ? 'promtool is not installed (Debian package prometheus)' : false;

function at(date: Date): Clock {
  return { now: () => date };
}

async function backupAt(loaded: LoadedConfig, when: Date): Promise<string> {
  const outcome = await runBackup({ loaded, clock: at(when), reporter: silentReporter });
  assert.equal(outcome.status, 'ok', outcome.error?.message);
  return outcome.setId!;
}

/** `name{labels}` -> value, for every sample line; HELP and TYPE lines are checked to precede their samples. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const declared = new Set<string>();
  for (const line of text.trimEnd().split('\n')) {
    const meta = /^# (HELP|TYPE) (\w+) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') declared.add(meta[2]!);
      continue;
    }
    const sample = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    assert.ok(sample, `a sample line: ${line}`);
    assert.ok(declared.has(sample[1]!), `${sample[1]} has a TYPE line before its samples`);
    samples.set(`${sample[1]}${sample[2] ?? ''}`, Number(sample[3]));
  }
  return samples;
}

function promtoolCheck(text: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

test('after a backup the exposition has the series an alert rule needs, with the values of the set and the run', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const loaded = loadConfig(app.configPath);
  const setId = await backupAt(loaded, T0);
  const manifest = JSON.parse(readFileSync(join(app.repository, 'manifests', `${setId}.json`), 'utf8'));

  const metrics = parseExposition(await buildMetrics({ loaded, clock: at(new Date(T0.getTime() + HOUR)) }));
  const job = 'job="sample"';
  for (const source of ['db', 'files', 'config']) {
    assert.equal(metrics.get(`restorable_last_success_timestamp_seconds{${job},source="${source}"}`), T0.getTime() / 1000, source);
    const artifact = manifest.artifacts.find((entry: { source: string }) => entry.source === source);
    const onDisk = statSync(join(app.repository, artifact.path)).size + (artifact.index ? statSync(join(app.repository, artifact.index.path)).size : 0);
    assert.equal(metrics.get(`restorable_set_size_bytes{${job},source="${source}"}`), onDisk, `${source} size = its files on disk`);
    assert.equal(metrics.get(`restorable_check_state{${job},check="age:${source}"}`), 0);
  }
  assert.equal(metrics.get(`restorable_sets{${job}}`), 1);
  assert.equal(metrics.get(`restorable_last_run_status{${job}}`), 0);
  assert.equal(metrics.get(`restorable_last_run_timestamp_seconds{${job}}`), T0.getTime() / 1000, 'the frozen clock made start = finish');
  assert.equal(metrics.get(`restorable_last_run_duration_seconds{${job}}`), manifest.durationMs / 1000);
  assert.equal(metrics.get(`restorable_repository_readable{${job}}`), 1);
  const free = metrics.get(`restorable_repository_free_bytes{${job}}`)!;
  const size = metrics.get(`restorable_repository_filesystem_size_bytes{${job}}`)!;
  assert.ok(free > 0 && free <= size, `free ${free} of ${size}`);
  const setBytes = ['db', 'files', 'config'].reduce((sum, source) => sum + metrics.get(`restorable_set_size_bytes{${job},source="${source}"}`)!, 0);
  assert.equal(metrics.get(`restorable_repository_size_bytes{${job}}`), setBytes, 'one set: the repository is that set');
  for (const check of ['last-run', 'integrity', 'disk', 'lock']) assert.equal(metrics.get(`restorable_check_state{${job},check="${check}"}`), 0, check);

  // The same clock-driven grading as `check`: 48.5 h later the age checks are CRITICAL (2).
  const later = parseExposition(await buildMetrics({ loaded, clock: at(new Date(T0.getTime() + 48.5 * HOUR)) }));
  assert.equal(later.get(`restorable_check_state{${job},check="age:db"}`), 2);
  assert.equal(later.get(`restorable_last_success_timestamp_seconds{${job},source="db"}`), T0.getTime() / 1000);
});

test('`restorable metrics` prints an exposition promtool accepts, and a failed run shows as status 2 while the last success stays', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const loaded = loadConfig(app.configPath);
  const before = new Date(Date.now() - HOUR);
  await backupAt(loaded, before);
  renameSync(app.uploadsDir, `${app.uploadsDir}-moved`);
  const failed = await runBackup({ loaded, clock: at(new Date(Date.now() - HOUR / 2)), reporter: silentReporter });
  assert.equal(failed.status, 'failed');

  const cli = await runCli(['metrics', '-c', app.configPath]);
  assert.equal(cli.code, 0, cli.stderr);
  const metrics = parseExposition(cli.stdout);
  assert.equal(metrics.get('restorable_last_run_status{job="sample"}'), 2);
  assert.equal(metrics.get('restorable_check_state{job="sample",check="last-run"}'), 2);
  assert.equal(metrics.get('restorable_last_success_timestamp_seconds{job="sample",source="files"}'), before.getTime() / 1000);
  assert.equal(metrics.get('restorable_sets{job="sample"}'), 1, 'the failed run published nothing');

  await t.test('promtool check metrics accepts it', { skip: promtoolMissing }, () => {
    const checked = promtoolCheck(cli.stdout);
    assert.equal(checked.status, 0, checked.output);
    assert.equal(checked.output.trim(), '', 'no lint complaints');
  });
});

test('label values and help text are escaped as the exposition format requires', async (t) => {
  const text = renderExposition([
    {
      name: 'restorable_check_state',
      help: 'a back\\slash and a\nnew line',
      type: 'gauge',
      samples: [{ labels: { job: 'odd "app"\\with\nnewline', check: 'age:db' }, value: 2 }],
    },
  ]);
  assert.equal(
    text,
    '# HELP restorable_check_state a back\\\\slash and a\\nnew line\n' +
      '# TYPE restorable_check_state gauge\n' +
      'restorable_check_state{job="odd \\"app\\"\\\\with\\nnewline",check="age:db"} 2\n',
  );
  await t.test('promtool accepts the escaped text', { skip: promtoolMissing }, () => {
    const checked = promtoolCheck(text);
    assert.equal(checked.status, 0, checked.output);
  });
});

test('an unreadable repository still gives a valid exposition: readable 0 and the repository check UNKNOWN (3)', async (t) => {
  const root = tempDir(t);
  const app = makeSampleApp(root, { repository: join(root, 'a-file'), initialise: false });
  writeFileSync(app.repository, '');
  const cli = await runCli(['metrics', '-c', app.configPath]);
  assert.equal(cli.code, 0, cli.stderr);
  const metrics = parseExposition(cli.stdout);
  assert.equal(metrics.get('restorable_repository_readable{job="sample"}'), 0);
  assert.equal(metrics.get('restorable_check_state{job="sample",check="repository"}'), 3);
  assert.equal(metrics.has('restorable_sets{job="sample"}'), false, 'no made-up zero sets');
  await t.test('promtool accepts it', { skip: promtoolMissing }, () => assert.equal(promtoolCheck(cli.stdout).status, 0));
});

test('--textfile writes a .prom file atomically (0644 for node_exporter, no partial left) and refuses a name the collector would ignore', async (t) => {
  const app = makeSampleApp(tempDir(t));
  await backupAt(loadConfig(app.configPath), new Date(Date.now() - HOUR));
  const dir = join(app.root, 'textfile');
  const target = join(dir, 'restorable.prom');

  const noDir = await runCli(['metrics', '--textfile', target, '-c', app.configPath]);
  assert.equal(noDir.code, 2);
  assert.match(noDir.stderr, new RegExp(`cannot write the Prometheus textfile ${target}: ENOENT`));
  assert.match(noDir.stderr, /next: create .*textfile/);

  mkdirSync(dir);
  writeFileSync(target, 'old content\n');
  const written = await runCli(['metrics', '--textfile', target, '-c', app.configPath]);
  assert.equal(written.code, 0, written.stderr);
  assert.equal(written.stdout, '', 'nothing on stdout: the file is the output');
  const text = readFileSync(target, 'utf8');
  assert.equal(parseExposition(text).get('restorable_sets{job="sample"}'), 1);
  assert.equal(statSync(target).mode & 0o777, 0o644);
  assert.deepEqual(readdirSync(dir), ['restorable.prom'], 'no partial left beside it');

  await assert.rejects(writePrometheusTextfile(join(dir, 'restorable.txt'), text), /does not end in \.prom/);
  assert.equal(existsSync(join(dir, 'restorable.txt')), false, 'nothing written under a name node_exporter ignores');
});
