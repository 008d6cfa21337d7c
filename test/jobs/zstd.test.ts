// `compression: zstd` end to end through the real CLI on an SQLite + files app:
// `.sqlite.zst`/`.tar.zst` artifacts that the stock zstd and GNU tar read,
// verify, restore and drill on them, a truncated artifact, a machine without
// zstd (nothing published, the install hint), and one MariaDB dump restored
// with `zstd -dc x.sql.zst | mariadb other_db`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { countRows, openSqlite } from '../../src/sources/sqlite-database.ts';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { makeSampleApp, type SampleApp } from '../support/sample-app.ts';
import { startPrivateMariadb } from '../support/mariadb.ts';
import { createShopDatabase, writeShopConfig } from '../support/shop-database.ts';

interface ManifestArtifact {
  source: string;
  path: string;
  compression: string;
  sizeBytes: number;
  sha256: string;
  index?: { path: string };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function zstdApp(root: string): SampleApp {
  const app = makeSampleApp(root);
  appendFileSync(app.configPath, 'compression: zstd\n');
  return app;
}

async function backedUp(t: { after(fn: () => void): void }): Promise<{ app: SampleApp; setId: string; artifacts: ManifestArtifact[] }> {
  const app = zstdApp(tempDir(t));
  const result = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const [manifestName] = readdirSync(join(app.repository, 'manifests'));
  const manifest = JSON.parse(readFileSync(join(app.repository, 'manifests', manifestName!), 'utf8'));
  return { app, setId: manifest.setId, artifacts: manifest.artifacts };
}

function artifactOf(artifacts: ManifestArtifact[], source: string): ManifestArtifact {
  return artifacts.find((artifact) => artifact.source === source)!;
}

/** Every regular file under `dir`, relative path -> content. */
function tree(dir: string): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const path = join(dir, name);
    if (statSync(path).isFile()) files[relative(dir, path)] = readFileSync(path);
  }
  return files;
}

test('zstd: .zst artifacts that zstd -t accepts and zstd -dc | tar reads back, byte for byte', async (t) => {
  const { app, setId, artifacts } = await backedUp(t);
  const dbArtifact = join(app.repository, 'db', `db_backup_${setId}.sqlite.zst`);
  const filesArtifact = join(app.repository, 'files', `files_backup_${setId}.tar.zst`);
  const configArtifact = join(app.repository, 'config', `config_backup_${setId}.tar.zst`);
  assert.deepEqual(artifacts.map((artifact) => artifact.path), [dbArtifact, filesArtifact, configArtifact].map((path) => relative(app.repository, path)));
  for (const artifact of artifacts) {
    assert.equal(artifact.compression, 'zstd');
    const bytes = readFileSync(join(app.repository, artifact.path));
    assert.equal(artifact.sha256, sha256(bytes), `sha256 of ${artifact.path}`);
    assert.equal(artifact.sizeBytes, bytes.length);
  }
  // The entry index stays ours: gzip, whatever the artifacts use.
  assert.equal(artifactOf(artifacts, 'files').index?.path, `files/files_index_${setId}.jsonl.gz`);
  execFileSync('gunzip', ['-t', join(app.repository, artifactOf(artifacts, 'files').index!.path)]);

  execFileSync('zstd', ['-t', '-q', dbArtifact, filesArtifact, configArtifact]);
  const listing = execFileSync('sh', ['-c', `zstd -dc "${filesArtifact}" | tar -t`], { encoding: 'utf8' });
  assert.ok(listing.includes(`${app.uploadsDir.slice(1)}/public/photo.jpg`), listing);

  const extractTo = join(app.root, 'extract');
  mkdirSync(extractTo);
  execFileSync('sh', ['-c', `zstd -dc "${filesArtifact}" | tar -x -C "${extractTo}"`]);
  assert.deepEqual(tree(join(extractTo, app.uploadsDir)), tree(app.uploadsDir));

  const restoredDb = join(app.root, 'restored.sqlite');
  execFileSync('sh', ['-c', `zstd -dc "${dbArtifact}" > "${restoredDb}"`]);
  const restored = openSqlite(restoredDb, { readonly: true });
  assert.equal(countRows(restored, 'users'), 1000);
  restored.close();
});

test('zstd: verify passes with a check named zstd; restore files, restore db and drill round-trip', async (t) => {
  const { app } = await backedUp(t);
  const verified = await runCli(['-c', app.configPath, 'verify']);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  assert.match(verified.stdout, /ok +db\/db_backup_.*\.sqlite\.zst .*\[present size sha256 zstd sqlite row-counts raw-size\]/);
  assert.match(verified.stdout, /ok +files\/files_backup_.*\.tar\.zst .*, 4 entries +\[present size sha256 zstd tar entries raw-size\]/);
  assert.match(verified.stdout, /ok +files\/files_index_.*\.jsonl\.gz .*\[present size sha256 gzip index entries\]/);

  const target = join(app.root, 'restored-files');
  const files = await runCli(['-c', app.configPath, 'restore', 'files', '--source', 'files', '--to', target]);
  assert.equal(files.code, 0, files.stdout + files.stderr);
  assert.deepEqual(tree(join(target, app.uploadsDir)), tree(app.uploadsDir));

  const restoredDb = join(app.root, 'restored.sqlite');
  const db = await runCli(['-c', app.configPath, 'restore', 'db', '--into', restoredDb]);
  assert.equal(db.code, 0, db.stdout + db.stderr);
  const copy = openSqlite(restoredDb, { readonly: true });
  assert.equal(countRows(copy, 'users'), 1000);
  copy.close();

  const drill = await runCli(['-c', app.configPath, 'drill']);
  assert.equal(drill.code, 0, drill.stdout + drill.stderr);
  assert.match(drill.stdout, /drill OK/);
});

test('zstd: a .tar.zst cut in the middle fails verify (exit 2) naming the artifact and the truncation', async (t) => {
  const { app, artifacts } = await backedUp(t);
  const files = artifactOf(artifacts, 'files');
  const path = join(app.repository, files.path);
  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const result = await runCli(['-c', app.configPath, 'verify']);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.ok(result.stdout.includes(`FAILED  ${files.path}: size differs from the manifest`), result.stdout);
  assert.ok(result.stderr.includes(`verify FAILED: set `) && result.stderr.includes(files.path), result.stderr);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');

  const json = JSON.parse((await runCli(['-c', app.configPath, 'verify', '--json'])).stdout);
  const failed = json.sets[0].files.find((file: { path: string }) => file.path === files.path);
  assert.deepEqual(failed.failures.map((failure: { check: string }) => failure.check), ['size', 'sha256', 'zstd']);
  assert.match(failed.failures[2].message, /^zstd stream truncated \(zstd: .+\)$/);

  const restore = await runCli(['-c', app.configPath, 'restore', 'files', '--source', 'files', '--to', join(app.root, 'never')]);
  assert.equal(restore.code, 2, restore.stdout + restore.stderr);
  assert.match(restore.stderr, /is damaged: size differs/);
  assert.ok(!existsSync(join(app.root, 'never')));
});

test('zstd: without zstd on PATH the backup fails (exit 2) with the install hint and publishes nothing', async (t) => {
  const app = zstdApp(tempDir(t));
  // A PATH that holds node and nothing else.
  const bin = join(app.root, 'bin-without-zstd');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  const result = await runCli(['-c', app.configPath, 'backup'], { env: { PATH: bin } });
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, /zstd is not installed \(needed by compression: zstd\)/);
  assert.match(result.stderr, /next: install it \(apt-get install zstd\) or set compression: gzip/);
  assert.match(result.stderr, /nothing was published/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(readdirSync(join(app.repository, 'manifests')), []);
  const leftovers = readdirSync(app.repository, { recursive: true, encoding: 'utf8' }).filter((name) => /\.(zst|gz|partial)$/.test(name));
  assert.deepEqual(leftovers, []);

  // The same machine can read no .zst artifact either: verify says what to install, not that the set is damaged.
  assert.equal((await runCli(['-c', app.configPath, 'backup'])).code, 0);
  const verify = await runCli(['-c', app.configPath, 'verify'], { env: { PATH: bin } });
  assert.equal(verify.code, 2, verify.stdout + verify.stderr);
  assert.match(verify.stderr, /zstd is not installed .*\n  next: install it \(apt-get install zstd\)/);
  assert.doesNotMatch(verify.stderr, /damaged|do not rely/);
});

test('zstd: a MariaDB dump restores with zstd -dc x.sql.zst | mariadb other_db', async (t) => {
  const server = await startPrivateMariadb();
  t.after(() => server.stop());
  await createShopDatabase(server);
  const root = tempDir(t);
  const config = writeShopConfig(root, server, 'compression: { algorithm: zstd, level: 6, workers: 1 }\n');
  const backup = await runCli(['-c', config, 'backup']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  const [dump] = readdirSync(join(root, 'backups/db'));
  assert.match(dump!, /^db_backup_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\.sql\.zst$/);

  const verify = await runCli(['-c', config, 'verify']);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /\[present size sha256 zstd dump-trailer row-counts raw-size\]/);

  await server.createDatabase('shop_by_hand');
  execFileSync('sh', ['-c', `zstd -dc "${join(root, 'backups/db', dump!)}" | mariadb ${server.clientArgs.map((arg) => `'${arg}'`).join(' ')} shop_by_hand`]);
  const checksum = async (table: string) => (await server.rootQuery<{ Checksum: number }>(`CHECKSUM TABLE ${table}`))[0]!.Checksum;
  assert.equal(await checksum('shop_by_hand.products'), await checksum('shop.products'));

  const restored = await runCli(['-c', config, 'restore', 'db', '--into', 'shop_restored']);
  assert.equal(restored.code, 0, restored.stdout + restored.stderr);
  assert.equal(await checksum('shop_restored.products'), await checksum('shop.products'));
  assert.deepEqual(await server.rootQuery('SELECT * FROM shop_restored.titles ORDER BY title'), await server.rootQuery('SELECT * FROM shop.titles ORDER BY title'));
});
