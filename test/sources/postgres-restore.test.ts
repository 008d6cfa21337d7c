// `restore db` and `verify` of a postgres set (the read side of the kind),
// against a private PostgreSQL 15: a round trip into a new database equal to
// the source, with ownership remapped to the restoring role; a non-empty
// target refused unless --yes, then a safety set first and the set's schemas
// replaced; a load that fails rolls back and drops the database it created;
// an extension the server lacks and a psql meta-command are refused before
// anything is committed; a truncated artifact fails verify and restore.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../support/cli.ts';
import type { PrivatePostgres } from '../support/private-postgres.ts';
import { APP, backUpSmallApp, databaseNames, describeData, editDetails, manifestPathOf, rewriteDump, writeSmallAppConfig, type BackedUpSmallApp, type StoredManifest } from '../support/postgres-small-app.ts';

let app: BackedUpSmallApp;
let server: PrivatePostgres;
let root: string;
let config: string;
let setId: string;
let sourceData: string;

before(async () => {
  app = await backUpSmallApp();
  ({ server, root, config, setId } = app);
  sourceData = await describeData(server, APP.database);
});
after(async () => app?.stop());

/** A copy of the set, so a test may damage it without touching the others' set. */
function copyOfSet(): { config: string; repository: string } {
  const dir = mkdtempSync(join(root, 'copy-'));
  const copyRepository = join(dir, 'backups');
  const copyConfig = writeSmallAppConfig(dir, server);
  cpSync(app.repository, copyRepository, { recursive: true });
  return { config: copyConfig, repository: copyRepository };
}

test('round trip: restore db makes a new database equal to the source, owned by the restoring role, and says what was remapped', async () => {
  const restored = await runCli(['-c', config, 'restore', 'db', '--into', 'shop_copy']);
  assert.equal(restored.code, 0, restored.stdout + restored.stderr);
  assert.match(restored.stdout + restored.stderr, /into database shop_copy at 127\.0\.0\.1:\d+ \(new\) as shopper/);
  assert.match(restored.stdout + restored.stderr, /ownership remapped: objects owned by postgres in the source are owned by shopper here/);
  assert.equal(await describeData(server, 'shop_copy'), sourceData);
  const owners = await server.rootQuery<{ owner: string }>("SELECT DISTINCT tableowner AS owner FROM pg_tables WHERE schemaname = 'public'", undefined, 'shop_copy');
  assert.deepEqual(owners.map((row) => row.owner), ['shopper']);

  const json = await runCli(['-c', config, 'restore', 'db', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const outcome = JSON.parse(json.stdout);
  assert.equal(outcome.created, true);
  assert.equal(outcome.account, 'shopper');
  assert.match(outcome.target, /^database shop_restored_\d{14} at /);
  assert.equal(await describeData(server, outcome.target.split(' ')[1]), sourceData);
});

test('a non-empty target is refused unless --yes; then a safety set is taken first and the schemas are replaced as dumped', async () => {
  await server.createDatabase('shop_live', APP.user);
  const seeded = await runCli(['-c', config, 'restore', 'db', '--into', 'shop_live']);
  assert.equal(seeded.code, 0, seeded.stderr);
  await server.query({ ...APP, database: 'shop_live' }, 'DELETE FROM plain WHERE x = 3; CREATE TABLE made_later (y int); INSERT INTO made_later VALUES (7)');

  const refused = await runCli(['-c', config, 'restore', 'db', '--into', 'shop_live']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /shop_live at .* is not empty \(\d+ tables, views, sequences, routines, extensions or large objects\); nothing was changed/);
  assert.equal((await server.rootQuery('SELECT count(*)::int AS n FROM plain', undefined, 'shop_live'))[0]!.n, 2);

  const forced = await runCli(['-c', config, 'restore', 'db', '--into', 'shop_live', '--yes']);
  assert.equal(forced.code, 0, forced.stdout + forced.stderr);
  const safetySetId = /safety set (\S+) complete/.exec(forced.stdout + forced.stderr)?.[1];
  assert.ok(safetySetId, forced.stdout + forced.stderr);
  assert.equal(await describeData(server, 'shop_live'), sourceData);
  assert.equal((await server.rootQuery("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'made_later'", undefined, 'shop_live'))[0]!.n, 0);

  // The safety set puts the database back as it was before the restore.
  const back = await runCli(['-c', config, 'restore', 'db', '--set', safetySetId, '--into', 'shop_live', '--yes']);
  assert.equal(back.code, 0, back.stdout + back.stderr);
  assert.match(back.stdout + back.stderr, /is the safety set of shop_live: putting it back, without a new safety set/);
  assert.deepEqual(await server.rootQuery('SELECT y FROM made_later', undefined, 'shop_live'), [{ y: 7 }]);
  assert.equal((await server.rootQuery('SELECT count(*)::int AS n FROM plain', undefined, 'shop_live'))[0]!.n, 2);
});

test('a load that fails rolls back: a new database is dropped again, an existing one is left as it was', async () => {
  const copy = copyOfSet();
  // The foreign key comes after the large objects, whose own BEGIN/COMMIT would have ended the one transaction early.
  rewriteDump(copy.repository, setId, (sql) => sql.replace('FOREIGN KEY (x)', 'FOREIGN KEY (no_such_column)'));
  const failed = await runCli(['-c', copy.config, 'restore', 'db', '--into', 'shop_failed']);
  assert.equal(failed.code, 2);
  assert.match(failed.stderr, /restoring into shop_failed at .* failed: .*column "no_such_column" referenced in foreign key constraint does not exist/);
  assert.ok(!(await databaseNames(server)).includes('shop_failed'), 'the database it created is dropped');

  await server.createDatabase('shop_kept', APP.user);
  await server.query({ ...APP, database: 'shop_kept' }, 'CREATE TABLE precious (v text); INSERT INTO precious VALUES (\'keep me\')');
  const onto = await runCli(['-c', copy.config, 'restore', 'db', '--into', 'shop_kept', '--yes']);
  assert.equal(onto.code, 2);
  assert.match(onto.stderr, /the target was not changed \(the load ran in one transaction, rolled back\); safety set \S+ holds it too/);
  assert.deepEqual(await server.rootQuery('SELECT v FROM precious', undefined, 'shop_kept'), [{ v: 'keep me' }]);
});

test('an extension the server lacks, or one only a superuser may create, is named before the load, and nothing is created', async () => {
  const copy = copyOfSet();
  editDetails(copy.repository, setId, (details) => {
    (details.extensions as Array<Record<string, string>>).push({ name: 'no_such_extension', version: '1.0', schema: 'public' });
  });
  const refused = await runCli(['-c', copy.config, 'restore', 'db', '--into', 'shop_noext']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /the dump needs the extension no_such_extension, which the server at .* does not have \(pg_available_extensions\); nothing was changed/);
  assert.ok(!(await databaseNames(server)).includes('shop_noext'));

  const untrusted = copyOfSet();
  editDetails(untrusted.repository, setId, (details) => {
    (details.extensions as Array<Record<string, string>>).push({ name: 'pageinspect', version: '1.11', schema: 'public' });
  });
  const notSuperuser = await runCli(['-c', untrusted.config, 'restore', 'db', '--into', 'shop_untrusted']);
  assert.equal(notSuperuser.code, 2);
  assert.match(notSuperuser.stderr, /creates the extension pageinspect, which only a superuser may create on .*, and shopper is none; nothing was changed/);
  assert.ok(!(await databaseNames(server)).includes('shop_untrusted'));
});

test('a psql meta-command in the dump never reaches psql: the restore is refused and nothing is committed', async () => {
  const copy = copyOfSet();
  const marker = join(root, 'meta-command-ran');
  rewriteDump(copy.repository, setId, (sql) => sql.replace('SET statement_timeout = 0;', `SET statement_timeout = 0;\n\\! touch ${marker}\n\\connect postgres`));
  const verify = await runCli(['-c', copy.config, 'verify']);
  assert.equal(verify.code, 2, verify.stdout + verify.stderr);
  assert.match(verify.stdout + verify.stderr, /tie it to one database or run commands/);
  const refused = await runCli(['-c', copy.config, 'restore', 'db', '--into', 'shop_meta']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /was not restored: the dump holds statements that tie it to one database or run commands/);
  assert.ok(!existsSync(marker), 'the shell command did not run');
  assert.ok(!(await databaseNames(server)).includes('shop_meta'));
});

test('a truncated artifact fails verify, and restore refuses it naming the damage, leaving no database', async () => {
  const copy = copyOfSet();
  const manifest = JSON.parse(readFileSync(manifestPathOf(copy.repository, setId), 'utf8')) as StoredManifest;
  const file = join(copy.repository, manifest.artifacts[0]!.path);
  truncateSync(file, Math.floor(statSync(file).size / 2));
  const verify = await runCli(['-c', copy.config, 'verify']);
  assert.equal(verify.code, 2, verify.stdout + verify.stderr);
  assert.match(verify.stdout + verify.stderr, /the file is truncated/);
  const restore = await runCli(['-c', copy.config, 'restore', 'db', '--into', 'shop_truncated']);
  assert.equal(restore.code, 2);
  assert.match(restore.stderr, /is damaged: its sha256 differs from the manifest's/);
  assert.ok(!(await databaseNames(server)).includes('shop_truncated'));
});

test('verify reads the dump to its trailer and compares rows, sequences and large objects with the manifest', async () => {
  const verify = await runCli(['-c', config, 'verify']);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /dump-trailer row-counts/);
  const copy = copyOfSet();
  // A dump cut at a statement boundary still decodes: only its missing trailer tells.
  rewriteDump(copy.repository, setId, (sql) => sql.slice(0, sql.indexOf('-- PostgreSQL database dump complete')));
  const cut = await runCli(['-c', copy.config, 'verify']);
  assert.equal(cut.code, 2);
  assert.match(cut.stdout + cut.stderr, /does not end with its `-- PostgreSQL database dump complete` trailer/);
  const restore = await runCli(['-c', copy.config, 'restore', 'db', '--into', 'shop_cut']);
  assert.equal(restore.code, 2);
  assert.match(restore.stderr, /was not restored: the dump does not end with its/);
  assert.ok(!(await databaseNames(server)).includes('shop_cut'));
});
