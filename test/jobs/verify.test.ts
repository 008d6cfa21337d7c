// `restorable verify` through the real CLI on sets made by real backups of the
// sample app (SQLite + uploads + .env): a good set passes, and every kind of
// damage is caught by the layer that can see it: a missing file, a cut-off
// file and a flipped byte by size/sha256; the same flip with a manifest that
// agrees by the gzip CRC; a cut-off tar inside a valid gzip by the tar reader;
// a dump without its trailer by the trailer check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { makeSampleApp, type SampleApp } from '../support/sample-app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { silentReporter } from '../../src/core/ports.ts';
import type { ArtifactRecord, Manifest } from '../../src/core/manifest.ts';

interface BackedUp {
  app: SampleApp;
  setId: string;
  manifest: Manifest;
}

async function backUp(app: SampleApp, at: string): Promise<{ setId: string; manifest: Manifest }> {
  const outcome = await runBackup({ loaded: loadConfig(app.configPath), clock: { now: () => new Date(at) }, reporter: silentReporter });
  assert.equal(outcome.status, 'ok', outcome.error?.message);
  return { setId: outcome.setId!, manifest: outcome.manifest! };
}

async function backedUpApp(t: { after(fn: () => void): void }): Promise<BackedUp> {
  const app = makeSampleApp(tempDir(t));
  return { app, ...(await backUp(app, '2026-11-26T03:00:00Z')) };
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function artifactOf(manifest: Manifest, source: string): ArtifactRecord {
  const artifact = manifest.artifacts.find((each) => each.source === source);
  assert.ok(artifact, `the set has a ${source} artifact`);
  return artifact;
}

function manifestFile(app: SampleApp, setId: string): string {
  return join(app.repository, 'manifests', `${setId}.json`);
}

function patchManifest(app: SampleApp, setId: string, change: (manifest: Manifest) => void): void {
  const manifest = JSON.parse(readFileSync(manifestFile(app, setId), 'utf8')) as Manifest;
  change(manifest);
  writeFileSync(manifestFile(app, setId), JSON.stringify(manifest, null, 2));
}

/** Replaces a stored file and makes the manifest agree with its new size and sha256 (so only the deep checks can object). */
function replaceWithManifestAgreeing(app: SampleApp, setId: string, relativePath: string, content: Buffer): void {
  writeFileSync(join(app.repository, relativePath), content);
  patchManifest(app, setId, (manifest) => {
    const artifact = manifest.artifacts.find((each) => each.path === relativePath)!;
    artifact.sha256 = sha256(content);
    artifact.sizeBytes = content.length;
  });
}

function flipByteInTheMiddle(path: string): Buffer {
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  writeFileSync(path, bytes);
  return bytes;
}

interface JsonFile {
  path: string;
  status: string;
  failures: { check: string; message: string }[];
}

function jsonFiles(stdout: string): { status: string; sets: { setId: string; status: string; files: JsonFile[] }[] } {
  return JSON.parse(stdout);
}

test('a good set passes: every artifact and index is listed as ok, exit 0', async (t) => {
  const { app, setId, manifest } = await backedUpApp(t);
  const result = await runCli(['-c', app.configPath, 'verify']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  for (const artifact of manifest.artifacts) {
    assert.match(result.stdout, new RegExp(`ok +${artifact.path.replaceAll('.', '\\.')} `), `${artifact.path} listed as ok`);
  }
  assert.match(result.stdout, /ok +db\/db_backup_.*\[present size sha256 gzip sqlite row-counts raw-size\]/);
  assert.match(result.stdout, /ok +files\/files_backup_.*, 4 entries +\[present size sha256 gzip tar entries raw-size\]/);
  assert.match(result.stdout, /verify OK: 1 set\(s\), 5 file\(s\) checked/);

  const json = await runCli(['-c', app.configPath, 'verify', setId, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const outcome = jsonFiles(json.stdout);
  assert.equal(outcome.status, 'ok');
  assert.deepEqual(
    outcome.sets[0]!.files.map((file) => [file.path, file.status]),
    manifest.artifacts.flatMap((artifact) => [[artifact.path, 'ok'], ...(artifact.index ? [[artifact.index.path, 'ok']] : [])]),
  );
});

test('a flipped byte in the middle of the files artifact: exit 2, naming the artifact and its sha256', async (t) => {
  const { app, manifest } = await backedUpApp(t);
  const files = artifactOf(manifest, 'files');
  const damaged = flipByteInTheMiddle(join(app.repository, files.path));
  const result = await runCli(['-c', app.configPath, 'verify']);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  const expected = `${files.path}: sha256 differs from the manifest (expected ${files.sha256}, got ${sha256(damaged)})`;
  assert.ok(result.stdout.includes(`FAILED  ${expected}`), result.stdout);
  assert.ok(result.stderr.includes(`verify FAILED: set ${manifest.setId}: ${expected}`), result.stderr);
  assert.match(result.stderr, /next: do not rely on the failed set/);
  assert.match(result.stdout, /ok +db\/db_backup_/, 'the other artifacts are still checked and listed');
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
});

test('the same flip with a manifest that agrees: the gzip check catches it', async (t) => {
  const { app, setId, manifest } = await backedUpApp(t);
  const files = artifactOf(manifest, 'files');
  const path = join(app.repository, files.path);
  replaceWithManifestAgreeing(app, setId, files.path, flipByteInTheMiddle(path));
  const result = await runCli(['-c', app.configPath, 'verify', '--json']);
  assert.equal(result.code, 2, result.stdout);
  const file = jsonFiles(result.stdout).sets[0]!.files.find((each) => each.path === files.path)!;
  assert.equal(file.status, 'failed');
  assert.equal(file.failures[0]!.check, 'gzip', JSON.stringify(file.failures));
  assert.match(file.failures[0]!.message, /^gzip stream corrupt \(/);

  const text = await runCli(['-c', app.configPath, 'verify']);
  assert.equal(text.code, 2);
  assert.ok(text.stdout.includes(`FAILED  ${files.path}: gzip stream corrupt (`), text.stdout);
});

test('an artifact cut short by 100 bytes: exit 2, size and gzip truncation named', async (t) => {
  const { app, manifest } = await backedUpApp(t);
  const files = artifactOf(manifest, 'files');
  const path = join(app.repository, files.path);
  truncateSync(path, statSync(path).size - 100);
  const result = await runCli(['-c', app.configPath, 'verify', '--json']);
  assert.equal(result.code, 2, result.stdout);
  const file = jsonFiles(result.stdout).sets[0]!.files.find((each) => each.path === files.path)!;
  assert.deepEqual(
    file.failures.map((failure) => failure.check),
    ['size', 'sha256', 'gzip'],
  );
  assert.equal(file.failures[0]!.message, `size differs from the manifest (expected ${files.sizeBytes} bytes, got ${files.sizeBytes - 100}): the file is truncated`);
  assert.equal(file.failures[2]!.message, 'gzip stream truncated (unexpected end of file)');
});

test('a deleted artifact: exit 2, reported missing, and the rest of the set is still checked', async (t) => {
  const { app, manifest } = await backedUpApp(t);
  const db = artifactOf(manifest, 'db');
  rmSync(join(app.repository, db.path));
  const result = await runCli(['-c', app.configPath, 'verify']);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.ok(result.stdout.includes(`FAILED  ${db.path}: missing from local repository ${app.repository}`), result.stdout);
  assert.match(result.stdout, /ok +files\/files_backup_/);
});

test('a valid gzip of a tar cut mid-entry, with an agreeing manifest: the tar check catches it', async (t) => {
  const { app, setId, manifest } = await backedUpApp(t);
  const files = artifactOf(manifest, 'files');
  const tar = gunzipSync(readFileSync(join(app.repository, files.path)));
  // Halfway through the archive is inside photo.jpg's 50 KB body.
  const cut = gzipSync(tar.subarray(0, Math.floor(tar.length / 2)));
  replaceWithManifestAgreeing(app, setId, files.path, cut);
  const result = await runCli(['-c', app.configPath, 'verify', '--json']);
  assert.equal(result.code, 2, result.stdout);
  const file = jsonFiles(result.stdout).sets[0]!.files.find((each) => each.path === files.path)!;
  assert.equal(file.failures[0]!.check, 'tar', JSON.stringify(file.failures));
  assert.match(file.failures[0]!.message, /^tar archive unreadable: .*Truncated input/);
});

test('a tar that ends cleanly between entries but lacks entries and its end marker is caught', async (t) => {
  const { app, setId, manifest } = await backedUpApp(t);
  const files = artifactOf(manifest, 'files');
  const tar = gunzipSync(readFileSync(join(app.repository, files.path)));
  // The first entry is the root directory: one 512-byte header, no body.
  replaceWithManifestAgreeing(app, setId, files.path, gzipSync(tar.subarray(0, 512)));
  const result = await runCli(['-c', app.configPath, 'verify', '--json']);
  assert.equal(result.code, 2, result.stdout);
  const file = jsonFiles(result.stdout).sets[0]!.files.find((each) => each.path === files.path)!;
  assert.equal(file.failures[0]!.check, 'tar');
  assert.equal(file.failures[0]!.message, 'tar archive ends after 1 entries without its end-of-archive marker: it was cut short');
});

test('a multi-member gzip (as parallel compressors write) is valid and passes', async (t) => {
  const { app, setId, manifest } = await backedUpApp(t);
  const files = artifactOf(manifest, 'files');
  const tar = gunzipSync(readFileSync(join(app.repository, files.path)));
  const middle = Math.floor(tar.length / 3);
  const members = Buffer.concat([gzipSync(tar.subarray(0, middle)), gzipSync(tar.subarray(middle, 2 * middle)), gzipSync(tar.subarray(2 * middle))]);
  replaceWithManifestAgreeing(app, setId, files.path, members);
  const result = await runCli(['-c', app.configPath, 'verify']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /ok +files\/files_backup_.*4 entries/);
});

test('a MySQL dump without its `-- Dump completed` trailer fails; the same dump with it passes', async (t) => {
  const { app, setId } = await backedUpApp(t);
  const dumpPath = `mysqldb/mysqldb_backup_${setId}.sql.gz`;
  const body = [
    '-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB',
    'CREATE TABLE `users` (',
    '  `id` int(11) NOT NULL',
    ') ENGINE=InnoDB;',
    'INSERT INTO `users` VALUES (1),(2),(3);',
    '',
  ].join('\n');
  const publishDump = (sql: string): void => {
    const content = gzipSync(Buffer.from(sql));
    mkdirSync(join(app.repository, 'mysqldb'), { recursive: true });
    writeFileSync(join(app.repository, dumpPath), content);
    patchManifest(app, setId, (manifest) => {
      manifest.artifacts = manifest.artifacts.filter((artifact) => artifact.source !== 'mysqldb');
      manifest.artifacts.push({
        source: 'mysqldb',
        type: 'mysql',
        path: dumpPath,
        compression: 'gzip',
        sizeBytes: content.length,
        sha256: sha256(content),
        rawSizeBytes: Buffer.byteLength(sql),
        durationMs: 1,
        warnings: [],
        details: { tables: { users: { engine: 'InnoDB', rows: 3 } } },
      });
    });
  };

  publishDump(`${body}-- Dump completed on 2026-11-26  3:00:00\n`);
  const complete = await runCli(['-c', app.configPath, 'verify']);
  assert.equal(complete.code, 0, complete.stdout + complete.stderr);
  assert.match(complete.stdout, /ok +mysqldb\/mysqldb_backup_.*\[present size sha256 gzip dump-trailer row-counts raw-size\]/);

  publishDump(body);
  const cut = await runCli(['-c', app.configPath, 'verify']);
  assert.equal(cut.code, 2, cut.stdout + cut.stderr);
  assert.ok(cut.stdout.includes(`FAILED  ${dumpPath}: the dump does not end with its \`-- Dump completed\` trailer: it was cut short`), cut.stdout);
});

test('an SQLite artifact that is not a database fails the SQLite check', async (t) => {
  const { app, setId, manifest } = await backedUpApp(t);
  const db = artifactOf(manifest, 'db');
  replaceWithManifestAgreeing(app, setId, db.path, gzipSync(Buffer.from('this is not a database, only text\n'.repeat(10))));
  const result = await runCli(['-c', app.configPath, 'verify']);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.ok(result.stdout.includes(`FAILED  ${db.path}: not an SQLite database: it starts with "this is not a da"`), result.stdout);
});

test('--all checks every set: latest alone passes, --all fails naming the damaged older set', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const older = await backUp(app, '2026-11-25T03:00:00Z');
  const newer = await backUp(app, '2026-11-26T03:00:00Z');
  const config = artifactOf(older.manifest, 'config');
  flipByteInTheMiddle(join(app.repository, config.path));

  const latest = await runCli(['-c', app.configPath, 'verify', 'latest']);
  assert.equal(latest.code, 0, latest.stdout + latest.stderr);
  assert.ok(latest.stdout.includes(`set ${newer.setId} in`));
  assert.ok(!latest.stdout.includes(older.setId), 'only the newest set is checked by default');

  const all = await runCli(['-c', app.configPath, 'verify', '--all']);
  assert.equal(all.code, 2, all.stdout + all.stderr);
  assert.ok(all.stdout.includes(`set ${newer.setId} in`) && all.stdout.includes(`set ${older.setId} in`), all.stdout);
  assert.ok(all.stderr.includes(`verify FAILED: set ${older.setId}: ${config.path}: sha256 differs`), all.stderr);

  const json = jsonFiles((await runCli(['-c', app.configPath, 'verify', '--all', '--json'])).stdout);
  assert.deepEqual(
    json.sets.map((set) => [set.setId, set.status]),
    [
      [newer.setId, 'ok'],
      [older.setId, 'failed'],
    ],
  );

  const named = await runCli(['-c', app.configPath, 'verify', older.setId]);
  assert.equal(named.code, 2);
  const unknown = await runCli(['-c', app.configPath, 'verify', '2020-01-01_00-00-00']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /set 2020-01-01_00-00-00 does not exist/);
});
