// A postgres source reads a Laravel pgsql app's .env as the app does (DB_HOST as a
// socket directory, DB_SSLMODE, DB_URL over the DB_* keys), keeps the password out
// of every child's argv and environment, and `init --laravel` picks `type: postgres`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configSchema } from '../../src/config/schema.ts';
import { writeStartingConfig } from '../../src/config/starting-config.ts';
import { postgresChildEnvironment, postgresConnectionFor, scrubPostgresSecret, writePassFile } from '../../src/sources/postgres-settings.ts';
import { prepareSource } from '../../src/sources/registry.ts';
import { tempDir } from '../support/temp.ts';

function section(extra: Record<string, unknown>) {
  const parsed = configSchema().parse({ app: 'shop', sources: { db: { type: 'postgres', ...extra } } });
  const db = parsed.sources.db!;
  assert.equal(db.type, 'postgres');
  return db as Extract<typeof db, { type: 'postgres' }>;
}

test('DB_CONNECTION=pgsql: host as a socket directory, port, sslmode and password from the .env', (t) => {
  const dir = tempDir(t);
  writeFileSync(
    join(dir, '.env'),
    ['DB_CONNECTION=pgsql', 'DB_HOST=/var/run/postgresql', 'DB_PORT=5433', 'DB_DATABASE=shop', 'DB_USERNAME=shop_app', 'DB_PASSWORD="se:cr\\\\et#1"', 'DB_SSLMODE=require'].join('\n'),
  );
  const connection = postgresConnectionFor('db', section({ env_file: '.env' }), dir);
  assert.equal(connection.host, '/var/run/postgresql');
  assert.equal(connection.port, 5433);
  assert.equal(connection.database, 'shop');
  assert.equal(connection.user, 'shop_app');
  assert.equal(connection.sslmode, 'require');
  assert.equal(connection.password?.reveal(), 'se:cr\\et#1');
  assert.match(connection.passwordSource ?? '', /DB_PASSWORD in .*\.env/);
  assert.equal(JSON.stringify(connection).includes('se:cr'), false, 'the password never serializes');
});

test('explicit keys win over the .env; password_file over DB_PASSWORD; defaults 127.0.0.1:5432, prefer', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, '.env'), 'DB_CONNECTION=pgsql\nDB_DATABASE=from_env\nDB_USERNAME=env_user\nDB_PASSWORD=env-password\n');
  writeFileSync(join(dir, 'pw'), 'file-password\nsecond line\n');
  const connection = postgresConnectionFor('db', section({ env_file: '.env', database: 'explicit', password_file: 'pw' }), dir);
  assert.equal(connection.database, 'explicit');
  assert.equal(connection.user, 'env_user');
  assert.equal(connection.host, '127.0.0.1');
  assert.equal(connection.port, 5432);
  assert.equal(connection.sslmode, 'prefer');
  assert.equal(connection.password?.reveal(), 'file-password');
  const socket = postgresConnectionFor('db', section({ socket: 'run', database: 'd', user: 'u' }), dir);
  assert.equal(socket.host, join(dir, 'run'), 'a relative socket directory is taken from the config directory');
});

test('DB_URL (postgresql://) wins over the DB_* keys, ?sslmode= too', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, '.env'), 'DB_CONNECTION=pgsql\nDB_DATABASE=wrong_db\nDB_SSLMODE=disable\nDB_URL=postgresql://app:p%40ss@db.internal:6432/right_db?sslmode=verify-full\n');
  const connection = postgresConnectionFor('db', section({ env_file: '.env' }), dir);
  assert.equal(connection.database, 'right_db');
  assert.equal(connection.host, 'db.internal');
  assert.equal(connection.port, 6432);
  assert.equal(connection.user, 'app');
  assert.equal(connection.password?.reveal(), 'p@ss');
  assert.equal(connection.sslmode, 'verify-full');
});

test('a mysql .env, a bad DB_SSLMODE and a missing database are config errors naming the fix', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'mysql.env'), 'DB_CONNECTION=mysql\nDB_DATABASE=x\nDB_USERNAME=u\n');
  assert.throws(() => postgresConnectionFor('db', section({ env_file: 'mysql.env' }), dir), (error: Error & { remedy?: string }) => {
    assert.match(error.message, /DB_CONNECTION=mysql, not pgsql/);
    assert.match(error.remedy ?? '', /type: mysql/);
    return true;
  });
  writeFileSync(join(dir, 'ssl.env'), 'DB_CONNECTION=pgsql\nDB_DATABASE=x\nDB_USERNAME=u\nDB_SSLMODE=sometimes\n');
  assert.throws(() => postgresConnectionFor('db', section({ env_file: 'ssl.env' }), dir), /DB_SSLMODE=sometimes .* is not a libpq sslmode/);
  assert.throws(() => postgresConnectionFor('db', section({ user: 'u' }), dir), /sources\.db\.database is missing/);
  assert.throws(() => configSchema().parse({ app: 'a', sources: { db: { type: 'postgres', sslmode: 'maybe' } } }));
});

test('a child gets a 0600 PGPASSFILE and no PG* variable of ours; the password is on neither argv nor env', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'pw'), 'pa:ss\\word\n');
  const connection = postgresConnectionFor('db', section({ host: 'db', database: 'shop', user: 'app', password_file: 'pw', sslmode: 'require' }), dir);
  const passFile = await writePassFile(dir, connection);
  assert.equal(statSync(passFile).mode & 0o777, 0o600);
  assert.equal(readFileSync(passFile, 'utf8'), '*:*:*:*:pa\\:ss\\\\word\n');
  const env = postgresChildEnvironment({ PATH: '/usr/bin', PGPASSWORD: 'leak', PGSERVICE: 'other', HOME: '/root' }, connection, passFile);
  assert.equal(env.PGPASSWORD, undefined);
  assert.equal(env.PGSERVICE, undefined);
  assert.deepEqual([env.PGHOST, env.PGPORT, env.PGUSER, env.PGDATABASE, env.PGSSLMODE, env.PGPASSFILE], ['db', '5432', 'app', 'shop', 'require', passFile]);
  assert.equal(Object.values(env).some((value) => value?.includes('pa:ss')), false);
  const withoutPassword = postgresConnectionFor('db', section({ database: 'shop', user: 'app' }), dir);
  assert.equal(readFileSync(await writePassFile(dir, withoutPassword, 'empty'), 'utf8'), '', 'no ~/.pgpass fallback');
  assert.equal(scrubPostgresSecret('failed for pa:ss\\word and pa\\:ss\\\\word', connection.password), 'failed for *** and ***');
});

test('the registry prepares a postgres source; init --laravel writes type: postgres for a pgsql app', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, '.env'), 'APP_NAME=Shop\nDB_CONNECTION=pgsql\nDB_DATABASE=shop\nDB_USERNAME=app\n');
  const prepared = prepareSource('db', section({ env_file: '.env' }), dir);
  assert.equal(prepared.type, 'postgres');
  assert.equal(prepared.driver.extension, 'sql');
  assert.equal(prepared.driver.content, 'database');
  const target = join(dir, 'restorable.yml');
  await writeStartingConfig({ target, laravelDir: dir, overwrite: false });
  const written = readFileSync(target, 'utf8');
  assert.match(written, /type: postgres\n\s+env_file: .*\.env/);
  assert.doesNotMatch(written, /type: mysql/);
});
