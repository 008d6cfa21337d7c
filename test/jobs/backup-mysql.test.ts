// A Laravel app on MariaDB through the whole pipeline and the real CLI: the
// seed's own restore (`gunzip < db_backup_<ts>.sql.gz | mysql otherdb`) gives
// back identical tables; a server killed mid-dump publishes nothing; a wrong
// password fails clearly; the password never shows in output, logs or state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { initRepositoryOf } from '../support/initialised-repository.ts';
import { runCli, startCli } from '../support/cli.ts';
import { startPrivateMariadb, type PrivateMariadb } from '../support/mariadb.ts';

const PASSWORD = 'Tr0ub4dor&3-laravel';
let server: PrivateMariadb;

before(async () => {
  server = await startPrivateMariadb();
  await server.createDatabase('shop');
  await server.rootQuery(`CREATE USER 'laravel'@'%' IDENTIFIED BY '${PASSWORD}'; GRANT ALL ON shop.* TO 'laravel'@'%';`);
  await server.rootQuery(`
    CREATE TABLE shop.users (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) CHARACTER SET utf8mb4, avatar BLOB, meta JSON) ENGINE=InnoDB;
    INSERT INTO shop.users (name, avatar, meta) VALUES ('Zoë 🚀', UNHEX('00FF10'), '{"a": 1}'), ('Jürgen', NULL, '[]');
    CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, user_id INT, total DECIMAL(10,2), note TEXT) ENGINE=InnoDB;
    INSERT INTO shop.orders (user_id, total, note) VALUES (1, 9.99, REPEAT('x', 200));
    INSERT INTO shop.orders (user_id, total, note) SELECT user_id, total, note FROM shop.orders; -- 2
    CREATE VIEW shop.big_spenders AS SELECT user_id, SUM(total) AS spent FROM shop.orders GROUP BY user_id;
    CREATE PROCEDURE shop.touch_user(IN uid INT) UPDATE shop.users SET name = name WHERE id = uid;
    USE shop;
    CREATE TRIGGER orders_total BEFORE INSERT ON orders FOR EACH ROW SET NEW.total = ABS(NEW.total);
  `);
});
after(async () => server?.stop());

function laravelApp(root: string, database = 'shop', password = PASSWORD): string {
  writeFileSync(
    join(root, '.env'),
    `APP_NAME=Shop\nDB_CONNECTION=mysql\nDB_HOST=127.0.0.1\nDB_PORT=${server.port}\nDB_DATABASE=${database}\nDB_USERNAME=laravel\nDB_PASSWORD="${password}"\n`,
    { mode: 0o600 },
  );
  const config = join(root, 'restorable.yml');
  writeFileSync(
    config,
    `app: shop\nrepository: ${join(root, 'backups')}\nsources:\n  db: { type: mysql, env_file: ${join(root, '.env')} }\nmonitor: { min_free: 1MB }\n`,
  );
  initRepositoryOf(config);
  return config;
}

function everythingWritten(root: string): string {
  const backups = join(root, 'backups');
  const texts = readdirSync(backups, { recursive: true, encoding: 'utf8' })
    .map((name) => join(backups, name))
    .filter((path) => !path.endsWith('.gz') && existsSync(path) && !readdirSafe(path))
    .map((path) => readFileSync(path, 'utf8'));
  return texts.join('\n');
}

function readdirSafe(path: string): boolean {
  try {
    readdirSync(path);
    return true;
  } catch {
    return false;
  }
}

test('refused with the exact GRANT while a routine body is unreadable; after it, the seed restore gives identical tables and objects', async (t) => {
  const root = tempDir(t);
  const config = laravelApp(root);
  // The procedure was created by root: without mysql.proc access mariadb-dump would silently drop its body.
  const refused = await runCli(['-c', config, 'backup']);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /next: as a MySQL administrator, run: GRANT SELECT ON `mysql`\.`proc` TO 'laravel'@'%';/);
  assert.deepEqual(readdirSync(join(root, 'backups/manifests')), []);
  await server.rootQuery("GRANT SELECT ON `mysql`.`proc` TO 'laravel'@'%'");

  const result = await runCli(['-c', config, 'backup']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const [dump] = readdirSync(join(root, 'backups/db'));
  assert.match(dump!, /^db_backup_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\.sql\.gz$/);

  await server.createDatabase('shop_restored');
  execFileSync('sh', ['-c', `gunzip < "${join(root, 'backups/db', dump!)}" | mariadb ${server.clientArgs.map((arg) => `'${arg}'`).join(' ')} shop_restored`]);
  for (const table of ['users', 'orders']) {
    const [original] = await server.rootQuery<{ Checksum: number }>(`CHECKSUM TABLE shop.${table}`);
    const [restored] = await server.rootQuery<{ Checksum: number }>(`CHECKSUM TABLE shop_restored.${table}`);
    assert.equal(restored!.Checksum, original!.Checksum, `${table} identical`);
  }
  const objects = async (schema: string) =>
    (await server.rootQuery<{ n: string }>(
      `SELECT CONCAT(ROUTINE_TYPE, ' ', ROUTINE_NAME) AS n FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? UNION ALL SELECT CONCAT('VIEW ', TABLE_NAME) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? UNION ALL SELECT CONCAT('TRIGGER ', TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY 1`,
      [schema, schema, schema],
    )).map((row) => row.n);
  assert.deepEqual(await objects('shop_restored'), await objects('shop'));

  const manifest = JSON.parse(readFileSync(join(root, 'backups/manifests', readdirSync(join(root, 'backups/manifests'))[0]!), 'utf8'));
  const details = manifest.artifacts[0].details;
  assert.equal(manifest.artifacts[0].type, 'mysql');
  assert.match(JSON.stringify(details), /"orders"/);
  assert.ok(!JSON.stringify(manifest).includes(PASSWORD), 'no password in the manifest');
  assert.ok(!(result.stdout + result.stderr).includes(PASSWORD), 'no password in the output');
  assert.ok(!everythingWritten(root).includes(PASSWORD), 'no password in logs, history or state');
});

test('a wrong password fails with exit 2 naming server and user, and never prints the password', async (t) => {
  const root = tempDir(t);
  const config = laravelApp(root, 'shop', 'not-the-password-42');
  const result = await runCli(['-c', config, 'backup']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /laravel/);
  assert.match(result.stderr, new RegExp(`127\\.0\\.0\\.1:${server.port}`));
  assert.match(result.stderr, /next: /);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(!(result.stdout + result.stderr).includes('not-the-password-42'));
  assert.deepEqual(readdirSync(join(root, 'backups/manifests')), []);
});

test('the server killed mid-dump: exit 2, nothing published, no .partial left', async (t) => {
  await server.createDatabase('bulk');
  await server.rootQuery(`GRANT ALL ON bulk.* TO 'laravel'@'%'`);
  await server.rootQuery(`CREATE TABLE bulk.rows (id INT AUTO_INCREMENT PRIMARY KEY, payload VARCHAR(255)) ENGINE=InnoDB`);
  await server.rootQuery(`INSERT INTO bulk.rows (payload) VALUES (REPEAT(MD5(RAND()), 7))`);
  for (let i = 0; i < 18; i++) await server.rootQuery(`INSERT INTO bulk.rows (payload) SELECT REPEAT(MD5(RAND()), 7) FROM bulk.rows`);
  const root = tempDir(t);
  const config = laravelApp(root, 'bulk');
  const { child, result } = startCli(['-c', config, 'backup']);
  const partialDir = join(root, 'backups/db');
  for (let i = 0; i < 2000; i++) {
    if (existsSync(partialDir) && readdirSync(partialDir).some((name) => name.endsWith('.partial'))) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await server.kill();
  const outcome = await result;
  void child;
  await server.restart();
  assert.equal(outcome.code, 2, outcome.stdout + outcome.stderr);
  assert.match(outcome.stderr, /nothing was published/);
  assert.deepEqual(readdirSync(join(root, 'backups/manifests')), []);
  assert.deepEqual(readdirSync(partialDir).filter((name) => name.endsWith('.partial')), []);
});
