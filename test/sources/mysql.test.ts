// Tests the mysql source the way an operator judges a database backup: dump a
// database holding every kind of object, restore it with the stock `mariadb`
// client into a database of ANOTHER name, and compare checksums and object
// lists; then take away privileges, kill the server mid-dump, look for the
// password where it must never be, read a Laravel .env, and check the
// non-transactional warning. All against a private MariaDB started here
// (test/support/mariadb.ts), never the machine's own server.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import type { RowDataPacket } from 'mysql2/promise';
import type { MysqlSourceConfig } from '../../src/config/schema.ts';
import { RestorableError } from '../../src/core/errors.ts';
import type { SourceContext, SourceFacts } from '../../src/sources/source.ts';
import { mysqlSource, resolveMysqlSource, type ResolvedMysqlSource } from '../../src/sources/mysql.ts';
import { DumpScanner } from '../../src/sources/mysql-dump-scanner.ts';
import type { DumpScanResult } from '../../src/sources/mysql-dump-findings.ts';
import { missingDumpPrivileges, parseGrantLine, parseServerVersion } from '../../src/sources/mysql-privileges.ts';
import { startPrivateMariadb, type PrivateMariadb } from '../support/mariadb.ts';

let server: PrivateMariadb;
let workDir: string;
const BACKUP_PASSWORD = 'backup-pw';
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
const EMOJI_NAME = 'Zoë 😀 ünïcødé';

before(async () => {
  server = await startPrivateMariadb();
  workDir = mkdtempSync(join(tmpdir(), 'restorable-mysql-test-'));
  await seedAppDatabase();
  await server.rootQuery(`
    CREATE USER 'backup'@'localhost' IDENTIFIED BY '${BACKUP_PASSWORD}';
    GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON \`app\`.* TO 'backup'@'localhost';
    GRANT SELECT ON \`mysql\`.\`proc\` TO 'backup'@'localhost';
  `);
});

after(async () => {
  const stopping = Date.now();
  await server?.stop();
  if (process.env.RESTORABLE_TEST_TIMING) console.error(`stopped the private MariaDB in ${Date.now() - stopping} ms`);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** A new directory under this file's work directory (removed with it). */
function freshDir(prefix: string): string {
  return mkdtempSync(join(workDir, prefix));
}

/** Every object kind the dump must carry, and data that breaks careless dumps. */
async function seedAppDatabase(): Promise<void> {
  await server.createDatabase('app');
  await server.rootQuery(`
    USE app;
    CREATE TABLE people (
      id INT PRIMARY KEY AUTO_INCREMENT,
      name VARCHAR(100) NOT NULL,
      note TEXT,
      profile JSON,
      name_length INT AS (CHAR_LENGTH(name)) STORED,
      shout VARCHAR(110) AS (UPPER(name)) VIRTUAL
    ) ENGINE=InnoDB;
    CREATE TABLE audit (id INT PRIMARY KEY AUTO_INCREMENT, person_id INT, action VARCHAR(20)) ENGINE=InnoDB;
    CREATE TABLE blobs (id INT PRIMARY KEY, data LONGBLOB) ENGINE=InnoDB;
    CREATE TABLE \`odd name; with ), ( and 'quotes'\` (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;
    CREATE SEQUENCE invoice_numbers START WITH 1000;
    CREATE VIEW people_names AS SELECT id, name FROM people;
    CREATE TRIGGER people_ai AFTER INSERT ON people FOR EACH ROW INSERT INTO audit (person_id, action) VALUES (NEW.id, 'insert');
    CREATE TRIGGER people_bu BEFORE UPDATE ON people FOR EACH ROW SET NEW.note = COALESCE(NEW.note, '');
    CREATE EVENT purge_audit ON SCHEDULE EVERY 1 DAY DO DELETE FROM audit WHERE id < 0;
  `);
  await server.rootQuery(`CREATE PROCEDURE app.rename_person(IN p_id INT, IN p_name VARCHAR(100))
    BEGIN
    CREATE TEMPORARY TABLE IF NOT EXISTS scratch_names (n VARCHAR(100));
    UPDATE people SET name = p_name WHERE id = p_id;
    END`);
  await server.rootQuery(`CREATE FUNCTION app.greeting(p_name VARCHAR(100)) RETURNS VARCHAR(120) DETERMINISTIC RETURN CONCAT('Hello, ', p_name)`);
  await server.rootQuery('INSERT INTO app.people (name, note, profile) VALUES (?, ?, ?)', [
    EMOJI_NAME,
    "line one\nline two with 'quotes', a \\ backslash, a ; and ),( inside",
    JSON.stringify({ emoji: '🎉', list: [1, 2, 3], nested: { ok: true } }),
  ]);
  await server.rootQuery(
    "INSERT INTO app.people (name, note) SELECT CONCAT('person ', seq), REPEAT('x', seq MOD 50) FROM app.seq_1_to_2000",
  );
  await server.rootQuery('INSERT INTO app.blobs VALUES (1, ?), (2, ?), (3, NULL)', [ALL_BYTES, randomBytes(300_000)]);
  await server.rootQuery("INSERT INTO app.`odd name; with ), ( and 'quotes'` VALUES (1, '(a),(b)'), (2, ';')");
}

function mysqlConfig(overrides: Partial<MysqlSourceConfig>): MysqlSourceConfig {
  return { type: 'mysql', timeout: '10m', timeout_ms: 600_000, stall_timeout: '2m', stall_timeout_ms: 120_000, ...overrides } as MysqlSourceConfig;
}

function passwordFile(password: string): string {
  const path = join(workDir, `password-${randomBytes(4).toString('hex')}`);
  writeFileSync(path, `${password}\nsecond line is ignored\n`, { mode: 0o600 });
  return path;
}

/** A source connecting over the private server's socket as `user`. */
function socketSource(database: string, user: string, password: string, extra: Partial<MysqlSourceConfig> = {}): ResolvedMysqlSource {
  return resolveMysqlSource('db', mysqlConfig({ socket: server.socket, database, user, password_file: passwordFile(password), ...extra }), workDir);
}

interface TestContext {
  context: SourceContext<ResolvedMysqlSource>;
  scratchDir: string;
  logged: string[];
  abort: AbortController;
}

function contextFor(resolved: ResolvedMysqlSource): TestContext {
  const scratchDir = freshDir('scratch-');
  const logged: string[] = [];
  const abort = new AbortController();
  const context: SourceContext<ResolvedMysqlSource> = {
    job: 'test',
    sourceName: 'db',
    config: resolved,
    repositoryPath: join(workDir, 'repository'),
    scratchDir,
    log: { info: (message) => logged.push(message), warn: (message) => logged.push(`WARN ${message}`) },
    signal: abort.signal,
  };
  return { context, scratchDir, logged, abort };
}

interface DumpOutcome {
  facts?: SourceFacts;
  error?: RestorableError;
  streamError?: unknown;
  file: string;
}

/** Consumes the dump into a file, as the pipeline does, and awaits `completed`. */
async function dumpToFile(context: SourceContext<ResolvedMysqlSource>, onFirstChunk?: () => Promise<void>): Promise<DumpOutcome> {
  const file = join(workDir, `dump-${randomBytes(4).toString('hex')}.sql`);
  const produced = await mysqlSource.produce(context);
  let firstChunkSeen = false;
  const watcher = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      if (!firstChunkSeen && onFirstChunk) {
        firstChunkSeen = true;
        await onFirstChunk();
      }
      yield chunk;
    }
  };
  const [written, completed] = await Promise.allSettled([pipeline(produced.stream, watcher, createWriteStream(file)), produced.completed]);
  const outcome: DumpOutcome = { file };
  if (written.status === 'rejected') outcome.streamError = written.reason;
  if (completed.status === 'fulfilled') outcome.facts = completed.value;
  else {
    assert.ok(completed.reason instanceof RestorableError, `completed must reject with a RestorableError, got ${inspect(completed.reason)}`);
    outcome.error = completed.reason;
  }
  return outcome;
}

async function expectRejection(promise: Promise<unknown>): Promise<RestorableError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RestorableError, `expected a RestorableError, got ${inspect(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

/** Object names of a database, per kind, from information_schema (as root). */
async function objectLists(database: string): Promise<Record<'tables' | 'views' | 'sequences' | 'routines' | 'triggers' | 'events', string[]>> {
  const names = async (sql: string) => (await server.rootQuery<RowDataPacket>(sql, [database])).map((row) => String(row.name)).sort();
  return {
    tables: await names("SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'"),
    views: await names("SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'VIEW'"),
    sequences: await names("SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'SEQUENCE'"),
    routines: await names("SELECT CONCAT(ROUTINE_TYPE, ' ', ROUTINE_NAME) AS name FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?"),
    triggers: await names("SELECT CONCAT(TRIGGER_NAME, ' ', ACTION_TIMING, ' ', EVENT_MANIPULATION, ' ON ', EVENT_OBJECT_TABLE) AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?"),
    events: await names('SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?'),
  };
}

async function tableChecksums(database: string, tables: string[]): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const table of tables) {
    const [row] = await server.rootQuery<RowDataPacket>(`CHECKSUM TABLE \`${database}\`.\`${table.replaceAll('`', '``')}\``);
    result[table] = Number(row!.Checksum);
  }
  return result;
}

function linesNamingADatabase(dumpText: string): string[] {
  return dumpText.split('\n').filter((line) => /^(?:\/\*!\d*\s*)?(?:USE\s|CREATE\s+(?:DATABASE|SCHEMA)\b)/i.test(line));
}

describe('round trip', () => {
  test('a dump of every object kind restores into a database of another name with identical tables and objects', async () => {
    const { context, scratchDir } = contextFor(socketSource('app', 'backup', BACKUP_PASSWORD));
    const report = await mysqlSource.preflight(context);
    assert.ok(report.notes.some((note) => /10\.\d+\.\d+-MariaDB/.test(note)), `pre-flight names the server version: ${report.notes.join(' | ')}`);
    assert.deepEqual(report.warnings, [], 'an InnoDB-only database gives no warning');

    const outcome = await dumpToFile(context);
    assert.equal(outcome.error, undefined, `the dump succeeds: ${outcome.error?.message} ${outcome.error?.details.join('\n')}`);
    assert.equal(outcome.streamError, undefined);
    const facts = outcome.facts!;
    const dumpText = readFileSync(outcome.file, 'utf8');
    assert.deepEqual(linesNamingADatabase(dumpText), [], 'the dump has no USE / CREATE DATABASE lines');
    assert.match(dumpText.trimEnd().split('\n').pop()!, /^-- Dump completed/);
    assert.deepEqual(readdirSync(scratchDir), [], 'nothing (no credentials pipe) is left in the scratch directory');

    // Restore with the stock client into another name, as an operator would.
    await server.createDatabase('restored_copy');
    await server.runClient(['restored_copy'], outcome.file);

    const original = await objectLists('app');
    const restored = await objectLists('restored_copy');
    assert.deepEqual(restored, original, 'tables, views, sequences, routines, triggers and events all came back');
    assert.equal(original.routines.length, 2);
    assert.equal(original.triggers.length, 2);
    assert.equal(original.events.length, 1);

    const originalChecksums = await tableChecksums('app', original.tables!);
    assert.deepEqual(await tableChecksums('restored_copy', original.tables!), originalChecksums, 'CHECKSUM TABLE is identical for every table');

    const [blob] = await server.rootQuery<RowDataPacket>('SELECT data FROM restored_copy.blobs WHERE id = 1');
    assert.deepEqual(blob!.data, ALL_BYTES, 'all 256 byte values survive');
    const [person] = await server.rootQuery<RowDataPacket>('SELECT name, profile, name_length, shout FROM restored_copy.people WHERE id = 1');
    assert.equal(person!.name, EMOJI_NAME, 'utf8mb4 text survives');
    const profile = typeof person!.profile === 'string' ? JSON.parse(person!.profile) : person!.profile;
    assert.deepEqual(profile, { emoji: '🎉', list: [1, 2, 3], nested: { ok: true } });
    assert.equal(person!.name_length, [...EMOJI_NAME].length, 'the generated column is computed again');
    const [sequence] = await server.rootQuery<RowDataPacket>('SELECT NEXTVAL(restored_copy.invoice_numbers) AS next');
    assert.equal(Number(sequence!.next), 1000);

    // The restored objects work on the restored tables, not on `app`.
    const [greeting] = await server.rootQuery<RowDataPacket>("SELECT restored_copy.greeting('drill') AS text");
    assert.equal(greeting!.text, 'Hello, drill');
    const auditBefore = await server.rootQuery<RowDataPacket>('SELECT COUNT(*) AS n FROM app.audit');
    await server.rootQuery("INSERT INTO restored_copy.people (name) VALUES ('after restore')");
    const [auditRow] = await server.rootQuery<RowDataPacket>("SELECT action FROM restored_copy.audit ORDER BY id DESC LIMIT 1");
    assert.equal(auditRow!.action, 'insert', 'the restored trigger writes into the restored database');
    assert.deepEqual(await server.rootQuery<RowDataPacket>('SELECT COUNT(*) AS n FROM app.audit'), auditBefore, 'and not into the original');

    // Facts for the manifest.
    const details = facts.details as Record<string, any>;
    assert.equal(details.database, 'app');
    assert.match(details.server.version, /MariaDB/);
    assert.match(details.tool.version, /mariadb-dump|mysqldump/);
    assert.equal(details.account, 'backup@localhost');
    assert.deepEqual(details.inventory.procedures, ['rename_person']);
    assert.deepEqual(details.inventory.functions, ['greeting']);
    assert.deepEqual(details.inventory.triggers, ['people_ai', 'people_bu']);
    assert.deepEqual(details.inventory.events, ['purge_audit']);
    assert.deepEqual(details.inventory.views, ['people_names']);
    assert.deepEqual(details.inventory.sequences, ['invoice_numbers']);
    for (const table of original.tables!) {
      const [count] = await server.rootQuery<RowDataPacket>(`SELECT COUNT(*) AS n FROM app.\`${table.replaceAll('`', '``')}\``);
      assert.equal(details.tables[table].rows, Number(count!.n), `row count of ${table} in the facts`);
      assert.match(details.tables[table].rowDigest, /^crc32sum48xor:[0-9a-f]{12}:[0-9a-f]{8}$/, `row digest of ${table} in the facts`);
    }
    assert.deepEqual(facts.warnings, []);
    assert.equal(facts.degraded, false);
  });
});

describe('privileges', () => {
  test('an account that cannot see routines (the silent V4 loss) is refused before dumping, with the GRANT to run', async () => {
    await server.rootQuery(`
      CREATE USER 'dump_v4'@'localhost' IDENTIFIED BY 'v4-pw';
      GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON \`app\`.* TO 'dump_v4'@'localhost';
    `);
    // The premise: the stock tool drops the procedure and still exits 0.
    const premise = await runStockDump('dump_v4', 'v4-pw', 'app');
    assert.equal(premise.status, 0);
    assert.doesNotMatch(premise.stdout, /PROCEDURE `rename_person`/);

    const { context, scratchDir } = contextFor(socketSource('app', 'dump_v4', 'v4-pw'));
    const refused = await expectRejection(mysqlSource.preflight(context));
    assert.equal(refused.code, 'MYSQL_PRIVILEGES_MISSING');
    assert.match(refused.message, /dump_v4@localhost lacks SELECT on mysql\.proc/);
    assert.match(refused.message, /without it the dump would silently leave objects out/);
    assert.ok(refused.remedy?.includes("GRANT SELECT ON `mysql`.`proc` TO 'dump_v4'@'localhost';"), refused.remedy);

    const alsoRefused = await expectRejection(mysqlSource.produce(context));
    assert.equal(alsoRefused.code, 'MYSQL_PRIVILEGES_MISSING', 'produce() checks again, so it cannot be skipped');
    assert.deepEqual(readdirSync(scratchDir), [], 'no dump was started');

    await server.rootQuery("GRANT SELECT ON `mysql`.`proc` TO 'dump_v4'@'localhost'");
    await mysqlSource.preflight(context); // with the grant from the remedy, it passes
  });

  test('an account that sees routines but not their bodies is refused, naming each routine', async () => {
    await server.rootQuery(`
      CREATE USER 'dump_exec'@'localhost' IDENTIFIED BY 'exec-pw';
      GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE ON \`app\`.* TO 'dump_exec'@'localhost';
    `);
    const { context } = contextFor(socketSource('app', 'dump_exec', 'exec-pw'));
    const refused = await expectRejection(mysqlSource.preflight(context));
    assert.equal(refused.code, 'MYSQL_PRIVILEGES_MISSING');
    const text = refused.details.join('\n');
    assert.match(text, /procedure `rename_person` \(defined by root@localhost\)/);
    assert.match(text, /function `greeting`/);
    assert.ok(refused.remedy?.includes("GRANT SELECT ON `mysql`.`proc` TO 'dump_exec'@'localhost';"), refused.remedy);
  });

  test('missing SHOW VIEW and TRIGGER are named with their GRANT statements', async () => {
    await server.rootQuery(`
      CREATE USER 'dump_select'@'localhost' IDENTIFIED BY 'select-pw';
      GRANT SELECT, EVENT ON \`app\`.* TO 'dump_select'@'localhost';
      GRANT SELECT ON \`mysql\`.\`proc\` TO 'dump_select'@'localhost';
    `);
    const { context } = contextFor(socketSource('app', 'dump_select', 'select-pw'));
    const refused = await expectRejection(mysqlSource.preflight(context));
    assert.equal(refused.code, 'MYSQL_PRIVILEGES_MISSING');
    assert.match(refused.message, /lacks SHOW VIEW, TRIGGER for a complete dump of `app`/);
    assert.ok(refused.remedy?.includes("GRANT SHOW VIEW ON `app`.* TO 'dump_select'@'localhost';"), refused.remedy);
    assert.ok(refused.remedy?.includes("GRANT TRIGGER ON `app`.* TO 'dump_select'@'localhost';"), refused.remedy);
    assert.match(refused.details.join('\n'), /view `people_names`/);
  });

  test('a dump that exits 0 but lost routines fails after the fact, naming what is missing', async () => {
    // A dump tool that behaves like V4: exit 0, trailer present, routines gone.
    const wrapper = join(workDir, 'dump-without-routines.sh');
    writeFileSync(
      wrapper,
      '#!/bin/sh\nfor argument in "$@"; do shift; [ "$argument" = --routines ] || set -- "$@" "$argument"; done\nexec mariadb-dump "$@"\n',
    );
    chmodSync(wrapper, 0o755);
    const { context } = contextFor(socketSource('app', 'backup', BACKUP_PASSWORD, { dump_tool: wrapper }));
    const outcome = await dumpToFile(context);
    assert.ok(outcome.error, 'completed rejects');
    assert.equal(outcome.error.code, 'DUMP_INCOMPLETE');
    assert.match(outcome.error.message, /the dump of `app` lacks procedure `rename_person`, function `greeting` although the server has them/);
    assert.ok(outcome.error.remedy?.includes("GRANT SELECT ON `mysql`.`proc` TO 'backup'@'localhost';"), outcome.error.remedy);
    assert.ok(outcome.streamError, 'the stream errors too, so a consumer cannot mistake it for a good artifact');
  });
});

describe('objects changing during the dump', () => {
  test('an object dropped after the inventory but before the dump is a warning, not a lost object', async () => {
    await server.createDatabase('shifting');
    await server.rootQuery(`
      CREATE TABLE shifting.kept (id INT PRIMARY KEY) ENGINE=InnoDB;
      CREATE TABLE shifting.doomed (id INT PRIMARY KEY) ENGINE=InnoDB;
      GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON \`shifting\`.* TO 'backup'@'localhost';
    `);
    // Runs between our inventory and the dump's own listing, like a migration would.
    const wrapper = join(workDir, 'drop-then-dump.sh');
    writeFileSync(
      wrapper,
      `#!/bin/sh\n[ "$1" = --version ] || mariadb ${server.clientArgs.join(' ')} -e 'DROP TABLE shifting.doomed' || exit 9\nexec mariadb-dump "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    const { context } = contextFor(socketSource('shifting', 'backup', BACKUP_PASSWORD, { dump_tool: wrapper }));
    const outcome = await dumpToFile(context);
    assert.equal(outcome.error, undefined, outcome.error?.message);
    const warning = outcome.facts!.warnings.find((entry) => entry.code === 'OBJECT_DROPPED_DURING_DUMP');
    assert.ok(warning, 'the dropped table is reported');
    assert.match(warning.message, /table `doomed` of `shifting` disappeared while the dump ran/);
  });

  test('a dump that exits 0 but is cut short or empty fails for its missing trailer', async () => {
    for (const [name, script] of [
      ['cut-short.sh', '#!/bin/sh\n[ "$1" = --version ] && exec mariadb-dump --version\nmariadb-dump "$@" | head -n 30\nexit 0\n'],
      ['silent.sh', '#!/bin/sh\n[ "$1" = --version ] && exec mariadb-dump --version\nexit 0\n'],
    ] as const) {
      const wrapper = join(workDir, name);
      writeFileSync(wrapper, script);
      chmodSync(wrapper, 0o755);
      const { context, scratchDir } = contextFor(socketSource('app', 'backup', BACKUP_PASSWORD, { dump_tool: wrapper }));
      const outcome = await dumpToFile(context);
      assert.equal(outcome.error?.code, 'DUMP_INCOMPLETE', `${name}: ${outcome.error?.message}`);
      assert.match(outcome.error!.message, /ended without its `-- Dump completed` trailer although .* exited 0/);
      assert.ok(outcome.streamError, `${name}: the stream errors too`);
      assert.deepEqual(readdirSync(scratchDir), [], `${name}: the credentials pipe is removed even when nobody read it`);
    }
  });

  test('a dump tool that is not there fails pre-flight, naming the path', async () => {
    const { context } = contextFor(socketSource('app', 'backup', BACKUP_PASSWORD, { dump_tool: '/nonexistent/bin/mariadb-dump' }));
    const error = await expectRejection(mysqlSource.preflight(context));
    assert.equal(error.code, 'DUMP_TOOL_MISSING');
    assert.match(error.message, /\/nonexistent\/bin\/mariadb-dump \(sources\.db\.dump_tool\) was not found/);
  });
});

describe('Laravel .env', () => {
  test('env_file with quotes and comments gives the connection, and explicit keys win', async () => {
    const laravelPassword = 'p#ss w0rd "quoted" \\ end';
    await server.createDatabase('laravel_app');
    await server.rootQuery(`
      CREATE USER 'laravel'@'127.0.0.1' IDENTIFIED BY ?;
      GRANT ALL PRIVILEGES ON \`laravel_app\`.* TO 'laravel'@'127.0.0.1';
    `, [laravelPassword]);
    const appDir = freshDir('laravel-');
    writeFileSync(
      join(appDir, '.env'),
      [
        'APP_NAME="My Shop"',
        '# database',
        'DB_CONNECTION=mysql',
        'DB_HOST=127.0.0.1   # loopback only',
        `DB_PORT="${server.port}"`,
        "DB_DATABASE='laravel_app'",
        'DB_USERNAME=laravel',
        `DB_PASSWORD="${laravelPassword.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`,
        '',
      ].join('\n'),
    );
    const resolved = resolveMysqlSource('db', mysqlConfig({ env_file: '.env' }), appDir);
    const { password, notes, ...connection } = resolved.connection;
    assert.deepEqual(connection, {
      host: '127.0.0.1',
      port: server.port,
      socket: undefined,
      database: 'laravel_app',
      user: 'laravel',
      passwordEnvName: undefined,
      passwordSource: `DB_PASSWORD in ${join(appDir, '.env')}`,
    });
    assert.equal(password?.reveal(), laravelPassword);
    assert.deepEqual(notes, []);

    // The application's own user, with its own routine: no extra grant needed, over TCP.
    const { createConnection } = await import('mysql2/promise');
    const asLaravel = await createConnection({ host: '127.0.0.1', port: server.port, user: 'laravel', password: laravelPassword, database: 'laravel_app' });
    await asLaravel.query('CREATE TABLE orders (id INT PRIMARY KEY, total DECIMAL(10,2)) ENGINE=InnoDB');
    await asLaravel.query('INSERT INTO orders VALUES (1, 9.99), (2, 19.50)');
    await asLaravel.query('CREATE PROCEDURE order_count() SELECT COUNT(*) FROM orders');
    await asLaravel.end();
    const { context } = contextFor(resolved);
    const outcome = await dumpToFile(context);
    assert.equal(outcome.error, undefined, outcome.error?.message);
    assert.equal((outcome.facts!.details as any).endpoint, `127.0.0.1:${server.port}`);
    assert.deepEqual((outcome.facts!.details as any).inventory.procedures, ['order_count']);
    assert.equal((outcome.facts!.details as any).tables.orders.rows, 2);

    const overridden = resolveMysqlSource('db', mysqlConfig({ env_file: join(appDir, '.env'), database: 'other', port: 3307 }), '/');
    assert.equal(overridden.connection.database, 'other');
    assert.equal(overridden.connection.port, 3307);
    assert.equal(overridden.connection.user, 'laravel');
  });

  test('DB_HOST=localhost means the local socket, as for PHP', () => {
    const appDir = freshDir('laravel-');
    writeFileSync(join(appDir, '.env'), 'DB_HOST=localhost\nDB_DATABASE=app\nDB_USERNAME=backup\nDB_PASSWORD=\n');
    const resolved = resolveMysqlSource('db', mysqlConfig({ env_file: '.env' }), appDir, { socketCandidates: ['/nonexistent/mysqld.sock', server.socket] });
    assert.equal(resolved.connection.socket, server.socket);
    assert.equal(resolved.connection.password, undefined, 'an empty DB_PASSWORD means no password');
    assert.match(resolved.connection.notes.join(' '), /using the socket/);
  });

  test('missing or unreadable settings name the config field', () => {
    const appDir = freshDir('laravel-');
    writeFileSync(join(appDir, '.env'), 'DB_CONNECTION=mysql\nDB_USERNAME=app\n');
    const noDatabase = captureError(() => resolveMysqlSource('db', mysqlConfig({ env_file: '.env' }), appDir));
    assert.equal(noDatabase.code, 'CONFIG_INVALID');
    assert.match(noDatabase.message, /sources\.db\.database is missing/);
    assert.match(noDatabase.remedy ?? '', /DB_DATABASE in .*\.env/);

    writeFileSync(join(appDir, 'pg.env'), 'DB_CONNECTION=pgsql\nDB_DATABASE=x\nDB_USERNAME=y\n');
    assert.match(captureError(() => resolveMysqlSource('db', mysqlConfig({ env_file: 'pg.env' }), appDir)).message, /DB_CONNECTION=pgsql/);

    const missingFile = captureError(() => resolveMysqlSource('db', mysqlConfig({ database: 'app', user: 'u', password_file: 'nope.txt' }), appDir));
    assert.match(missingFile.message, /sources\.db\.password_file: .*nope\.txt does not exist/);

    const unsetVariable = captureError(() =>
      resolveMysqlSource('db', mysqlConfig({ database: 'app', user: 'u', password_env: 'RESTORABLE_TEST_UNSET' }), appDir, { environment: {} }),
    );
    assert.match(unsetVariable.message, /sources\.db\.password_env names the environment variable RESTORABLE_TEST_UNSET/);
  });
});

describe('non-transactional tables', () => {
  test('MyISAM and MEMORY tables give a NON_TRANSACTIONAL_TABLES warning in pre-flight and in the facts', async () => {
    await server.createDatabase('mixed');
    await server.rootQuery(`
      CREATE TABLE mixed.orders (id INT PRIMARY KEY) ENGINE=InnoDB;
      CREATE TABLE mixed.legacy_log (id INT, line VARCHAR(100)) ENGINE=MyISAM;
      CREATE TABLE mixed.sessions (id INT) ENGINE=MEMORY;
      INSERT INTO mixed.legacy_log VALUES (1, 'a'), (2, 'b');
      GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON \`mixed\`.* TO 'backup'@'localhost';
    `);
    const { context } = contextFor(socketSource('mixed', 'backup', BACKUP_PASSWORD));
    const report = await mysqlSource.preflight(context);
    assert.deepEqual(report.warnings.map((warning) => warning.code), ['NON_TRANSACTIONAL_TABLES']);
    const outcome = await dumpToFile(context);
    assert.equal(outcome.error, undefined, outcome.error?.message);
    const warning = outcome.facts!.warnings.find((entry) => entry.code === 'NON_TRANSACTIONAL_TABLES');
    assert.ok(warning, 'the warning is in the facts (and so in the manifest)');
    assert.match(warning.message, /legacy_log \(MyISAM\)/);
    assert.match(warning.message, /sessions \(MEMORY\)/);
    assert.doesNotMatch(warning.message, /orders/);
    assert.deepEqual((outcome.facts!.details as any).nonTransactionalTables, [
      { name: 'legacy_log', engine: 'MyISAM' },
      { name: 'sessions', engine: 'MEMORY' },
    ]);
    assert.equal((outcome.facts!.details as any).tables.legacy_log.rows, 2);
  });
});

describe('a big database', () => {
  before(async () => {
    await server.createDatabase('big');
    await server.rootQuery(`
      CREATE TABLE big.events_log (id INT PRIMARY KEY, payload VARCHAR(255)) ENGINE=InnoDB;
      INSERT INTO big.events_log SELECT seq, CONCAT(seq, ' ', REPEAT(CHAR(65 + seq MOD 26), 200)) FROM big.seq_1_to_300000;
      GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON \`big\`.* TO 'backup'@'localhost';
    `);
  });

  test('the password is in neither the argv nor the environment of the dump child, nor in error messages', async () => {
    const marker = `pw-${randomBytes(6).toString('hex')}`;
    const password = `${marker} "#' \\ ü`;
    await server.rootQuery(`
      CREATE USER 'secretive'@'localhost' IDENTIFIED BY ?;
      GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON \`big\`.* TO 'secretive'@'localhost';
      GRANT SELECT ON \`mysql\`.\`proc\` TO 'secretive'@'localhost';
    `, [password]);
    const variable = 'RESTORABLE_TEST_MYSQL_PASSWORD';
    process.env[variable] = password;
    process.env.MYSQL_PWD = password;
    try {
      const resolved = resolveMysqlSource('db', mysqlConfig({ socket: server.socket, database: 'big', user: 'secretive', password_env: variable }), workDir);
      assert.ok(!JSON.stringify(resolved).includes(marker), 'a logged config does not show it');
      assert.ok(!inspect(resolved, { depth: 10 }).includes(marker));

      const { context, scratchDir } = contextFor(resolved);
      const produced = await mysqlSource.produce(context);
      // The child is blocked on its full pipe until we read, so it is alive now.
      const pids = dumpProcessesMentioning(scratchDir);
      assert.equal(pids.length, 1, 'exactly one dump child runs');
      const cmdline = readFileSync(`/proc/${pids[0]}/cmdline`, 'utf8');
      const environ = readFileSync(`/proc/${pids[0]}/environ`, 'utf8');
      assert.match(cmdline, /^[^\0]*mariadb-dump\0--defaults-file=/, '--defaults-file is the first argument');
      assert.ok(!cmdline.includes(marker), 'not on argv');
      assert.ok(!environ.includes(marker), 'not in the environment');
      assert.ok(!environ.split('\0').some((entry) => entry.startsWith('MYSQL_PWD=') || entry.startsWith(`${variable}=`)));

      const file = join(workDir, 'big.sql');
      const [, facts] = await Promise.all([pipeline(produced.stream, createWriteStream(file)), produced.completed]);
      assert.deepEqual(readdirSync(scratchDir), [], 'the credentials pipe is gone');
      assert.equal((facts.details as any).tables.events_log.rows, 300_000);

      // A dump tool that prints its option file to stderr and fails: the error must not repeat it.
      const leaky = join(workDir, 'leaky-dump.sh');
      writeFileSync(leaky, '#!/bin/sh\ncase "$1" in\n  --version) exec mariadb-dump --version;;\n  --defaults-file=*) cat "${1#--defaults-file=}" >&2;;\nesac\nexit 2\n');
      chmodSync(leaky, 0o755);
      const leakyContext = contextFor(resolveMysqlSource('db', mysqlConfig({ socket: server.socket, database: 'big', user: 'secretive', password_env: variable, dump_tool: leaky }), workDir));
      const outcome = await dumpToFile(leakyContext.context);
      assert.equal(outcome.error?.code, 'DUMP_FAILED');
      assert.match(outcome.error!.details.join('\n'), /password=/, 'the tool did print its option file');
      const shown = JSON.stringify({ ...outcome.error!.toJSON(), stream: String(outcome.streamError) });
      assert.ok(!shown.includes(marker), `the password is scrubbed from the error: ${shown}`);
      assert.ok(!leakyContext.logged.join('\n').includes(marker));

      const wrongPassword = contextFor(socketSource('big', 'secretive', 'not-the-password'));
      const denied = await expectRejection(mysqlSource.preflight(wrongPassword.context));
      assert.equal(denied.code, 'MYSQL_ACCESS_DENIED');
      assert.ok(!JSON.stringify(denied.toJSON()).includes('not-the-password'));
    } finally {
      delete process.env[variable];
      delete process.env.MYSQL_PWD;
    }
  });

  test('a server killed mid-dump makes completed reject, saying what failed', async () => {
    const { context } = contextFor(socketSource('big', 'backup', BACKUP_PASSWORD));
    const outcome = await dumpToFile(context, () => server.kill());
    assert.ok(outcome.error, 'completed rejects');
    assert.equal(outcome.error.code, 'DUMP_FAILED');
    assert.match(outcome.error.message, /the dump of `big` at socket .* failed: mariadb-dump exited with status \d+/);
    assert.match(outcome.error.details.join('\n'), /Lost connection|gone away|2013|2006/);
    assert.match(outcome.error.remedy ?? '', /server went away/);
    assert.ok(outcome.streamError, 'the stream errors as well');
    const text = readFileSync(outcome.file, 'utf8');
    assert.doesNotMatch(text, /-- Dump completed/, 'the partial output has no trailer');
    await server.restart();
  });

  test('an unreachable server is a clear pre-flight error with the socket and the next step', async () => {
    const { context } = contextFor(socketSource('big', 'backup', BACKUP_PASSWORD, { socket: join(workDir, 'no-such.sock') }));
    const error = await expectRejection(mysqlSource.preflight(context));
    assert.equal(error.code, 'MYSQL_UNREACHABLE');
    assert.match(error.message, /no-such\.sock/);
    assert.match(error.remedy ?? '', /check that the server is running/);
  });

  test('a consumer that stops reading stops the dump child too', async () => {
    const { context, scratchDir } = contextFor(socketSource('big', 'backup', BACKUP_PASSWORD));
    const produced = await mysqlSource.produce(context);
    await new Promise((resolve) => produced.stream.once('data', resolve));
    produced.stream.destroy();
    const error = await expectRejection(produced.completed);
    assert.equal(error.code, 'DUMP_FAILED');
    assert.match(error.message, /was stopped because its output was closed before the dump finished/);
    assert.deepEqual(dumpProcessesMentioning(scratchDir), [], 'no dump child is left behind');
  });

  test('aborting the run stops the dump', async () => {
    const { context, abort } = contextFor(socketSource('big', 'backup', BACKUP_PASSWORD));
    const started = Date.now();
    const outcome = await dumpToFile(context, async () => abort.abort());
    assert.equal(outcome.error?.code, 'DUMP_ABORTED');
    assert.match(outcome.error!.message, /the dump of `big` at socket .* was stopped because the run was aborted/);
    assert.ok(Date.now() - started < 20_000);
  });
});

describe('dump scanner', () => {
  async function scan(chunks: Buffer[]): Promise<DumpScanResult> {
    const scanner = new DumpScanner();
    await pipeline(Readable.from(chunks), scanner, async function* (source) {
      for await (const _ of source) {
        // drain
      }
    });
    return scanner.result();
  }
  function chunked(text: string, size: number): Buffer[] {
    const bytes = Buffer.from(text);
    const chunks: Buffer[] = [];
    for (let index = 0; index < bytes.length; index += size) chunks.push(bytes.subarray(index, index + size));
    return chunks;
  }

  test('the result does not depend on where chunks split', async () => {
    const { context } = contextFor(socketSource('app', 'backup', BACKUP_PASSWORD));
    const outcome = await dumpToFile(context);
    const text = readFileSync(outcome.file, 'utf8');
    const whole = await scan([Buffer.from(text)]);
    assert.ok(whole.trailerFound);
    assert.equal(whole.rowsByTable.people, 2001);
    for (const size of [1, 7, 4095, 65536]) assert.deepEqual(await scan(chunked(text, size)), whole, `chunks of ${size} bytes`);
  });

  test('counts rows of single-line INSERTs with tricky strings and lines longer than the head', async () => {
    const long = 'y'.repeat(20_000);
    const text = [
      'INSERT INTO `t` VALUES (1,\'a),(b\'),(2,\'it\\\'s; ok\'),(3,NULL),(4,\'' + long + '\');',
      'INSERT INTO `t` (`a`,`b`) VALUES (5,6);',
      "INSERT INTO `u` VALUES\n(1,'x\\\\'),\n(2,'(')\n;",
      '-- Dump completed on 2026-01-01',
    ].join('\n');
    const result = await scan(chunked(text, 1000));
    assert.deepEqual(result.rowsByTable, { t: 5, u: 2 });
    assert.ok(result.trailerFound);
  });

  test('sees USE / CREATE DATABASE, multi-line and qualified trigger names, and ignores CREATE TABLE in routine bodies', async () => {
    const text = [
      'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `app`;',
      'USE `app`;',
      'DELIMITER ;;',
      'CREATE DEFINER=`a b`@`%` PROCEDURE `p``x`()',
      'BEGIN',
      'CREATE TABLE inner_tmp (a INT);',
      'END ;;',
      '/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER',
      '  tr_multi BEFORE INSERT ON t FOR EACH ROW SET @x = 1 */;;',
      '/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER app.tr_q AFTER UPDATE ON t FOR EACH ROW SET @x = 2 */;;',
      'DELIMITER ;',
      'CREATE TABLE `real one` (',
      '-- Dump completed',
    ].join('\n');
    const result = await scan([Buffer.from(text)]);
    assert.deepEqual(result.databaseStatements.map((statement) => statement.line), [1, 2]);
    assert.deepEqual(result.inventory.procedures, ['p`x']);
    assert.deepEqual(result.inventory.tables, ['real one']);
    assert.deepEqual(result.inventory.triggers, ['tr_multi', 'tr_q']);
    assert.deepEqual(result.qualifiedTriggers, [{ name: 'tr_q', qualifier: 'app' }]);
  });

  test('a dump cut short has no trailer', async () => {
    const result = await scan([Buffer.from("-- Dump completed on x\nINSERT INTO `t` VALUES (1,'unfinished")]);
    assert.equal(result.trailerFound, false);
  });
});

describe('grants', () => {
  const mariadb = parseServerVersion('10.11.19-MariaDB-0+deb12u1');
  const base = { database: 'shop_db', account: 'backup@localhost', server: mariadb, procTableReadable: false, viewsWithoutShowView: [], routines: [] };

  test('reads grants on wildcards, roles, PUBLIC and ALL PRIVILEGES', () => {
    assert.deepEqual(parseGrantLine('GRANT SELECT, SHOW VIEW, EVENT, TRIGGER ON `shop\\_%`.* TO PUBLIC'), {
      privileges: ['SELECT', 'SHOW VIEW', 'EVENT', 'TRIGGER'],
      scope: 'database',
      database: 'shop\\_%',
    });
    assert.equal(parseGrantLine('GRANT `r_dump` TO `u5`@`localhost`'), undefined);
    assert.deepEqual(parseGrantLine('GRANT SELECT (`a`, `b on c`), INSERT ON `x`.`t` TO `u`@`%`')?.privileges, ['INSERT']);
    const allOnDb = missingDumpPrivileges({ ...base, grantLines: ['GRANT ALL PRIVILEGES ON `shop_db`.* TO `backup`@`localhost`'] });
    assert.deepEqual(allOnDb, [], 'ALL on the database lists every routine by name; none unreadable here');
    const wildcard = missingDumpPrivileges({ ...base, procTableReadable: true, grantLines: ['GRANT SELECT, SHOW VIEW, EVENT, TRIGGER ON `shop\\_%`.* TO PUBLIC'] });
    assert.deepEqual(wildcard, []);
    const otherDatabase = missingDumpPrivileges({ ...base, procTableReadable: true, grantLines: ['GRANT SELECT, SHOW VIEW, EVENT, TRIGGER ON `shopXdb`.* TO `backup`@`localhost`'] });
    assert.deepEqual(otherDatabase.map((entry) => entry.privilege), ['SELECT', 'TRIGGER', 'EVENT']);
  });
});

function runStockDump(user: string, password: string, database: string): Promise<{ status: number | null; stdout: string }> {
  return import('node:child_process').then(
    ({ spawn }) =>
      new Promise((resolve) => {
        const child = spawn('mariadb-dump', ['--no-defaults', `--socket=${server.socket}`, `--user=${user}`, `--password=${password}`, '--single-transaction', '--routines', '--triggers', '--events', database]);
        let stdout = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
        child.on('close', (status) => resolve({ status, stdout }));
      }),
  );
}

function dumpProcessesMentioning(marker: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        return cmdline.includes('mariadb-dump') && cmdline.includes(marker);
      } catch {
        return false;
      }
    });
}

function captureError(action: () => unknown): RestorableError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof RestorableError, inspect(error));
    return error;
  }
  assert.fail('expected an error');
}
