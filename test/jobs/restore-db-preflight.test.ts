// `restore db` pre-flight (issue 10 §2, §3 "Large rows"): before the first
// statement reaches the server, the restoring account's privileges (SET USER
// when the dump's definers are someone else, CREATE ROUTINE, ...) and the
// server's max_allowed_packet are checked against what the set recorded, and a
// restore that would fail half-way is refused with the exact fix, the target
// untouched. The restore can run as another account (restore.mysql or
// --defaults-file). A load that still dies of a too-small packet says so,
// without kilobytes of hex.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { initRepositoryOf } from '../support/initialised-repository.ts';
import { runCli } from '../support/cli.ts';
import { startPrivateMariadb, type PrivateMariadb } from '../support/mariadb.ts';
import { createShopDatabase, writeShopConfig } from '../support/shop-database.ts';
import { missingRestorePrivileges, restoreGrants } from '../../src/sources/mysql-restore-preflight.ts';
import { parseServerVersion } from '../../src/sources/mysql-privileges.ts';

let server: PrivateMariadb;
before(async () => {
  server = await startPrivateMariadb();
  await createShopDatabase(server);
  // Objects owned by root, as an administrator creates them for the application.
  await server.rootQuery(`
    CREATE FUNCTION shop.with_tax(p DECIMAL(10,2)) RETURNS DECIMAL(10,2) DETERMINISTIC RETURN p * 1.19;
    CREATE VIEW shop.cheap AS SELECT id, title FROM shop.products WHERE id < 2;
    CREATE TABLE shop.audit (id INT PRIMARY KEY AUTO_INCREMENT, title VARCHAR(200));
    USE shop;
    CREATE TRIGGER products_audit AFTER INSERT ON products FOR EACH ROW INSERT INTO audit (title) VALUES (NEW.title);
    CREATE USER 'app'@'localhost' IDENTIFIED BY 'app-secret-pw';
    GRANT ALL ON \`live_copy\`.* TO 'app'@'localhost';
    CREATE USER 'restorer'@'localhost' IDENTIFIED BY 'restorer-secret-pw';
    GRANT SELECT, INSERT, CREATE, DROP, ALTER, INDEX, LOCK TABLES, CREATE VIEW, SHOW VIEW, TRIGGER, EVENT ON \`fresh_db\`.* TO 'restorer'@'localhost';
    GRANT SET USER ON *.* TO 'restorer'@'localhost';
  `);
});
after(async () => server?.stop());

function manifestPaths(repository: string): string[] {
  return readdirSync(join(repository, 'manifests')).filter((name) => name.endsWith('.json')).sort().map((name) => join(repository, 'manifests', name));
}

async function schemaExists(name: string): Promise<boolean> {
  return (await server.rootQuery(`SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, [name])).length > 0;
}

test('root-owned routines and views restored as the app account: refused before the first statement with the exact GRANT; after it, everything is restored for real', async (t) => {
  const root = tempDir(t);
  const config = writeShopConfig(root, server);
  assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
  await server.createDatabase('live_copy');
  await server.rootQuery(`CREATE TABLE live_copy.keep (id INT); INSERT INTO live_copy.keep VALUES (42)`);
  const optionFile = join(root, 'app.cnf');
  writeFileSync(optionFile, `# the application's account\n[client]\nuser = app\npassword = "app-secret-pw"\nsocket = ${server.socket}\n`, { mode: 0o600 });

  const refused = await runCli(['-c', config, 'restore', 'db', '--into', 'live_copy', '--yes', '--defaults-file', optionFile]);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /app@localhost lacks SET USER/);
  assert.match(refused.stderr, /root@localhost/, 'names the definer the dump creates objects for');
  assert.match(refused.stderr, /GRANT SET USER ON \*\.\* TO 'app'@'localhost';/);
  assert.match(refused.stderr, /nothing was changed/);
  assert.doesNotMatch(refused.stderr + refused.stdout, /app-secret-pw/, 'the password never shows');
  assert.deepEqual(await server.rootQuery(`SELECT * FROM live_copy.keep`), [{ id: 42 }], 'the target is untouched');
  assert.deepEqual(await server.rootQuery(`SHOW TABLES FROM live_copy`), [{ Tables_in_live_copy: 'keep' }]);
  assert.equal(manifestPaths(join(root, 'backups')).length, 1, 'no safety set is taken when the restore is refused up front');

  const json = await runCli(['-c', config, 'restore', 'db', '--into', 'live_copy', '--yes', '--defaults-file', optionFile, '--json']);
  assert.equal(JSON.parse(json.stdout).error.code, 'RESTORE_PREFLIGHT_FAILED');

  await server.rootQuery(`GRANT SET USER ON *.* TO 'app'@'localhost'`);
  const restored = await runCli(['-c', config, 'restore', 'db', '--into', 'live_copy', '--yes', '--defaults-file', optionFile]);
  assert.equal(restored.code, 0, restored.stdout + restored.stderr);
  const views = await server.rootQuery<{ name: string; definer: string; definition: string }>(
    `SELECT TABLE_NAME AS name, DEFINER AS definer, VIEW_DEFINITION AS definition FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'live_copy' ORDER BY TABLE_NAME`,
  );
  assert.deepEqual(views.map((view) => [view.name, view.definer]), [['cheap', 'root@localhost'], ['titles', 'root@localhost']]);
  for (const view of views) assert.doesNotMatch(view.definition, /NULL AS/i, `${view.name} is a real view, not a stub`);
  assert.deepEqual(await server.rootQuery(`SELECT live_copy.with_tax(100) AS price`), [{ price: '119.00' }]);
  assert.deepEqual(await server.rootQuery(`SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'live_copy'`), [{ name: 'products_audit' }]);
  await server.rootQuery(`REVOKE SET USER ON *.* FROM 'app'@'localhost'`);
});

test('restore.mysql: an account without CREATE ROUTINE on the new database is refused before the database is created, naming the GRANT', async (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'restorer.pw'), 'restorer-secret-pw\n', { mode: 0o600 });
  const config = writeShopConfig(root, server, `restore:\n  mysql: { socket: ${server.socket}, user: restorer, password_file: restorer.pw }\n`);
  assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
  const refused = await runCli(['-c', config, 'restore', 'db', '--into', 'fresh_db']);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /restorer@localhost lacks CREATE ROUTINE/);
  assert.match(refused.stderr, /GRANT CREATE ROUTINE ON `fresh\\_db`\.\* TO 'restorer'@'localhost';/, 'the GRANT escapes `_`, a wildcard in GRANT database names');
  assert.doesNotMatch(refused.stderr, /SET USER/, 'restorer may already create objects for other definers');
  assert.equal(await schemaExists('fresh_db'), false, 'the database was not created');

  await server.rootQuery(`GRANT CREATE ROUTINE, ALTER ROUTINE ON \`fresh_db\`.* TO 'restorer'@'localhost'`);
  const restored = await runCli(['-c', config, 'restore', 'db', '--into', 'fresh_db']);
  assert.equal(restored.code, 0, restored.stdout + restored.stderr);
  assert.match(restored.stdout, /as restorer@localhost/);
  assert.deepEqual(await server.rootQuery(`SELECT fresh_db.with_tax(10) AS price`), [{ price: '11.90' }]);
});

test('max_allowed_packet: a set whose largest statement the server would refuse is refused with SET GLOBAL and the my.cnf setting', async (t) => {
  const root = tempDir(t);
  const config = writeShopConfig(root, server);
  assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
  // As the scanner records it for a set with a 6 MB statement (a 3 MB BLOB, hex-encoded).
  const [manifestPath] = manifestPaths(join(root, 'backups'));
  const manifest = JSON.parse(readFileSync(manifestPath!, 'utf8'));
  manifest.artifacts[0].details.maxStatementBytes = 6 * 1024 * 1024;
  writeFileSync(manifestPath!, JSON.stringify(manifest));
  await server.rootQuery(`SET GLOBAL max_allowed_packet = 4194304`);
  t.after(() => server.rootQuery(`SET GLOBAL max_allowed_packet = 268435456`));
  const refused = await runCli(['-c', config, 'restore', 'db', '--into', 'packet_db']);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /max_allowed_packet is 4 MiB .* 6 MiB/);
  assert.match(refused.stderr, /SET GLOBAL max_allowed_packet=\d+;/);
  assert.match(refused.stderr, /max_allowed_packet\s*=\s*\d+M? .*\[mysqld\]/);
  assert.equal(await schemaExists('packet_db'), false);
});

test('a load that dies of a too-small server packet names max_allowed_packet, without kilobytes of hex', async (t) => {
  const root = tempDir(t);
  await server.createDatabase('media');
  await server.rootQuery(`CREATE TABLE media.files (id INT PRIMARY KEY, body LONGBLOB); INSERT INTO media.files VALUES (1, REPEAT(UNHEX('A5'), 3 * 1024 * 1024)), (2, 'small')`);
  const config = join(root, 'restorable.yml');
  writeFileSync(config, `app: media\nrepository: ${join(root, 'backups')}\nsources:\n  db: { type: mysql, socket: ${server.socket}, user: root, database: media }\nmonitor: { min_free: 1MB }\n`);
  initRepositoryOf(config);
  assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
  // A set made before the largest statement was recorded: the pre-flight cannot know, the load finds out.
  const [manifestPath] = manifestPaths(join(root, 'backups'));
  const manifest = JSON.parse(readFileSync(manifestPath!, 'utf8'));
  delete manifest.artifacts[0].details.maxStatementBytes;
  for (const table of Object.values(manifest.artifacts[0].details.tables ?? {})) delete (table as Record<string, unknown>).maxRowBytes;
  writeFileSync(manifestPath!, JSON.stringify(manifest));
  await server.rootQuery(`SET GLOBAL max_allowed_packet = 4194304`);
  t.after(() => server.rootQuery(`SET GLOBAL max_allowed_packet = 268435456`));

  // A backup now succeeds, but warns that this server could not load its dump back.
  const warned = await runCli(['-c', config, 'backup']);
  assert.equal(warned.code, 0, warned.stdout + warned.stderr);
  assert.match(warned.stdout + warned.stderr, /largest statement is 6(\.\d)? MiB but max_allowed_packet of the server at .* is 4 MiB: this server could not load the dump back/);
  assert.match(warned.stdout + warned.stderr, /SET GLOBAL max_allowed_packet=\d+;/);
  const warnedSet = manifestPaths(join(root, 'backups')).map((path) => JSON.parse(readFileSync(path, 'utf8'))).pop();
  assert.ok(warnedSet.artifacts[0].warnings.some((warning: { code: string }) => warning.code === 'DUMP_ROWS_EXCEED_SERVER_PACKET'));

  const failed = await runCli(['-c', config, 'restore', 'db', '--set', manifest.setId, '--into', 'media_copy']);
  assert.equal(failed.code, 2, failed.stdout + failed.stderr);
  assert.match(failed.stderr, /max_allowed_packet/);
  assert.match(failed.stderr, /4 MiB/);
  assert.match(failed.stderr, /SET GLOBAL max_allowed_packet=/);
  assert.doesNotMatch(failed.stderr, /server versions?|same version of the server/i, 'no remedy about server versions');
  assert.ok(failed.stderr.length < 4000, `stderr is ${failed.stderr.length} characters`);
  for (const line of failed.stderr.split('\n')) assert.ok(line.length < 600, `a line of ${line.length} characters: ${line.slice(0, 120)}...`);
  assert.equal(await schemaExists('media_copy'), false, 'the half-restored database is gone');
});

test('the privilege rules per server: the definer privilege is named as each server names it; SUPER or ALL on *.* and pattern grants count', () => {
  const inventory = { tables: ['t'], views: ['v'], sequences: [], procedures: [], functions: ['f'], triggers: ['tr'], events: [] };
  const base = { database: 'app_live', account: 'app@localhost', targetExists: true, inventory, definers: ['root@localhost'], binlogRestrictsRoutines: false };
  const dbGrant = 'GRANT ALL PRIVILEGES ON `app\\_%`.* TO `app`@`localhost`';
  const names = (server: string, grantLines: string[], extra: Partial<typeof base> = {}) =>
    missingRestorePrivileges({ ...base, ...extra, server: parseServerVersion(server), grantLines }).map((entry) => entry.privilege);
  assert.deepEqual(names('10.11.19-MariaDB', [dbGrant]), ['SET USER']);
  assert.deepEqual(names('10.4.30-MariaDB', [dbGrant]), ['SUPER']);
  assert.deepEqual(names('8.0.36', [dbGrant]), ['SET_USER_ID']);
  assert.deepEqual(names('8.4.2', [dbGrant]), ['SET_ANY_DEFINER']);
  assert.deepEqual(names('8.4.2', [dbGrant, 'GRANT SET_USER_ID ON *.* TO `app`@`localhost`']), []);
  assert.deepEqual(names('10.11.19-MariaDB', [dbGrant, 'GRANT SUPER ON *.* TO `app`@`localhost`']), []);
  assert.deepEqual(names('10.11.19-MariaDB', [dbGrant], { definers: ['app@localhost'] }), [], 'its own objects need no SET USER');
  assert.deepEqual(names('10.11.19-MariaDB', [dbGrant], { binlogRestrictsRoutines: true, definers: [] }), ['SUPER'], 'binary logging: functions and triggers need SUPER');
  assert.deepEqual(
    names('10.11.19-MariaDB', ['GRANT SELECT, INSERT, CREATE, DROP, ALTER, LOCK TABLES ON `app_live`.* TO `app`@`localhost`'], { definers: [] }),
    ['CREATE VIEW', 'CREATE ROUTINE', 'ALTER ROUTINE', 'TRIGGER'],
  );
  const missing = missingRestorePrivileges({ ...base, server: parseServerVersion('10.11.19-MariaDB'), grantLines: ['GRANT USAGE ON *.* TO `app`@`localhost`'] });
  assert.deepEqual(restoreGrants(missing, 'app_live', 'app@localhost'), [
    "GRANT CREATE, DROP, INSERT, ALTER, LOCK TABLES, CREATE VIEW, SELECT, CREATE ROUTINE, ALTER ROUTINE, TRIGGER ON `app\\_live`.* TO 'app'@'localhost';",
    "GRANT SET USER ON *.* TO 'app'@'localhost';",
  ]);
});
