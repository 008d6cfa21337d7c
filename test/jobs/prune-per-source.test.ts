// Retention per source and `retention.within` on a real repository (the job):
// a `backup --only config` run no longer pushes the newest full set out, and
// `within` keeps a manual set made before a deploy through the night's prune.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { makeSampleApp, type SampleApp } from '../support/sample-app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { silentReporter } from '../../src/core/ports.ts';

function setIds(repository: string): string[] {
  return readdirSync(join(repository, 'manifests')).map((name) => name.replace(/\.json$/, '')).sort().reverse();
}

async function backupAt(app: SampleApp, iso: string, only?: string[]): Promise<void> {
  const outcome = await runBackup({ loaded: loadConfig(app.configPath), clock: { now: () => new Date(iso) }, reporter: silentReporter, only });
  assert.equal(outcome.status, 'ok', outcome.error?.message);
}

test('an --only config run keeps the newest full set; the dry run says for which sources each set is kept', async (t) => {
  const app = makeSampleApp(tempDir(t), { retention: '{ daily: 1 }' });
  await backupAt(app, '2026-03-01T03:00:00Z');
  await backupAt(app, '2026-03-02T03:00:00Z');
  await backupAt(app, '2026-03-02T10:00:00Z', ['config']);
  // One timeline would have kept only the 10:00 config set; per source, the night's full set stays for db and files.
  assert.deepEqual(setIds(app.repository), ['2026-03-02_10-00-00', '2026-03-02_03-00-00']);
  await backupAt(app, '2026-03-02T11:00:00Z', ['db']);
  assert.deepEqual(setIds(app.repository), ['2026-03-02_11-00-00', '2026-03-02_10-00-00', '2026-03-02_03-00-00']);

  const dryRun = await runCli(['-c', app.configPath, 'prune', '--dry-run']);
  assert.equal(dryRun.code, 0, dryRun.stdout + dryRun.stderr);
  assert.match(dryRun.stdout, /^policy: daily 1 per source, pinned sets kept \(periods in UTC\)$/m);
  assert.match(dryRun.stdout, /^keep {4}2026-03-02_11-00-00 .* daily #1$/m);
  assert.match(dryRun.stdout, /^keep {4}2026-03-02_10-00-00 .* daily #1$/m);
  assert.match(dryRun.stdout, /^keep {4}2026-03-02_03-00-00 .* daily #1 \(files\)$/m);

  // The next night's full set supersedes all three.
  await backupAt(app, '2026-03-03T03:00:00Z');
  assert.deepEqual(setIds(app.repository), ['2026-03-03_03-00-00']);
});

test('retention.within keeps every set near the newest one; the night after, the count rules decide again', async (t) => {
  const app = makeSampleApp(tempDir(t), { retention: '{ daily: 1, within: 48h }' });
  assert.equal(loadConfig(app.configPath).config.retention.within_ms, 48 * 3600_000);
  await backupAt(app, '2026-03-01T03:00:00Z', ['config']);
  await backupAt(app, '2026-03-01T16:00:00Z', ['config']); // the manual one before a deploy
  await backupAt(app, '2026-03-02T03:00:00Z', ['config']);
  assert.deepEqual(setIds(app.repository), ['2026-03-02_03-00-00', '2026-03-01_16-00-00', '2026-03-01_03-00-00']);
  const dryRun = await runCli(['-c', app.configPath, 'prune', '--dry-run']);
  assert.match(dryRun.stdout, /^policy: daily 1, within 48h per source/m);
  assert.match(dryRun.stdout, /^keep {4}2026-03-01_16-00-00 .* within 48h$/m);
  await backupAt(app, '2026-03-04T03:00:00Z', ['config']);
  assert.deepEqual(setIds(app.repository), ['2026-03-04_03-00-00', '2026-03-02_03-00-00']);
});
