// `drill` of a postgres set against a private PostgreSQL 15: the dump is
// restored into a scratch database named after the repository, compared with
// the facts the backup took in the dump's own snapshot (rows and checksums per
// table, sequences, objects, large objects) and drill.queries, and the scratch
// database is dropped; a changed row or sequence value in the dump fails the
// drill naming it; a scratch database a killed drill left is swept, and one
// a drill stopped by SIGTERM made is dropped before it exits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli, startCli } from '../support/cli.ts';
import { APP, backUpSmallApp, databaseNames, rewriteDump, type BackedUpSmallApp } from '../support/postgres-small-app.ts';
import { scratchDatabaseName, scratchPrefixFor } from '../../src/sources/drill-scratch-databases.ts';

let app: BackedUpSmallApp;
before(async () => {
  app = await backUpSmallApp("drill:\n  queries: [{ sql: 'SELECT count(*) FROM plain', min: 3 }]\n");
});
after(async () => app?.stop());

const scratchDatabases = async () => (await databaseNames(app.server)).filter((name) => name.startsWith('restorable_drill_'));

test('a drill restores into a scratch database, compares rows, checksums, sequences, objects and the query, and drops it', async () => {
  const drill = await runCli(['-c', app.config, 'drill', '--json']);
  assert.equal(drill.code, 0, drill.stdout + drill.stderr);
  const [result] = JSON.parse(drill.stdout).results;
  assert.equal(result.ok, true, JSON.stringify(result));
  assert.match(result.compared, /^2 table\(s\), 2 checksum\(s\), 1 sequence\(s\), \d+ object\(s\), 1 query\(ies\)$/);
  assert.deepEqual(result.differences, []);
  assert.deepEqual(await scratchDatabases(), []);
});

test('a changed row and a changed sequence value in the dump fail the drill naming them', async () => {
  rewriteDump(app.repository, app.setId, (sql) => sql.replace(/^2\n3\n\\\.$/m, '2\n2\n\\.').replace(/(setval\('public\."Odd ""Name""_id_seq"', )3,/, '$119,'));
  const drill = await runCli(['-c', app.config, 'drill', app.setId, '--json']);
  assert.equal(drill.code, 2, drill.stdout + drill.stderr);
  const [result] = JSON.parse(drill.stdout).results;
  assert.equal(result.ok, false);
  assert.ok(result.differences.some((line: string) => /^table public\.plain: the restored rows differ from the dumped ones/.test(line)), JSON.stringify(result.differences));
  assert.ok(result.differences.some((line: string) => /^sequence public\."Odd ""Name""_id_seq": last value 19 after the restore, last value 3 in the dump$/.test(line)), JSON.stringify(result.differences));
  assert.deepEqual(await scratchDatabases(), []);
});

test('a scratch database a killed drill left is dropped by the next drill; another repository\'s is left alone', async () => {
  const dead = scratchDatabaseName(app.repository, '2026-01-01_00-00-00', 63, 999_999);
  const foreign = `${scratchPrefixFor(join(app.root, 'elsewhere'))}20260101000000_999999`;
  await app.server.createDatabase(dead, APP.user);
  await app.server.createDatabase(foreign, APP.user);
  // The sweep comes before the set is drilled, whatever the drill then finds.
  const swept = await runCli(['-c', app.config, 'drill']);
  assert.match(swept.stdout + swept.stderr, new RegExp(`dropped the scratch database ${dead} an interrupted drill left behind`));
  assert.deepEqual(await scratchDatabases(), [foreign]);
  await app.server.dropDatabase(foreign);
});

test('SIGTERM mid-restore drops the scratch database before exiting 143 (128 + SIGTERM)', async () => {
  await app.server.query(APP, "CREATE TABLE bulk AS SELECT g AS id, repeat('x', 200) AS filler FROM generate_series(1, 200000) AS g");
  assert.equal((await runCli(['-c', app.config, 'backup'])).code, 0);
  const { child, result } = startCli(['-c', app.config, 'drill']);
  for (let i = 0; i < 2000 && (await scratchDatabases()).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal((await scratchDatabases()).length, 1, 'the drill made its scratch database');
  child.kill('SIGTERM');
  const outcome = await result;
  assert.equal(outcome.code, 143, outcome.stdout + outcome.stderr);
  assert.match(outcome.stderr, /interrupted by SIGTERM/);
  assert.deepEqual(await scratchDatabases(), []);
});
