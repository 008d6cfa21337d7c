// Retention on a real repository: only complete sets count, failed runs never
// push good sets out, the clock cannot make it delete more, the dry run says
// exactly what the real run does, an interrupted prune leaves only complete or
// clearly incomplete sets, and the disk-space guard refuses (or makes space).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { runCli, BIN } from '../support/cli.ts';
import { makeSampleApp, type SampleApp } from '../support/sample-app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { silentReporter } from '../../src/core/ports.ts';
import { artifactPath, indexPath, manifestPath } from '../../src/core/naming.ts';
import type { Manifest } from '../../src/core/manifest.ts';

const at = (iso: string) => ({ now: () => new Date(iso) });

function setIds(repository: string): string[] {
  return readdirSync(join(repository, 'manifests')).map((name) => name.replace(/\.json$/, '')).sort().reverse();
}

async function backupAt(app: SampleApp, iso: string, only = ['config']) {
  const outcome = await runBackup({ loaded: loadConfig(app.configPath), clock: at(iso), reporter: silentReporter, only });
  return outcome;
}

/** Copies a real set under other ids (fast history for prune tests). */
function cloneSet(repository: string, template: Manifest, setId: string): void {
  const manifest: Manifest = structuredClone(template);
  manifest.setId = setId;
  for (const artifact of manifest.artifacts) {
    const extension = artifact.path.slice(artifact.path.indexOf('.'));
    const path = artifactPath(artifact.source, setId, extension.slice(1));
    copyFileSync(join(repository, artifact.path), join(repository, path));
    artifact.path = path;
    if (artifact.index) {
      const index = indexPath(artifact.source, setId);
      copyFileSync(join(repository, artifact.index.path), join(repository, index));
      artifact.index.path = index;
    }
  }
  writeFileSync(join(repository, manifestPath(setId)), JSON.stringify(manifest));
}

function dailyIds(count: number, start = Date.UTC(2026, 0, 1, 3)): string[] {
  return Array.from({ length: count }, (_, day) => new Date(start + day * 86_400_000).toISOString().replace('T', '_').replace(/:/g, '-').slice(0, 19));
}

test('failed runs between good ones never push good sets out', async (t) => {
  const app = makeSampleApp(tempDir(t), { retention: '{ last: 3 }' });
  for (const day of ['2026-03-01', '2026-03-02', '2026-03-03']) assert.equal((await backupAt(app, `${day}T03:00:00Z`)).status, 'ok');
  rmSync(app.envPath); // the config source now fails pre-flight
  for (const day of ['2026-03-04', '2026-03-05', '2026-03-06', '2026-03-07']) {
    assert.equal((await backupAt(app, `${day}T03:00:00Z`)).status, 'failed');
  }
  assert.deepEqual(setIds(app.repository), ['2026-03-03_03-00-00', '2026-03-02_03-00-00', '2026-03-01_03-00-00']);
});

test('retention runs after each successful backup and keeps per policy', async (t) => {
  const app = makeSampleApp(tempDir(t), { retention: '{ daily: 2 }' });
  for (const when of ['2026-03-01T03:00:00Z', '2026-03-02T03:00:00Z', '2026-03-02T15:00:00Z', '2026-03-03T03:00:00Z']) {
    const outcome = await backupAt(app, when);
    assert.equal(outcome.status, 'ok', outcome.error?.message);
  }
  // daily 2: the newest of 03-03 and the newest of 03-02 remain.
  assert.deepEqual(setIds(app.repository), ['2026-03-03_03-00-00', '2026-03-02_15-00-00']);
  for (const removed of ['2026-03-01_03-00-00', '2026-03-02_03-00-00']) {
    assert.ok(!existsSync(join(app.repository, 'config', `config_backup_${removed}.tar.gz`)), `artifacts of ${removed} deleted`);
  }
});

test('a clock far ahead or behind deletes nothing extra', async (t) => {
  const app = makeSampleApp(tempDir(t), { retention: '{ daily: 14 }' });
  for (const day of ['01', '02', '03', '04', '05']) assert.equal((await backupAt(app, `2026-03-${day}T03:00:00Z`)).status, 'ok');
  assert.equal((await backupAt(app, '2036-03-06T03:00:00Z')).status, 'ok', 'clock ten years ahead');
  assert.equal((await backupAt(app, '2025-03-06T03:00:00Z')).status, 'ok', 'clock a year behind');
  assert.equal(setIds(app.repository).length, 7, 'every set kept: each is its own day within daily 14');
  // And prune itself does not look at the clock at all: running it again changes nothing.
  const again = await runCli(['-c', app.configPath, 'prune', '--json']);
  assert.equal(JSON.parse(again.stdout).remove.length, 0);
});

test('the dry run prints exactly the plan the real run carries out', async (t) => {
  const app = makeSampleApp(tempDir(t), { retention: '{ last: 1000 }' });
  assert.equal((await backupAt(app, '2026-01-01T03:00:00Z', ['config', 'files'])).status, 'ok');
  const template = JSON.parse(readFileSync(join(app.repository, manifestPath('2026-01-01_03-00-00')), 'utf8')) as Manifest;
  for (const id of dailyIds(60).slice(1)) cloneSet(app.repository, template, id);
  writeFileSync(app.configPath, readFileSync(app.configPath, 'utf8').replace('retention: { last: 1000 }', 'retention: { daily: 14, weekly: 4, monthly: 3 }'));

  const dry = await runCli(['-c', app.configPath, 'prune', '--dry-run', '--json']);
  assert.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout);
  assert.equal(setIds(app.repository).length, 60, 'the dry run deleted nothing');
  const real = await runCli(['-c', app.configPath, 'prune', '--json']);
  const done = JSON.parse(real.stdout);
  assert.deepEqual(done.remove, plan.remove);
  assert.deepEqual(setIds(app.repository), plan.keep.map((set: { setId: string }) => set.setId));
  assert.equal(plan.keep.length, 17, '14 daily + 1 more weekly + 2 more monthly over Jan 1 - Mar 1');
  assert.deepEqual(plan.keep[0].reasons, ['daily #1', 'weekly #1', 'monthly #1']);
  const text = await runCli(['-c', app.configPath, 'prune', '--dry-run']);
  assert.match(text.stdout, /keep {4}2026-03-01_03-00-00 .* daily #1, weekly #1, monthly #1/);
});

test('an interrupted prune leaves only complete sets or orphans the next run sweeps', async (t) => {
  const app = makeSampleApp(tempDir(t), { retention: '{ last: 1000 }' });
  assert.equal((await backupAt(app, '2026-01-01T03:00:00Z', ['config', 'files'])).status, 'ok');
  const template = JSON.parse(readFileSync(join(app.repository, manifestPath('2026-01-01_03-00-00')), 'utf8')) as Manifest;
  for (const id of dailyIds(200).slice(1)) cloneSet(app.repository, template, id);
  writeFileSync(app.configPath, readFileSync(app.configPath, 'utf8').replace('retention: { last: 1000 }', 'retention: { last: 2 }'));

  // Kill the prune as soon as it has deleted its first manifest.
  const child = spawn(process.execPath, [BIN, '-c', app.configPath, 'prune'], { stdio: 'ignore' });
  while (setIds(app.repository).length === 200 && child.exitCode === null) await new Promise((resolve) => setImmediate(resolve));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('close', resolve));

  // Invariant: every set that has a manifest has all its artifacts.
  for (const setId of setIds(app.repository)) {
    const manifest = JSON.parse(readFileSync(join(app.repository, manifestPath(setId)), 'utf8')) as Manifest;
    for (const artifact of manifest.artifacts) assert.ok(existsSync(join(app.repository, artifact.path)), `${artifact.path} of a listed set exists`);
  }
  const next = await runCli(['-c', app.configPath, 'prune']);
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual(setIds(app.repository), dailyIds(200).slice(-2).reverse());
  const remaining = ['config', 'files'].flatMap((dir) => readdirSync(join(app.repository, dir)));
  assert.equal(remaining.length, 2 * 4, 'no orphaned artifact left: 2 sets x (config and files, each an archive + its index)');
});

test('an orphan of a prune killed right after the manifest went is swept by the next run', async (t) => {
  const app = makeSampleApp(tempDir(t), { retention: '{ last: 5 }' });
  assert.equal((await backupAt(app, '2026-01-01T03:00:00Z')).status, 'ok');
  assert.equal((await backupAt(app, '2026-01-02T03:00:00Z')).status, 'ok');
  // The state a SIGKILL between "manifest deleted" and "artifacts deleted" leaves.
  const victim = '2026-01-01_03-00-00';
  writeFileSync(join(app.repository, `.restorable/prune-${victim}.json`), JSON.stringify({ setId: victim, paths: [artifactPath('config', victim, 'tar.gz')] }));
  rmSync(join(app.repository, manifestPath(victim)));
  const listed = JSON.parse((await runCli(['-c', app.configPath, 'list', '--json'])).stdout);
  assert.deepEqual(listed.sets.map((set: { setId: string }) => set.setId), ['2026-01-02_03-00-00'], 'a set without manifest does not exist');
  assert.equal((await backupAt(app, '2026-01-03T03:00:00Z')).status, 'ok');
  assert.ok(!existsSync(join(app.repository, artifactPath('config', victim, 'tar.gz'))), 'the orphan was swept');
});

test('a policy that keeps nothing is a config error', async (t) => {
  const app = makeSampleApp(tempDir(t), { retention: '{ daily: 0 }' });
  const result = await runCli(['-c', app.configPath, 'prune']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /retention: retention keeps nothing/);
});

test('disk-space guard: refuses with the numbers, or makes space only from what the policy would delete next', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  const repository = mkdtempSync(join(tmpdir(), 'restorable-guard-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', repository]);
  t.after(() => {
    execFileSync('umount', ['-l', repository]);
    rmSync(repository, { recursive: true, force: true });
  });
  const app = makeSampleApp(tempDir(t), { repository, uploadBytes: 1_500_000, retention: '{ last: 5 }', monitor: '{ min_free: 1.5MB }' });
  assert.equal((await backupAt(app, '2026-01-01T03:00:00Z', ['files'])).status, 'ok');
  const refused = await runCli(['-c', app.configPath, 'backup', '--only', 'files']);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /not enough disk space for the next set: it needs about 1\.\d MB .* must stay free \(monitor.min_free 1.5MB\)/);
  assert.match(refused.stderr, /next: free at least/);
  assert.equal(setIds(repository).length, 1);

  writeFileSync(app.configPath, readFileSync(app.configPath, 'utf8').replace('retention: { last: 5 }', 'retention: { last: 5, make_space: true }'));
  const stillRefused = await runCli(['-c', app.configPath, 'backup', '--only', 'files']);
  assert.equal(stillRefused.code, 2, 'last 5 would delete nothing next, so nothing is deleted');
  assert.equal(setIds(repository).length, 1);

  writeFileSync(app.configPath, readFileSync(app.configPath, 'utf8').replace('last: 5, make_space', 'last: 1, make_space'));
  const made = await runCli(['-c', app.configPath, 'backup', '--only', 'files']);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  assert.match(made.stdout, /removed set 2026-01-01_03-00-00 to make space/);
  assert.equal(setIds(repository).length, 1);
});
