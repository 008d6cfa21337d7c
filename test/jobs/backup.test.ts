// End-to-end backups through the real CLI on an SQLite + files app: the seed's
// layout and tools, permissions, atomic publication, and the ways a run dies
// (SIGKILL, full disk, a second run, a dead lock holder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { countRows, openSqlite } from '../../src/sources/sqlite-database.ts';
import { tempDir } from '../support/temp.ts';
import { runCli, startCli } from '../support/cli.ts';
import { makeSampleApp, pseudoRandomBytes } from '../support/sample-app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { silentReporter } from '../../src/core/ports.ts';

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((name) => join(dir, name));
}

function partials(dir: string): string[] {
  return filesUnder(dir).filter((path) => path.endsWith('.partial'));
}

test('a backup writes the seed layout, readable by gunzip, tar and sqlite, with a manifest listing true hashes', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const result = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(result.code, 0, result.stderr + result.stdout);
  assert.match(result.stdout, /backup OK: set \d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}/);

  const [manifestName, ...others] = readdirSync(join(app.repository, 'manifests'));
  assert.equal(others.length, 0);
  const setId = manifestName!.replace(/\.json$/, '');
  const dbArtifact = join(app.repository, 'db', `db_backup_${setId}.sqlite.gz`);
  const filesArtifact = join(app.repository, 'files', `files_backup_${setId}.tar.gz`);
  const configArtifact = join(app.repository, 'config', `config_backup_${setId}.tar.gz`);
  for (const path of [dbArtifact, filesArtifact, configArtifact]) assert.ok(existsSync(path), `${path} exists`);

  // The seed's own verification commands accept what we wrote.
  execFileSync('gunzip', ['-t', dbArtifact]);
  const listing = execFileSync('tar', ['-tzf', filesArtifact], { encoding: 'utf8' });
  assert.ok(listing.includes(`${app.uploadsDir.slice(1)}/public/photo.jpg`), listing);

  // The database copy restores with stock tools and holds every row.
  const restoredDb = join(app.root, 'restored.sqlite');
  execFileSync('sh', ['-c', `gunzip < "${dbArtifact}" > "${restoredDb}"`]);
  const restored = openSqlite(restoredDb, { readonly: true });
  assert.equal(countRows(restored, 'users'), 1000);
  restored.close();

  // `cd DIR && tar -xzf` recreates the tree under its absolute path.
  const extractTo = join(app.root, 'extract');
  mkdirSync(extractTo);
  execFileSync('tar', ['-xzf', filesArtifact, '-C', extractTo]);
  assert.equal(sha256(join(extractTo, app.uploadsDir, 'public/photo.jpg')), sha256(join(app.uploadsDir, 'public/photo.jpg')));

  const manifest = JSON.parse(readFileSync(join(app.repository, 'manifests', manifestName!), 'utf8'));
  assert.equal(manifest.setId, setId);
  assert.deepEqual(manifest.artifacts.map((a: { source: string }) => a.source), ['db', 'files', 'config']);
  for (const artifact of manifest.artifacts) {
    assert.equal(artifact.sha256, sha256(join(app.repository, artifact.path)), `sha256 of ${artifact.path}`);
    assert.equal(artifact.sizeBytes, statSync(join(app.repository, artifact.path)).size);
  }
  assert.equal(manifest.artifacts[0].details.rowCounts.users, 1000);
  assert.equal(manifest.artifacts[0].details.integrity, 'ok');
  assert.ok(manifest.artifacts[1].index, 'the files source has an entry index');
  assert.equal(manifest.artifacts[1].index.sha256, sha256(join(app.repository, manifest.artifacts[1].index.path)));
  assert.deepEqual(partials(app.repository), []);
});

test('artifacts are 0600 and directories 0700, even under umask 000 and when the repository existed as 0755', async (t) => {
  const app = makeSampleApp(tempDir(t));
  mkdirSync(join(app.repository, 'db'), { recursive: true, mode: 0o755 });
  chmodSync(app.repository, 0o755);
  chmodSync(join(app.repository, 'db'), 0o755);
  const result = await new Promise<number | null>((resolve) => {
    const child = spawn('sh', ['-c', `umask 000 && exec "${process.execPath}" bin/restorable -c "${app.configPath}" backup`], { stdio: 'ignore' });
    child.on('close', resolve);
  });
  assert.equal(result, 0);
  for (const path of [app.repository, ...filesUnder(app.repository)]) {
    const info = statSync(path);
    assert.equal(info.mode & 0o777, info.isDirectory() ? 0o700 : 0o600, `${path} mode ${(info.mode & 0o777).toString(8)}`);
  }
});

test('two runs in the same second get distinct set ids; list shows both, newest first', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const loaded = loadConfig(app.configPath);
  const frozen = { now: () => new Date('2026-11-26T03:00:00.400Z') };
  const first = await runBackup({ loaded, clock: frozen, reporter: silentReporter, only: ['config'] });
  const second = await runBackup({ loaded, clock: frozen, reporter: silentReporter, only: ['config'] });
  assert.equal(first.status, 'ok', first.error?.message);
  assert.equal(second.status, 'ok', second.error?.message);
  assert.equal(first.setId, '2026-11-26_03-00-00');
  assert.equal(second.setId, '2026-11-26_03-00-01', 'the next free second, never an overwrite');
  const listed = await runCli(['list', '--json', '-c', app.configPath]);
  assert.equal(listed.code, 0, listed.stderr);
  const sets = JSON.parse(listed.stdout).sets as { setId: string; sizeBytes: number; durationMs: number }[];
  assert.deepEqual(sets.map((set) => set.setId), ['2026-11-26_03-00-01', '2026-11-26_03-00-00']);
  assert.ok(sets[0]!.sizeBytes > 0 && sets[0]!.durationMs >= 0);
});

test('a second run is refused while a live process holds the lock, naming its pid and start time', async (t) => {
  const app = makeSampleApp(tempDir(t));
  assert.equal((await runCli(['-c', app.configPath, 'backup', '--only', 'config'])).code, 0);
  const holder = spawn('sleep', ['30']);
  t.after(() => holder.kill());
  const { hostname } = await import('node:os');
  writeFileSync(
    join(app.repository, '.restorable/lock'),
    JSON.stringify({ pid: holder.pid, host: hostname(), startedAt: '2026-11-26T03:00:00.000Z', command: 'backup' }),
  );
  const refused = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, new RegExp(`pid ${holder.pid}.*started 2026-11-26T03:00:00.000Z`));
  assert.equal(readdirSync(join(app.repository, 'manifests')).length, 1, 'nothing new published');
});

test('a lock left by a dead process is taken over with a warning', async (t) => {
  const app = makeSampleApp(tempDir(t));
  mkdirSync(join(app.repository, '.restorable'), { recursive: true });
  const dead = spawn('true');
  await new Promise((resolve) => dead.on('close', resolve));
  const { hostname } = await import('node:os');
  writeFileSync(join(app.repository, '.restorable/lock'), JSON.stringify({ pid: dead.pid, host: hostname(), startedAt: '2026-11-25T03:00:00.000Z', command: 'backup' }));
  const result = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`took over the lock of a dead run \\(pid ${dead.pid}`));
  assert.ok(!existsSync(join(app.repository, '.restorable/lock')), 'the lock is released after the run');
});

test('SIGKILL mid-run publishes nothing; the next run cleans up and succeeds', async (t) => {
  const app = makeSampleApp(tempDir(t), { uploadBytes: 400 * 1024 * 1024 });
  const { child, result } = startCli(['-c', app.configPath, 'backup']);
  // Wait until the big artifact is being written, then kill without warning.
  for (let i = 0; i < 600 && partials(join(app.repository, 'files')).length === 0; i++) await delay(25);
  assert.ok(partials(join(app.repository, 'files')).length > 0, 'the run was caught mid-write');
  child.kill('SIGKILL');
  await result;
  assert.deepEqual(readdirSync(join(app.repository, 'manifests')), [], 'no set published');

  const next = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(next.code, 0, next.stderr + next.stdout);
  assert.match(next.stdout, /took over the lock of a dead run/);
  assert.match(next.stdout, /removed \d+ leftover/);
  assert.deepEqual(partials(app.repository), []);
  assert.equal(readdirSync(join(app.repository, 'manifests')).length, 1);
  assert.deepEqual(readdirSync(join(app.repository, '.restorable')).filter((name) => name.startsWith('scratch-')), []);
});

test('a disk too small for the set: exit 2, says the disk is full, nothing published, the earlier set intact', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  const root = tempDir(t);
  const repository = mkdtempSync(join(tmpdir(), 'restorable-small-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', repository]);
  t.after(() => {
    execFileSync('umount', ['-l', repository]);
    rmSync(repository, { recursive: true, force: true });
  });
  const app = makeSampleApp(root, { repository });
  const first = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(first.code, 0, first.stderr);
  const before = Object.fromEntries(filesUnder(repository).filter((p) => statSync(p).isFile() && !p.includes('/logs/') && !p.includes('/.restorable/')).map((p) => [p, sha256(p)]));

  writeFileSync(join(app.uploadsDir, 'public/video.mp4'), pseudoRandomBytes(5 * 1024 * 1024, 'video'));
  const second = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(second.code, 2, second.stdout + second.stderr);
  assert.match(second.stderr, /disk is full/);
  assert.match(second.stderr, /next: free space/);
  assert.doesNotMatch(second.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(partials(repository), []);
  assert.equal(readdirSync(join(repository, 'manifests')).length, 1, 'only the earlier set exists');
  for (const [path, hash] of Object.entries(before)) assert.equal(sha256(path), hash, `${path} untouched`);
  assert.equal(execFileSync('gunzip', ['-t', ...Object.keys(before).filter((p) => p.endsWith('.gz'))]).length, 0, 'earlier artifacts still pass gunzip -t');
});

test('a source that fails pre-flight fails the run with exit 2, naming it, and publishes nothing', async (t) => {
  const root = tempDir(t);
  const app = makeSampleApp(root);
  writeFileSync(app.configPath, readFileSync(app.configPath, 'utf8').replace(`paths: [${app.uploadsDir}]`, `paths: [${join(root, 'no-such-dir')}]`));
  const result = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /no-such-dir/);
  assert.match(result.stderr, /nothing was published/);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
  assert.deepEqual(readdirSync(join(app.repository, 'manifests')), []);
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
