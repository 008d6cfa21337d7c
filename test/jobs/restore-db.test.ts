// `restore db` round trips for SQLite (to a file, atomically) and MariaDB (into
// a new database by default), the refusals that change nothing (a non-empty
// target without --yes, a damaged artifact), and a client error that fails
// the restore and drops the half-restored new database.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { countRows, openSqlite } from '../../src/sources/sqlite-database.ts';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import { startPrivateMariadb, type PrivateMariadb } from '../support/mariadb.ts';
import { createShopDatabase, writeShopConfig } from '../support/shop-database.ts';

let server: PrivateMariadb;
before(async () => {
  server = await startPrivateMariadb();
  await createShopDatabase(server);
});
after(async () => server?.stop());

function mysqlConfig(root: string): string {
  return writeShopConfig(root, server);
}

function latestManifestPath(repository: string): string {
  const names = readdirSync(join(repository, 'manifests')).sort();
  return join(repository, 'manifests', names[names.length - 1]!);
}

const checksum = async (table: string) => (await server.rootQuery<{ Checksum: number }>(`CHECKSUM TABLE ${table}`))[0]!.Checksum;

test('sqlite: restores to a new file by default; refuses a non-empty target without --yes; --yes replaces it atomically', async (t) => {
  const app = makeSampleApp(tempDir(t));
  assert.equal((await runCli(['-c', app.configPath, 'backup'])).code, 0);
  const restored = await runCli(['-c', app.configPath, 'restore', 'db', '--json']);
  assert.equal(restored.code, 0, restored.stderr);
  const outcome = JSON.parse(restored.stdout);
  const path = outcome.target.replace(/^file /, '');
  assert.ok(path.startsWith(`${app.databasePath}.restored-`));
  const copy = openSqlite(path, { readonly: true });
  assert.equal(countRows(copy, 'users'), 1000);
  copy.close();

  const target = join(app.root, 'existing.sqlite');
  writeFileSync(target, 'precious');
  const refused = await runCli(['-c', app.configPath, 'restore', 'db', '--into', target]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /not empty; nothing was changed/);
  assert.equal(readFileSync(target, 'utf8'), 'precious');
  const forced = await runCli(['-c', app.configPath, 'restore', 'db', '--into', target, '--yes']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(readFileSync(target).subarray(0, 15).toString(), 'SQLite format 3');
  assert.ok(!existsSync(`${target}.partial`));
});

test('sqlite: a damaged artifact is refused and the target never appears', async (t) => {
  const app = makeSampleApp(tempDir(t));
  assert.equal((await runCli(['-c', app.configPath, 'backup'])).code, 0);
  const manifest = JSON.parse(readFileSync(latestManifestPath(app.repository), 'utf8'));
  const artifact = join(app.repository, manifest.artifacts[0].path);
  const bytes = readFileSync(artifact);
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  writeFileSync(artifact, bytes);
  const target = join(app.root, 'restored.sqlite');
  const result = await runCli(['-c', app.configPath, 'restore', 'db', '--into', target]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /damaged|gzip|sha256/i);
  assert.ok(!existsSync(target) && !existsSync(`${target}.partial`));
});

test('mysql: restore into a new database gives identical tables and views; the target is printed first', async (t) => {
  const root = tempDir(t);
  const config = mysqlConfig(root);
  assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
  const result = await runCli(['-c', config, 'restore', 'db', '--into', 'shop_copy']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^restoring db of set \S+ into database shop_copy at .* \(new\)/m);
  assert.equal(await checksum('shop_copy.products'), await checksum('shop.products'));
  assert.deepEqual(await server.rootQuery(`SELECT * FROM shop_copy.titles ORDER BY title`), await server.rootQuery(`SELECT * FROM shop.titles ORDER BY title`));
});

test('mysql: a non-empty target is refused without --yes and left unchanged', async (t) => {
  const root = tempDir(t);
  const config = mysqlConfig(root);
  assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
  await server.createDatabase('live');
  await server.rootQuery(`CREATE TABLE live.keep (id INT); INSERT INTO live.keep VALUES (42)`);
  const refused = await runCli(['-c', config, 'restore', 'db', '--into', 'live']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /database live at .* is not empty .*; nothing was changed/);
  assert.match(refused.stderr, /next: restore into a new database/);
  assert.deepEqual(await server.rootQuery(`SHOW TABLES FROM live`), [{ Tables_in_live: 'keep' }]);
  const forced = await runCli(['-c', config, 'restore', 'db', '--into', 'live', '--yes']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(await checksum('live.products'), await checksum('shop.products'));
});

test('mysql: an SQL error from the client fails the restore (exit 2) and drops the new database', async (t) => {
  const root = tempDir(t);
  const config = mysqlConfig(root);
  assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
  // An artifact that is intact as a file (sha256 and gzip agree) but whose SQL fails half-way.
  const manifestPath = latestManifestPath(join(root, 'backups'));
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const broken = gzipSync('CREATE TABLE ok_table (id INT);\nINSERT INTO no_such_table VALUES (1);\nCREATE TABLE never (id INT);\n-- Dump completed\n');
  writeFileSync(join(root, 'backups', manifest.artifacts[0].path), broken);
  manifest.artifacts[0].sha256 = createHash('sha256').update(broken).digest('hex');
  manifest.artifacts[0].sizeBytes = broken.length;
  writeFileSync(manifestPath, JSON.stringify(manifest));
  const result = await runCli(['-c', config, 'restore', 'db', '--into', 'shop_broken']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /ERROR 1146/);
  assert.deepEqual(await server.rootQuery(`SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop_broken'`), [], 'the half-restored database is gone');
});

test('mysql: an artifact cut short fails the restore as damaged, even though the client ran what it got, and drops the new database', async (t) => {
  const root = tempDir(t);
  const config = mysqlConfig(root);
  assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
  // Valid SQL that the client executes happily, in a gzip member cut before its end:
  // the decompressor (a child feeding the client directly) must be what fails the restore.
  const manifestPath = latestManifestPath(join(root, 'backups'));
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const sql = `CREATE TABLE first_half (id INT);\n${'INSERT INTO first_half VALUES (1);\n'.repeat(20_000)}CREATE TABLE never_reached (id INT);\n`;
  const whole = gzipSync(sql);
  writeFileSync(join(root, 'backups', manifest.artifacts[0].path), whole.subarray(0, Math.floor(whole.length * 0.6)));
  const result = await runCli(['-c', config, 'restore', 'db', '--into', 'shop_cut']);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, /is damaged: its sha256 differs from the manifest's/);
  assert.doesNotMatch(result.stderr, /at Object\.|node:internal/, 'no stack trace');
  assert.deepEqual(await server.rootQuery(`SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop_cut'`), [], 'the half-restored database is gone');
});
