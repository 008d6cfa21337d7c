// The SQLite source while the app holds the database: a writer that keeps an
// exclusive lock longer than `busy_timeout` fails the run clearly (exit 2,
// naming the setting to raise) and publishes nothing; once the lock is gone
// the next run succeeds. Writes in WAL mode do not block the copy at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import { countRows, openSqlite } from '../../src/sources/sqlite-database.ts';

function withBusyTimeout(configPath: string, envPath: string, timeout: string): void {
  const text = readFileSync(configPath, 'utf8');
  writeFileSync(configPath, text.replace(`db: { type: sqlite, env_file: ${envPath} }`, `db: { type: sqlite, env_file: ${envPath}, busy_timeout: ${timeout} }`));
}

test('a writer holding an exclusive lock past busy_timeout fails the run clearly; the next run succeeds', async (t) => {
  const app = makeSampleApp(tempDir(t));
  withBusyTimeout(app.configPath, app.envPath, '1s');
  const writer = openSqlite(app.databasePath);
  writer.exec('PRAGMA journal_mode = DELETE'); // rollback journal: an exclusive lock blocks readers
  writer.exec('BEGIN EXCLUSIVE');
  writer.run('insert into users (name, email) values (?, ?)', 'pending', 'pending@example.test');
  const locked = await runCli(['-c', app.configPath, 'backup', '--only', 'db']);
  assert.equal(locked.code, 2, locked.stdout + locked.stderr);
  assert.match(locked.stderr, /sources\.db\.busy_timeout/);
  assert.doesNotMatch(locked.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(readdirSync(join(app.repository, 'manifests')), [], 'nothing published');

  writer.exec('COMMIT');
  writer.close();
  const next = await runCli(['-c', app.configPath, 'backup', '--only', 'db', '--json']);
  assert.equal(next.code, 0, next.stderr);
  const restored = JSON.parse((await runCli(['-c', app.configPath, 'restore', 'db', '--json'])).stdout);
  const copy = openSqlite(restored.target.replace(/^file /, ''), { readonly: true });
  assert.equal(countRows(copy, 'users'), 1001, 'the committed row is in the copy');
  copy.close();
});

test('in WAL mode an open write transaction does not block the copy, and the copy holds only committed rows', async (t) => {
  const app = makeSampleApp(tempDir(t)); // the sample database is in WAL mode
  const writer = openSqlite(app.databasePath);
  writer.exec('BEGIN IMMEDIATE');
  writer.run('insert into users (name, email) values (?, ?)', 'uncommitted', 'u@example.test');
  const result = await runCli(['-c', app.configPath, 'backup', '--only', 'db', '--json']);
  writer.exec('ROLLBACK');
  writer.close();
  assert.equal(result.code, 0, result.stderr);
  const restored = JSON.parse((await runCli(['-c', app.configPath, 'restore', 'db', '--json'])).stdout);
  const path = restored.target.replace(/^file /, '');
  assert.ok(existsSync(path));
  const copy = openSqlite(path, { readonly: true });
  assert.equal(countRows(copy, 'users'), 1000);
  copy.close();
});
