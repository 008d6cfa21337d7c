// `restore all`: every source of a set in one command. Into an empty root it
// reproduces the app (the files trees, the .env, and the SQLite database with
// the same rows, in a new database file named as `restore db` names it), with
// the plan printed first; refusals come before anything is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import { describeTree, type DescribedEntry } from '../support/describe-tree.ts';
import { openSqlite } from '../../src/sources/sqlite-database.ts';

function comparable(tree: Map<string, DescribedEntry>): Array<[string, Omit<DescribedEntry, 'hardLinkGroup'>]> {
  return [...tree].map(([path, { hardLinkGroup: _group, ...entry }]) => [path, entry]);
}

function usersOf(databasePath: string): unknown[] {
  const database = openSqlite(databasePath);
  try {
    return database.all('select id, name, email from users order by id');
  } finally {
    database.close();
  }
}

test('restore all --to-root into an empty root reproduces the app: files trees, .env and the database rows', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const backup = await runCli(['-c', app.configPath, 'backup', '--json']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  const setId = (JSON.parse(backup.stdout) as { setId: string }).setId;
  const root = join(app.root, 'new-root');

  const result = await runCli(['-c', app.configPath, 'restore', 'all', '--set', setId, '--to-root', root]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  // The plan comes first and says what goes where.
  const planAt = result.stdout.indexOf(`plan: restore set ${setId} into a new root:`);
  assert.ok(planAt >= 0, result.stdout);
  assert.match(result.stdout, /^ {2}db \(sqlite\) -> a new database, named as `restore db` names it by default$/m);
  assert.match(result.stdout, new RegExp(`^ {2}files \\(files\\) -> ${root} \\(its paths recreated under it\\)$`, 'm'));
  assert.match(result.stdout, new RegExp(`^ {2}config \\(files\\) -> ${root} `, 'm'));
  assert.ok(planAt < result.stdout.indexOf('restore OK'), 'the plan is printed before anything is restored');
  assert.match(result.stdout, new RegExp(`^restore all OK: 3 source\\(s\\) of set ${setId}`, 'm'));

  assert.deepEqual(comparable(describeTree(join(root, app.uploadsDir))), comparable(describeTree(app.uploadsDir)));
  assert.equal(readFileSync(join(root, app.envPath), 'utf8'), readFileSync(app.envPath, 'utf8'));
  const restoredDb = /^restored db of set \S+ into file (\S+):/m.exec(result.stdout)?.[1];
  assert.ok(restoredDb, result.stdout);
  assert.equal(restoredDb, `${app.databasePath}.restored-${setId}`);
  assert.equal(usersOf(restoredDb).length, 1000);
  assert.deepEqual(usersOf(restoredDb), usersOf(app.databasePath));
});

test('restore all refuses before writing: a non-empty root, --in-place without targets or confirmation, both modes', async (t) => {
  const app = makeSampleApp(tempDir(t));
  assert.equal((await runCli(['-c', app.configPath, 'backup'])).code, 0);
  const root = join(app.root, 'busy-root');
  mkdirSync(root);
  writeFileSync(join(root, 'something'), 'x');
  const busy = await runCli(['-c', app.configPath, 'restore', 'all', '--set', 'latest', '--to-root', root]);
  assert.equal(busy.code, 2, busy.stdout + busy.stderr);
  assert.match(busy.stderr, /is not empty/);
  const restoredFiles = readdirSync(join(app.databasePath, '..')).filter((name) => name.includes('.restored-'));
  assert.deepEqual(restoredFiles, [], 'no database was restored either');

  const noTarget = await runCli(['-c', app.configPath, 'restore', 'all', '--set', 'latest', '--in-place']);
  assert.equal(noTarget.code, 2);
  assert.match(noTarget.stderr, /--in-place needs the live target of database source db: --into db=TARGET/);
  const unconfirmed = await runCli(['-c', app.configPath, 'restore', 'all', '--set', 'latest', '--in-place', '--into', `db=${app.databasePath}`]);
  assert.equal(unconfirmed.code, 2, unconfirmed.stdout + unconfirmed.stderr);
  assert.match(unconfirmed.stdout, /plan: restore set \S+ in place:/);
  assert.match(unconfirmed.stderr, /not confirmed, nothing was changed/);
  assert.equal(usersOf(app.databasePath).length, 1000);

  const both = await runCli(['-c', app.configPath, 'restore', 'all', '--set', 'latest', '--in-place', '--to-root', root]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /exactly one of --to-root DIR and --in-place/);
});
