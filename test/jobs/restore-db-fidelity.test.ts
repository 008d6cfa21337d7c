// A restore under another name touches nothing outside its target, and every
// dump that backs up OK restores, on a schema with what real applications
// have (issue 10 §1 and §3): routines and triggers created under another
// database charset (mariadb-dump writes ALTER DATABASE `src` around them), an
// EVERY 1 SECOND event writing DATABASE() into a db-qualified table, a
// procedure naming its own database, a sequence used as a column default, a
// system-versioned table with history, a view whose DEFINER was dropped, and
// a database collation under which 'ß' = 'ss' is false.
//
// The proof is on the private server: its general log shows which statements
// a `restore db --into` and a `drill` ran; copies made by `restore db --into`,
// by the stock `gunzip < artifact | mariadb`, and by a restore of an artifact
// written before the fix (a plain mariadb-dump) are compared with the source
// by CHECKSUM TABLE EXTENDED and SHOW CREATE of every object.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { tempDir } from '../support/temp.ts';
import { initRepositoryOf } from '../support/initialised-repository.ts';
import { runCli } from '../support/cli.ts';
import { startPrivateMariadb, type PrivateMariadb } from '../support/mariadb.ts';

const SOURCE = 'livedb';
let server: PrivateMariadb;
/** The config and repository the tests share (one backup, several restores). */
let root: string;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'restorable-fidelity-'));
  server = await startPrivateMariadb();
  // Created latin1: the trigger and procedure below keep that database collation, and
  // mariadb-dump writes `ALTER DATABASE livedb CHARACTER SET latin1 ...` (and back) around them.
  await server.rootQuery(`
    CREATE DATABASE ${SOURCE} CHARACTER SET latin1 COLLATE latin1_swedish_ci;
    CREATE DATABASE otherdb;
    CREATE TABLE otherdb.untouched (id INT);
    CREATE TABLE ${SOURCE}.t (id INT PRIMARY KEY, name VARCHAR(50)) CHARACTER SET utf8mb4;
    INSERT INTO ${SOURCE}.t VALUES (1, 'eins'), (2, 'zwei');
    CREATE TABLE ${SOURCE}.heartbeat (id INT AUTO_INCREMENT PRIMARY KEY, db VARCHAR(64));
    CREATE TRIGGER ${SOURCE}.t_mark BEFORE INSERT ON ${SOURCE}.t FOR EACH ROW SET NEW.name = CONCAT(NEW.name, '!');
    CREATE PROCEDURE ${SOURCE}.touch() INSERT INTO ${SOURCE}.heartbeat (db) VALUES (DATABASE());
    CREATE EVENT ${SOURCE}.beat ON SCHEDULE EVERY 1 SECOND DO INSERT INTO ${SOURCE}.heartbeat (db) VALUES (DATABASE());
    ALTER DATABASE ${SOURCE} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
    CREATE FUNCTION ${SOURCE}.same_text(a VARCHAR(10), b VARCHAR(10)) RETURNS INT DETERMINISTIC RETURN a = b;
    CREATE SEQUENCE ${SOURCE}.order_numbers START WITH 1000;
    CREATE TABLE ${SOURCE}.orders (id INT DEFAULT (NEXT VALUE FOR ${SOURCE}.order_numbers) PRIMARY KEY, total INT);
    INSERT INTO ${SOURCE}.orders (total) VALUES (10), (20);
    CREATE TABLE ${SOURCE}.prices (id INT PRIMARY KEY, amount INT) WITH SYSTEM VERSIONING;
    INSERT INTO ${SOURCE}.prices VALUES (1, 100);
    UPDATE ${SOURCE}.prices SET amount = 110 WHERE id = 1;
    UPDATE ${SOURCE}.prices SET amount = 120 WHERE id = 1;
    CREATE USER 'gone'@'localhost';
    GRANT ALL ON ${SOURCE}.* TO 'gone'@'localhost';
    CREATE DEFINER = 'gone'@'localhost' VIEW ${SOURCE}.order_ids AS SELECT orders.id FROM ${SOURCE}.orders;
    DROP USER 'gone'@'localhost';
  `);
});
after(async () => {
  await server?.rootQuery('SET GLOBAL event_scheduler = OFF; SET GLOBAL general_log = 0').catch(() => {});
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

function writeConfig(root: string): string {
  const config = join(root, 'restorable.yml');
  writeFileSync(config, `app: live\nrepository: ${join(root, 'backups')}\nsources:\n  db: { type: mysql, socket: ${server.socket}, user: root, database: ${SOURCE} }\nmonitor: { min_free: 1MB }\n`);
  initRepositoryOf(config);
  return config;
}

interface ManifestFile {
  path: string;
  artifact: { path: string; sha256: string; sizeBytes: number; details: Record<string, unknown> };
  manifest: { artifacts: Array<{ path: string; sha256: string; sizeBytes: number; details: Record<string, unknown> }> };
}

function latestManifest(repository: string): ManifestFile {
  const names = readdirSync(join(repository, 'manifests')).filter((name) => name.endsWith('.json')).sort();
  const path = join(repository, 'manifests', names[names.length - 1]!);
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  return { path, manifest, artifact: manifest.artifacts[0] };
}

const quoteName = (name: string) => '`' + name.replaceAll('`', '``') + '`';
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A database's name as an identifier in `sql` (`db`. or db. or `db`). */
function namesDatabase(sql: string, database: string): boolean {
  const name = escapeRegExp(database);
  return new RegExp(`\`${name}\`|(^|[^A-Za-z0-9_$\`'])${name}\\s*\\.`, 'i').test(sql);
}

/** Every object's SHOW CREATE and every table's CHECKSUM TABLE EXTENDED, with the database's own name taken out. */
async function describeDatabase(database: string): Promise<Record<string, string>> {
  const normalise = (text: string) =>
    text
      .replaceAll(`\`${database}\`.`, '')
      .replaceAll(`${database}.`, '')
      // An event restored into another database is DISABLED on purpose (compared separately).
      .replace(/ON COMPLETION NOT PRESERVE (ENABLE|DISABLE)/, 'ON COMPLETION NOT PRESERVE <status>');
  const facts: Record<string, string> = {};
  const tables = await server.rootQuery<{ TABLE_NAME: string; TABLE_TYPE: string }>(
    'SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
    [database],
  );
  for (const { TABLE_NAME: name, TABLE_TYPE: type } of tables) {
    const qualified = `${quoteName(database)}.${quoteName(name)}`;
    if (type === 'VIEW') {
      const [row] = await server.rootQuery<Record<string, string>>(`SHOW CREATE VIEW ${qualified}`);
      facts[`view ${name}`] = normalise(row!['Create View']!);
      continue;
    }
    const [create] = await server.rootQuery<Record<string, string>>(`SHOW CREATE ${type === 'SEQUENCE' ? 'SEQUENCE' : 'TABLE'} ${qualified}`);
    facts[`${type.toLowerCase()} ${name}`] = normalise(create!['Create Table']!);
    if (name === 'heartbeat') {
      // Written by the running event: its rows and next id are not the dump's.
      facts[`${type.toLowerCase()} ${name}`] = facts[`${type.toLowerCase()} ${name}`]!.replace(/ AUTO_INCREMENT=\d+/, '');
      continue;
    }
    const [sum] = await server.rootQuery<{ Checksum: number }>(`CHECKSUM TABLE ${qualified} EXTENDED`);
    facts[`checksum ${name}`] = String(sum!.Checksum);
  }
  for (const { ROUTINE_NAME: name, ROUTINE_TYPE: type } of await server.rootQuery<{ ROUTINE_NAME: string; ROUTINE_TYPE: string }>(
    'SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_NAME',
    [database],
  )) {
    const [row] = await server.rootQuery<Record<string, string>>(`SHOW CREATE ${type} ${quoteName(database)}.${quoteName(name)}`);
    facts[`${type.toLowerCase()} ${name}`] = normalise(row![type === 'PROCEDURE' ? 'Create Procedure' : 'Create Function']!);
    facts[`${type.toLowerCase()} ${name} collation`] = `${row!.collation_connection} ${row!['Database Collation']}`;
  }
  for (const { TRIGGER_NAME: name } of await server.rootQuery<{ TRIGGER_NAME: string }>('SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?', [database])) {
    const [row] = await server.rootQuery<Record<string, string>>(`SHOW CREATE TRIGGER ${quoteName(database)}.${quoteName(name)}`);
    facts[`trigger ${name}`] = normalise(row!['SQL Original Statement']!);
    facts[`trigger ${name} collation`] = String(row!['Database Collation']);
  }
  for (const { EVENT_NAME: name } of await server.rootQuery<{ EVENT_NAME: string }>('SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?', [database])) {
    const [row] = await server.rootQuery<Record<string, string>>(`SHOW CREATE EVENT ${quoteName(database)}.${quoteName(name)}`);
    facts[`event ${name}`] = normalise(row!['Create Event']!);
  }
  const [schema] = await server.rootQuery<Record<string, string>>(
    'SELECT DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
    [database],
  );
  facts['database defaults'] = `${schema!.charset} ${schema!.collation}`;
  const [same] = await server.rootQuery<{ same: number }>(`SELECT ${quoteName(database)}.same_text('ß', 'ss') AS same`);
  facts["same_text('ß', 'ss')"] = String(same!.same);
  return facts;
}

async function sourceDefaults(): Promise<string> {
  const [schema] = await server.rootQuery<Record<string, string>>(
    'SELECT DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
    [SOURCE],
  );
  return `${schema!.charset} ${schema!.collation}`;
}

/** The statements other connections ran while `run` ran (the server's general log), minus our own. */
async function loggedStatements(run: () => Promise<void>): Promise<string[]> {
  const [{ id }] = (await server.rootQuery<{ id: number }>('SELECT CONNECTION_ID() AS id')) as [{ id: number }];
  await server.rootQuery("SET GLOBAL log_output = 'TABLE'; TRUNCATE mysql.general_log; SET GLOBAL general_log = 1");
  try {
    await run();
  } finally {
    await server.rootQuery('SET GLOBAL general_log = 0');
  }
  const rows = await server.rootQuery<{ thread: number; command: string; argument: Buffer | string }>(
    'SELECT thread_id AS thread, command_type AS command, argument FROM mysql.general_log ORDER BY event_time',
  );
  return rows.filter((row) => Number(row.thread) !== Number(id)).map((row) => `${row.command}: ${Buffer.isBuffer(row.argument) ? row.argument.toString('utf8') : row.argument}`);
}

/** Databases on the server other than `target`. */
async function databasesBesides(target: string): Promise<string[]> {
  const rows = await server.rootQuery<{ name: string }>('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA');
  return rows.map((row) => row.name).filter((name) => name !== target);
}

/**
 * The statements that name a database other than `target`. Lookups in
 * information_schema are allowed when they ask about the target only: by its
 * name (a restore checking that its target is new or empty), as DATABASE()
 * (mariadb-dump re-dumping a drill's copy), or by a LIKE pattern the target
 * matches (a drill sweeping its own leftover scratch databases).
 */
function statementsOutside(statements: string[], target: string, others: string[]): string[] {
  const aboutTarget = (statement: string) =>
    statement.includes(`'${target}'`) ||
    /table_schema\s*=\s*database\(\)/i.test(statement) ||
    [...statement.matchAll(/LIKE '([^']*)'/gi)].some((like) => likeMatches(like[1]!.replaceAll('\\\\', '\\'), target));
  return statements.filter((statement) => {
    const names = others.filter((name) => namesDatabase(statement, name) || new RegExp(`^(Init DB|Connect): .*\\b${escapeRegExp(name)}\\b`).test(statement));
    if (names.length === 0) return false;
    if (names.every((name) => name.toLowerCase() === 'information_schema') && aboutTarget(statement)) return false;
    return true;
  });
}

/** SQL LIKE (with \\ escapes) as a RegExp test. */
function likeMatches(pattern: string, value: string): boolean {
  let regex = '';
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index]!;
    if (char === '\\' && index + 1 < pattern.length) regex += escapeRegExp(pattern[++index]!);
    else if (char === '%') regex += '.*';
    else if (char === '_') regex += '.';
    else regex += escapeRegExp(char);
  }
  return new RegExp(`^${regex}$`).test(value);
}

let config: string;
let repository: string;
let sourceFacts: Record<string, string>;

test('backup records the source charset and collation, marks system-versioned tables, dumps their history, and warns about the view whose definer is gone', async () => {
  config = writeConfig(root);
  repository = join(root, 'backups');
  sourceFacts = await describeDatabase(SOURCE);
  const backup = await runCli(['-c', config, 'backup']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  assert.match(backup.stdout + backup.stderr, /view `order_ids` is dumped with its columns qualified by `livedb`/);
  const { artifact } = latestManifest(repository);
  assert.equal(artifact.details.databaseCharset, 'utf8mb4');
  assert.equal(artifact.details.databaseCollation, 'utf8mb4_general_ci');
  const tables = artifact.details.tables as Record<string, { systemVersioned?: boolean; historyDumped?: boolean; rows: number | null }>;
  assert.equal(tables.prices!.systemVersioned, true);
  assert.equal(tables.prices!.historyDumped, true);
  assert.equal(tables.prices!.rows, 3, 'the current row and its two earlier versions');
  // The artifact itself names no database: the stock `gunzip | mariadb NEWDB` cannot write into livedb.
  const sql = gunzipSync(readFileSync(join(repository, artifact.path))).toString('utf8');
  const statements = sql.split('\n').filter((line) => !line.startsWith('--'));
  assert.deepEqual(statements.filter((line) => namesDatabase(line, SOURCE) || /ALTER DATABASE `/.test(line)), []);
  assert.match(sql, /ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_swedish_ci/);
});

test('restore db --into: no statement names another database; the copy equals the source; its event is DISABLED and says so', async () => {
  const others = await databasesBesides('copy_into');
  let restored!: Awaited<ReturnType<typeof runCli>>;
  const statements = await loggedStatements(async () => {
    restored = await runCli(['-c', config, 'restore', 'db', '--into', 'copy_into']);
  });
  assert.equal(restored.code, 0, restored.stdout + restored.stderr);
  assert.ok(statements.some((statement) => /CREATE DEFINER=.*PROCEDURE `touch`/.test(statement)), 'the general log saw the restore');
  assert.deepEqual(statementsOutside(statements, 'copy_into', others), []);
  assert.equal(await sourceDefaults(), 'utf8mb4 utf8mb4_general_ci', 'the live database was not altered');

  assert.deepEqual(await describeDatabase('copy_into'), sourceFacts);
  const [event] = await server.rootQuery<{ STATUS: string }>("SELECT STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'copy_into'");
  assert.equal(event!.STATUS, 'DISABLED');
  assert.match(restored.stdout, /1 event restored DISABLED, so it does not run in this copy: ALTER EVENT `copy_into`.`beat` ENABLE; to turn it on/);
  // The copy's default reads the copy's sequence, and its procedure writes into the copy.
  await server.rootQuery('INSERT INTO copy_into.orders (total) VALUES (30); CALL copy_into.touch()');
  assert.deepEqual(await server.rootQuery(`SELECT db FROM ${SOURCE}.heartbeat`), []);
  assert.deepEqual(await server.rootQuery('SELECT db FROM copy_into.heartbeat'), [{ db: 'copy_into' }]);
  const [next] = await server.rootQuery<{ n: number }>(`SELECT NEXT VALUE FOR ${SOURCE}.order_numbers AS n`);
  assert.equal(Number(next!.n), 1002, 'the live sequence did not move');
});

test('events do not fire into the live database from a restored copy, even with the scheduler on', async () => {
  assert.deepEqual(await server.rootQuery("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'copy_into'"), [{ EVENT_NAME: 'beat' }], 'the copy has the event');
  await server.rootQuery('SET GLOBAL event_scheduler = ON');
  try {
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const rows = await server.rootQuery<{ db: string }>(`SELECT DISTINCT db FROM ${SOURCE}.heartbeat`);
    assert.deepEqual(rows.filter((row) => row.db !== SOURCE), [], 'no row from a copy');
    assert.ok(rows.some((row) => row.db === SOURCE), 'the live event itself runs');
  } finally {
    await server.rootQuery(`SET GLOBAL event_scheduler = OFF`);
    await server.rootQuery(`DELETE FROM ${SOURCE}.heartbeat`);
  }
});

test('the stock gunzip | mariadb restores the artifact into any name and gives the same copy', async () => {
  const { artifact } = latestManifest(repository);
  await server.rootQuery('CREATE DATABASE copy_stock CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci');
  const client = spawnSync('mariadb', [...server.clientArgs, 'copy_stock'], { input: gunzipSync(readFileSync(join(repository, artifact.path))), encoding: 'utf8' });
  assert.equal(client.status, 0, client.stderr);
  assert.deepEqual(await describeDatabase('copy_stock'), sourceFacts);
  assert.equal(await sourceDefaults(), 'utf8mb4 utf8mb4_general_ci');
});

test('drill: no statement names another database, and the drill passes', async () => {
  const others = await databasesBesides('(scratch)');
  let drill!: Awaited<ReturnType<typeof runCli>>;
  const statements = await loggedStatements(async () => {
    drill = await runCli(['-c', config, 'drill']);
  });
  assert.equal(drill.code, 0, drill.stdout + drill.stderr);
  const scratch = statements.map((statement) => /CREATE DATABASE `([^`]+)`/.exec(statement)?.[1]).find(Boolean);
  assert.ok(scratch, 'the drill created its scratch database');
  assert.deepEqual(statementsOutside(statements, scratch!, others.filter((name) => name !== scratch)), []);
});

test('an artifact written before the fix (plain mariadb-dump) restores under another name through restore db, rewritten on the way', async (t) => {
  // The artifact as restorable wrote it before: mariadb-dump's bytes unchanged.
  const dump = spawnSync(
    'mariadb-dump',
    [...server.clientArgs, '--single-transaction', '--routines', '--triggers', '--events', '--hex-blob', '--dump-history', '--', SOURCE],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  assert.equal(dump.status, 0, dump.stderr.toString());
  assert.match(dump.stdout.toString(), /ALTER DATABASE `livedb`/);
  const root = tempDir(t);
  const oldConfig = writeConfig(root);
  const oldRepository = join(root, 'backups');
  assert.notEqual((await runCli(['-c', oldConfig, 'backup'])).code, 2);
  const { path, manifest, artifact } = latestManifest(oldRepository);
  const gzipped = gzipSync(dump.stdout);
  writeFileSync(join(oldRepository, artifact.path), gzipped);
  artifact.sha256 = createHash('sha256').update(gzipped).digest('hex');
  artifact.sizeBytes = gzipped.length;
  delete artifact.details.databaseCharset;
  delete artifact.details.databaseCollation;
  delete artifact.details.portable;
  manifest.artifacts[0] = artifact;
  writeFileSync(path, JSON.stringify(manifest));

  const others = await databasesBesides('copy_old');
  let restored!: Awaited<ReturnType<typeof runCli>>;
  const statements = await loggedStatements(async () => {
    restored = await runCli(['-c', oldConfig, 'restore', 'db', '--into', 'copy_old']);
  });
  assert.equal(restored.code, 0, restored.stdout + restored.stderr);
  assert.deepEqual(statementsOutside(statements, 'copy_old', others), []);
  assert.equal(await sourceDefaults(), 'utf8mb4 utf8mb4_general_ci', 'the live database was not altered');
  const copy = await describeDatabase('copy_old');
  // Without a recorded collation the copy is created with the old default, so a routine
  // created under the database default differs: everything else is the same.
  const { ['database defaults']: _a, ["same_text('ß', 'ss')"]: _b, ['function same_text collation']: _c, ...rest } = copy;
  const { ['database defaults']: _d, ["same_text('ß', 'ss')"]: _e, ['function same_text collation']: _f, ...expected } = sourceFacts;
  assert.deepEqual(rest, expected);
});

test('an in-place restore (into the source database itself) keeps the events as they were dumped', async () => {
  const restored = await runCli(['-c', config, 'restore', 'db', '--into', SOURCE, '--yes']);
  assert.equal(restored.code, 0, restored.stdout + restored.stderr);
  assert.doesNotMatch(restored.stdout, /restored DISABLED/);
  const [event] = await server.rootQuery<{ STATUS: string }>(`SELECT STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '${SOURCE}'`);
  assert.equal(event!.STATUS, 'ENABLED');
  assert.deepEqual(await describeDatabase(SOURCE), sourceFacts);
});

test('a table with transaction-precise history (which mariadb-dump cannot dump with history): the backup warns instead of failing, and the drill passes', async (t) => {
  await server.rootQuery(`
    CREATE DATABASE trxdb;
    CREATE TABLE trxdb.ledger (x INT, s BIGINT UNSIGNED AS ROW START INVISIBLE, e BIGINT UNSIGNED AS ROW END INVISIBLE, PERIOD FOR SYSTEM_TIME(s, e)) ENGINE=InnoDB WITH SYSTEM VERSIONING;
    INSERT INTO trxdb.ledger (x) VALUES (1);
    UPDATE trxdb.ledger SET x = 2;
  `);
  const trxRoot = tempDir(t);
  const trxConfig = join(trxRoot, 'restorable.yml');
  writeFileSync(trxConfig, `app: trx\nrepository: ${join(trxRoot, 'backups')}\nsources:\n  db: { type: mysql, socket: ${server.socket}, user: root, database: trxdb }\nmonitor: { min_free: 1MB }\n`);
  initRepositoryOf(trxConfig);
  const backup = await runCli(['-c', trxConfig, 'backup']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  assert.match(backup.stdout + backup.stderr, /system-versioned table `ledger` of `trxdb`: the dump has the current rows only, because mariadb-dump cannot dump the history of transaction-precise versioning/);
  const { artifact } = latestManifest(join(trxRoot, 'backups'));
  assert.equal(artifact.details.historyDumped, false);
  const drill = await runCli(['-c', trxConfig, 'drill']);
  assert.equal(drill.code, 0, drill.stdout + drill.stderr);
});

test('after DROP DATABASE of the source (the disaster case), restore db and drill still work', async () => {
  await server.rootQuery(`DROP DATABASE ${SOURCE}`);
  const restored = await runCli(['-c', config, 'restore', 'db', '--into', 'copy_disaster']);
  assert.equal(restored.code, 0, restored.stdout + restored.stderr);
  assert.deepEqual(await describeDatabase('copy_disaster'), sourceFacts);
  const drill = await runCli(['-c', config, 'drill']);
  assert.equal(drill.code, 0, drill.stdout + drill.stderr);
  assert.deepEqual(await server.rootQuery(`SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${SOURCE}'`), [], 'nothing recreated the source');
});
