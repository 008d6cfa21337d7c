// DB_URL (Laravel 11+) and DATABASE_URL (Laravel 6 to 10) override the DB_*
// keys of a Laravel .env as Laravel's ConfigurationUrlParser merges them, and
// are named in errors and in the pre-flight notes. The wrong-database case of
// issue 10: a leftover DB_DATABASE next to a DB_URL made restorable back up
// the wrong database with exit 0.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { initRepositoryOf } from '../support/initialised-repository.ts';
import { runCli } from '../support/cli.ts';
import { startPrivateMariadb, type PrivateMariadb } from '../support/mariadb.ts';
import { mysqlConnectionFor } from '../../src/sources/mysql-connection.ts';
import { prepareSource } from '../../src/sources/registry.ts';
import { ConfigError } from '../../src/core/errors.ts';

function app(t: Parameters<typeof tempDir>[0], env: string, databasePhp?: string): string {
  const root = tempDir(t, 'restorable-laravel-url-');
  writeFileSync(join(root, '.env'), env, { mode: 0o600 });
  if (databasePhp !== undefined) {
    mkdirSync(join(root, 'config'));
    writeFileSync(join(root, 'config', 'database.php'), databasePhp);
  }
  return root;
}

function connectionOf(root: string) {
  return mysqlConnectionFor('db', { type: 'mysql', env_file: '.env' } as never, root, { environment: {}, socketCandidates: [] });
}

function configErrorOf(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail('expected a ConfigError');
}

describe('DB_URL over the DB_* keys (mysqlConnectionFor)', () => {
  test('DB_URL wins over a leftover DB_DATABASE, DB_HOST, DB_USERNAME and DB_PASSWORD; its password is url-decoded', (t) => {
    const root = app(t, 'DB_CONNECTION=mysql\nDB_HOST=10.9.9.9\nDB_PORT=3306\nDB_DATABASE=wrong_db\nDB_USERNAME=old\nDB_PASSWORD=old-secret\nDB_URL=mysql://app:p%40ss%2Fw%3Ard@127.0.0.1:3307/right_db\n');
    const connection = connectionOf(root);
    assert.equal(connection.database, 'right_db');
    assert.equal(connection.host, '127.0.0.1');
    assert.equal(connection.port, 3307);
    assert.equal(connection.user, 'app');
    assert.equal(connection.password?.reveal(), 'p@ss/w:rd');
    const notes = connection.notes.join('\n');
    assert.match(notes, new RegExp(`DB_URL in ${join(root, '.env').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(notes, /DB_DATABASE=wrong_db/, 'the note says which leftover key was overridden');
    assert.doesNotMatch(notes, /old-secret|p@ss/, 'no password in the notes');
  });

  test('parts the URL lacks keep their DB_* key: no path keeps DB_DATABASE, no user info keeps the account', (t) => {
    const root = app(t, 'DB_DATABASE=kept_db\nDB_USERNAME=kept_user\nDB_PASSWORD=kept-secret\nDB_URL=mysql://db.internal/\n');
    const connection = connectionOf(root);
    assert.equal(connection.host, 'db.internal');
    assert.equal(connection.port, 3306);
    assert.equal(connection.database, 'kept_db');
    assert.equal(connection.user, 'kept_user');
    assert.equal(connection.password?.reveal(), 'kept-secret');
  });

  test('?unix_socket= in the URL is the socket; mariadb and mysql2 schemes are MySQL too', (t) => {
    const root = app(t, 'DB_URL=mariadb://u:pw@localhost/shop?unix_socket=/run/mysqld/other.sock\n');
    const connection = connectionOf(root);
    assert.equal(connection.socket, '/run/mysqld/other.sock');
    assert.equal(connection.database, 'shop');
    const rds = app(t, 'DB_CONNECTION=mysql\nDB_URL=mysql2://u:pw@rds.example:3310/shop\n');
    assert.equal(connectionOf(rds).port, 3310);
  });

  test('a Laravel 10 app (config/database.php reads DATABASE_URL) uses DATABASE_URL and ignores DB_URL', (t) => {
    const env = 'DB_DATABASE=wrong_db\nDB_USERNAME=u\nDATABASE_URL=mysql://u:pw@127.0.0.1/right_db\nDB_URL=mysql://u:pw@127.0.0.1/other_db\n';
    const laravel10 = app(t, env, "<?php return ['connections' => ['mysql' => ['url' => env('DATABASE_URL'), 'host' => env('DB_HOST', '127.0.0.1')]]];\n");
    assert.equal(connectionOf(laravel10).database, 'right_db');
    assert.match(connectionOf(laravel10).notes.join('\n'), /DATABASE_URL in /);
    const laravel11 = app(t, env);
    assert.equal(connectionOf(laravel11).database, 'other_db', 'without config/database.php the framework default reads DB_URL');
    const noUrl = app(t, env, "<?php return ['connections' => ['mysql' => ['database' => env('DB_DATABASE')]]];\n");
    assert.equal(connectionOf(noUrl).database, 'wrong_db', 'a config/database.php that reads no URL key uses the DB_* keys');
  });

  test('an empty DB_URL leaves the DB_* keys in force', (t) => {
    const root = app(t, 'DB_URL=\nDB_DATABASE=plain_db\nDB_USERNAME=u\n');
    assert.equal(connectionOf(root).database, 'plain_db');
    assert.deepEqual(connectionOf(root).notes, []);
  });

  test('errors name DB_URL and the .env, and never show the password', (t) => {
    const postgres = app(t, 'DB_CONNECTION=mysql\nDB_URL=postgres://u:hunter2secret@127.0.0.1/shop\n');
    const driverError = configErrorOf(() => connectionOf(postgres));
    assert.match(driverError.message, /DB_URL in .*\.env says pgsql, not mysql or mariadb/);
    assert.doesNotMatch(driverError.message + driverError.remedy, /hunter2secret/);

    const badPort = app(t, 'DB_URL=mysql://u:hunter2secret@127.0.0.1:99999/shop\n');
    const portError = configErrorOf(() => connectionOf(badPort));
    assert.match(portError.message, /DB_URL in .*\.env \(mysql:\/\/u:\*\*\*@127\.0\.0\.1:99999\/shop\) has the port "99999"/);
    assert.match(portError.remedy ?? '', /fix DB_URL in /);
    assert.doesNotMatch(portError.message + portError.remedy, /hunter2secret/);

    const noDatabase = app(t, 'DB_URL=mysql://u:pw@127.0.0.1/\n');
    assert.match(configErrorOf(() => connectionOf(noDatabase)).remedy ?? '', /DB_URL or DB_DATABASE in /);
  });

  test('a .env phpdotenv refuses is a ConfigError naming the line and the key, without the value', (t) => {
    const root = app(t, 'DB_DATABASE=shop\nDB_USERNAME=u\nDB_PASSWORD=two words\n');
    const error = configErrorOf(() => connectionOf(root));
    assert.match(error.message, /sources\.db\.env_file: .*\.env line 3: phpdotenv refuses the value of DB_PASSWORD: unexpected whitespace/);
    assert.doesNotMatch(error.message, /two words/);
  });

  test('Env::get: DB_PASSWORD=null means no password, a quoted \'"secret"\' is secret', (t) => {
    assert.equal(connectionOf(app(t, 'DB_DATABASE=d\nDB_USERNAME=u\nDB_PASSWORD=null\n')).password, undefined);
    assert.equal(connectionOf(app(t, 'DB_DATABASE=d\nDB_USERNAME=u\nDB_PASSWORD=\'"secret"\'\n')).password?.reveal(), 'secret');
    assert.equal(connectionOf(app(t, 'DB_DATABASE=d\nDB_USERNAME=u\nDB_PASSWORD=(empty)\n')).password, undefined);
  });
});

describe('sqlite sources and DB_URL', () => {
  test('DB_URL=sqlite:///... names the database file; a mysql DB_URL is not sqlite', (t) => {
    const root = app(t, 'DB_CONNECTION=sqlite\nDB_DATABASE=database/wrong.sqlite\nDB_URL=sqlite:///database/right.sqlite\n');
    const prepared = prepareSource('db', { type: 'sqlite', env_file: '.env', busy_timeout: '5s' } as never, root);
    assert.equal((prepared.settings as { databasePath: string }).databasePath, join(root, 'database/right.sqlite'));
    const mysqlUrl = app(t, 'DB_CONNECTION=sqlite\nDB_URL=mysql://u:pw@127.0.0.1/shop\n');
    assert.match(configErrorOf(() => prepareSource('db', { type: 'sqlite', env_file: '.env', busy_timeout: '5s' } as never, mysqlUrl)).message, /DB_URL in .* says mysql, not sqlite/);
  });
});

describe('the CLI backs up the database DB_URL names', () => {
  let server: PrivateMariadb;
  before(async () => {
    server = await startPrivateMariadb();
    await server.createDatabase('right_db');
    await server.createDatabase('wrong_db');
    await server.rootQuery(`
      CREATE USER 'app'@'%' IDENTIFIED BY 'p@ss:w/rd';
      GRANT ALL ON right_db.* TO 'app'@'%';
      GRANT ALL ON wrong_db.* TO 'app'@'%';
      CREATE TABLE right_db.orders_right (id INT PRIMARY KEY) ENGINE=InnoDB;
      INSERT INTO right_db.orders_right VALUES (1), (2), (3);
      CREATE TABLE wrong_db.orders_wrong (id INT PRIMARY KEY) ENGINE=InnoDB;
    `);
  });
  after(async () => server?.stop());

  test('DB_URL=mysql://app:...@127.0.0.1:PORT/right_db with a leftover DB_DATABASE=wrong_db backs up right_db', async (t) => {
    const root = app(
      t,
      `APP_NAME=Shop\nDB_CONNECTION=mysql\nDB_HOST=127.0.0.1\nDB_PORT=${server.port}\nDB_DATABASE=wrong_db\nDB_USERNAME=app\nDB_PASSWORD="p@ss:w/rd"\nDB_URL=mysql://app:p%40ss%3Aw%2Frd@127.0.0.1:${server.port}/right_db\n`,
    );
    const config = join(root, 'restorable.yml');
    writeFileSync(config, `app: shop\nrepository: ${join(root, 'backups')}\nsources:\n  db: { type: mysql, env_file: ${join(root, '.env')} }\nmonitor: { min_free: 1MB }\n`);
    initRepositoryOf(config);
    const result = await runCli(['-c', config, 'backup']);
    // Before DB_URL was read, this exited 0 with wrong_db's dump.
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout + result.stderr, /DB_URL in .*\.env/, 'the pre-flight output says where the database came from');
    const [dump] = readdirSync(join(root, 'backups/db'));
    const sql = execFileSync('sh', ['-c', `gunzip < "${join(root, 'backups/db', dump!)}"`], { encoding: 'utf8' });
    assert.match(sql, /CREATE TABLE `orders_right`/);
    assert.doesNotMatch(sql, /orders_wrong/);
    assert.ok(!(result.stdout + result.stderr).includes('p@ss:w/rd'), 'no password in the output');
  });
});

test('init --laravel takes the driver from DB_URL over DB_CONNECTION', async (t) => {
  const root = app(t, 'APP_NAME=Shop\nDB_CONNECTION=sqlite\nDB_URL=mysql://u:pw@127.0.0.1/shop\n');
  const target = join(root, 'restorable.yml');
  const init = await runCli(['init', '--laravel', root, '-o', target, '--repository', join(root, 'backups')]);
  assert.equal(init.code, 0, init.stdout + init.stderr);
  assert.match(readFileSync(target, 'utf8'), /type: mysql/);
});
