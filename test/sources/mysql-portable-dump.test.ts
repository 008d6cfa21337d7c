// PortableDumpRewriter on dump text as mariadb-dump 10.11 writes it: the
// source database's name is taken out of DDL only (never out of strings,
// comments, INSERT data, or a table alias named like the database), a table
// whose DEFAULT reads a sequence loses its LOCK TABLES, events are DISABLED
// on request, other databases are reported, and USE / CREATE DATABASE is
// refused before it is passed on. Fed whole and one byte at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PortableDumpRewriter, type DumpPortabilityOptions, type DumpPortabilityReport } from '../../src/sources/mysql-dump-portable.ts';
import { portabilityWarnings } from '../../src/sources/mysql-dump-portability-report.ts';
import { RestorableError } from '../../src/core/errors.ts';

const OBJECTS = ['t', 'log', 's', 'orders', 'v', 'vd', 'p', 'ev', 'trg'];

async function rewrite(text: string, options: Partial<DumpPortabilityOptions> = {}, chunkBytes?: number): Promise<{ text: string; report: DumpPortabilityReport }> {
  const bytes = Buffer.from(text, 'utf8');
  const chunks: Buffer[] = [];
  if (chunkBytes) for (let index = 0; index < bytes.length; index += chunkBytes) chunks.push(bytes.subarray(index, index + chunkBytes));
  else chunks.push(bytes);
  const rewriter = new PortableDumpRewriter({ sourceDatabase: 'src', objectNames: OBJECTS, ...options });
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), rewriter, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return { text: Buffer.concat(out).toString('utf8'), report: rewriter.report() };
}

/** The same result whole and byte by byte. */
async function rewriteBothWays(text: string, options: Partial<DumpPortabilityOptions> = {}): Promise<{ text: string; report: DumpPortabilityReport }> {
  const whole = await rewrite(text, options);
  const bytewise = await rewrite(text, options, 1);
  assert.equal(bytewise.text, whole.text, 'byte-by-byte feeding gives the same output');
  assert.deepEqual(bytewise.report, whole.report);
  return whole;
}

test('ALTER DATABASE `src` loses its name (the default database is the target); the rest of the dump is unchanged', async () => {
  const dump = [
    'ALTER DATABASE `src` CHARACTER SET latin1 COLLATE latin1_swedish_ci ;',
    'DELIMITER ;;',
    'ALTER DATABASE `src` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci ;;',
    'DELIMITER ;',
    'SET NAMES utf8mb4;',
    '-- Dump completed on 2026-12-03',
    '',
  ].join('\n');
  const { text, report } = await rewriteBothWays(dump);
  assert.equal(
    text,
    [
      'ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_swedish_ci ;',
      'DELIMITER ;;',
      'ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci ;;',
      'DELIMITER ;',
      'SET NAMES utf8mb4;',
      '-- Dump completed on 2026-12-03',
      '',
    ].join('\n'),
  );
  assert.equal(report.alterDatabaseStatements, 2);
});

test('db-qualified names of the database\'s own objects are unqualified in views, routines, triggers, events and sequence defaults; strings, comments, aliases and other databases are kept', async () => {
  const dump = [
    'CREATE TABLE `orders` (',
    '  `id` int(11) NOT NULL DEFAULT nextval(`src`.`s`),',
    "  `note` varchar(20) DEFAULT 'src.t' COMMENT 'see `src`.`t`',",
    '  PRIMARY KEY (`id`)',
    ') ENGINE=InnoDB;',
    '/*!50001 VIEW `vd` AS select `src`.`t`.`id` AS `id`,`src`.`id` AS `x` from `t` `src` join `other`.`u` */;',
    'DELIMITER ;;',
    'CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()',
    "BEGIN SELECT * FROM src.t; /* src.t stays */ SELECT 'src.log'; SELECT x.src.t FROM x; -- src.t",
    'UPDATE src.log SET n = 1; END',
    ';;',
    "/*!50106 CREATE*/ /*!50117 DEFINER=`root`@`localhost`*/ /*!50106 EVENT `ev` ON SCHEDULE EVERY 1 SECOND STARTS '2026-12-03 07:42:09' ON COMPLETION NOT PRESERVE ENABLE DO INSERT INTO src.log (db) VALUES (DATABASE()) ",
    '*/ ;;',
    'DELIMITER ;',
    '',
  ].join('\n');
  const { text, report } = await rewriteBothWays(dump, { otherDatabases: ['other', 'mysql'] });
  assert.match(text, /DEFAULT nextval\(`s`\),/);
  assert.match(text, /DEFAULT 'src\.t' COMMENT 'see `src`\.`t`',/, 'string literals untouched');
  assert.match(text, /VIEW `vd` AS select `t`\.`id` AS `id`,`src`\.`id` AS `x` from `t` `src` join `other`\.`u` \*\/;/, 'the alias `src` and the other database stay');
  assert.match(text, /BEGIN SELECT \* FROM t; \/\* src\.t stays \*\/ SELECT 'src\.log'; SELECT x\.src\.t FROM x; -- src\.t\n/);
  assert.match(text, /UPDATE log SET n = 1; END/);
  assert.match(text, /ON COMPLETION NOT PRESERVE ENABLE DO INSERT INTO log \(db\)/, 'events keep their status unless asked');
  assert.equal(report.qualifiedNames, 5);
  assert.deepEqual(report.qualifiedObjects.sort(), ['event ev', 'procedure p', 'table orders', 'view vd']);
  assert.deepEqual(report.fullyQualifiedViews, ['vd']);
  assert.deepEqual(report.otherDatabaseReferences, [
    { database: 'other', object: 'view vd' },
    { database: 'x', object: 'procedure p' }, // x.src.t: database x, table src
  ]);
});

test('INSERT data passes byte for byte, even when it looks like DDL naming the database', async () => {
  const dump = [
    'LOCK TABLES `t` WRITE;',
    'INSERT INTO `t` VALUES',
    "(1,'ALTER DATABASE `src` x; src.t'),",
    "(2,'USE src;\\nCREATE DATABASE x'),",
    "(3,'`src`.`t`;');",
    "INSERT INTO `t` VALUES (4,'src.t'),(5,'a;b');",
    'UNLOCK TABLES;',
    'CREATE TABLE `log` (`id` int DEFAULT nextval(`src`.`s`)) ENGINE=InnoDB;',
    '',
  ].join('\n');
  const { text, report } = await rewriteBothWays(dump, { refuseDatabaseStatements: true });
  const [data, ddl] = [text.slice(0, text.indexOf('CREATE TABLE')), text.slice(text.indexOf('CREATE TABLE'))];
  assert.equal(data, dump.slice(0, dump.indexOf('CREATE TABLE')));
  assert.equal(ddl, 'CREATE TABLE `log` (`id` int DEFAULT nextval(`s`)) ENGINE=InnoDB;\n');
  assert.equal(report.alterDatabaseStatements, 0);
  assert.deepEqual(report.databaseStatements, []);
});

test('a table whose DEFAULT reads a sequence loses LOCK TABLES / UNLOCK TABLES around its rows; other tables keep theirs', async () => {
  const dump = [
    'CREATE TABLE `orders` (',
    '  `id` int(11) NOT NULL DEFAULT nextval(`src`.`s`),',
    '  PRIMARY KEY (`id`)',
    ') ENGINE=InnoDB;',
    'LOCK TABLES `orders` WRITE;',
    '/*!40000 ALTER TABLE `orders` DISABLE KEYS */;',
    'INSERT INTO `orders` VALUES',
    '(1000);',
    '/*!40000 ALTER TABLE `orders` ENABLE KEYS */;',
    'UNLOCK TABLES;',
    'CREATE TABLE `t` (`id` int) ENGINE=InnoDB;',
    'LOCK TABLES `t` WRITE;',
    'INSERT INTO `t` VALUES (1);',
    'UNLOCK TABLES;',
    '',
  ].join('\n');
  const { text, report } = await rewriteBothWays(dump);
  assert.deepEqual(report.sequenceDefaultTables, ['orders']);
  assert.doesNotMatch(text, /LOCK TABLES `orders`/);
  assert.equal(text.split('\n').filter((line) => line === 'UNLOCK TABLES;').length, 1);
  assert.match(text, /LOCK TABLES `t` WRITE;\nINSERT INTO `t` VALUES \(1\);\nUNLOCK TABLES;/);
});

test('disableEvents turns ENABLE into DISABLE in CREATE EVENT only, and names the events', async () => {
  const dump = [
    'DELIMITER ;;',
    "/*!50106 CREATE*/ /*!50117 DEFINER=`root`@`localhost`*/ /*!50106 EVENT `ev` ON SCHEDULE EVERY 1 SECOND STARTS '2026-12-03 07:42:09' ON COMPLETION NOT PRESERVE ENABLE DO SELECT 'ON COMPLETION NOT PRESERVE ENABLE' ",
    '*/ ;;',
    "/*!50106 CREATE*/ /*!50117 DEFINER=`root`@`localhost`*/ /*!50106 EVENT `off` ON SCHEDULE EVERY 1 DAY STARTS '2026-12-03 07:42:09' ON COMPLETION PRESERVE DISABLE DO SET @a = 1 ",
    '*/ ;;',
    'DELIMITER ;',
    '',
  ].join('\n');
  const { text, report } = await rewriteBothWays(dump, { disableEvents: true });
  assert.match(text, /EVENT `ev` .* ON COMPLETION NOT PRESERVE DISABLE DO SELECT 'ON COMPLETION NOT PRESERVE ENABLE' /);
  assert.match(text, /EVENT `off` .* ON COMPLETION PRESERVE DISABLE DO/);
  assert.deepEqual(report.disabledEvents, ['ev']);
});

test('USE / CREATE DATABASE / ALTER DATABASE of another database: reported, and refused before the line is passed on when asked', async () => {
  const dump = 'CREATE TABLE `t` (`id` int);\nUSE `src`;\nDROP TABLE `t`;\n';
  const { report } = await rewriteBothWays(dump);
  assert.deepEqual(report.databaseStatements, ['USE `src`;']);
  const other = await rewriteBothWays('ALTER DATABASE `elsewhere` CHARACTER SET latin1;\n');
  assert.deepEqual(other.report.databaseStatements, ['ALTER DATABASE `elsewhere` CHARACTER SET latin1;']);

  const passed: string[] = [];
  const rewriter = new PortableDumpRewriter({ sourceDatabase: 'src', objectNames: OBJECTS, refuseDatabaseStatements: true });
  await assert.rejects(
    pipeline(Readable.from([Buffer.from(dump)]), rewriter, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) passed.push(chunk.toString());
    }),
    (error: unknown) => error instanceof RestorableError && error.code === 'RESTORE_NOT_PORTABLE' && /USE `src`/.test(error.message),
  );
  assert.doesNotMatch(passed.join(''), /USE|DROP/, 'nothing from the refused line on reached the client');
});

test('a routine body the lexer misreads (a NO_BACKSLASH_ESCAPES string ending in a backslash) cannot make it rewrite INSERT data', async () => {
  const dump = [
    'DELIMITER ;;',
    "CREATE DEFINER=`root`@`localhost` PROCEDURE `p`() SELECT 'C:\\' ;;",
    'DELIMITER ;',
    "INSERT INTO `t` VALUES (1,'x'),",
    "(2,'`src`.`t` src.t');",
    'CREATE TABLE `log` (`id` int DEFAULT nextval(`src`.`s`)) ENGINE=InnoDB;',
    '',
  ].join('\n');
  const { text } = await rewriteBothWays(dump);
  assert.match(text, /\(2,'`src`\.`t` src\.t'\);\n/);
  assert.match(text, /DEFAULT nextval\(`s`\)\)/);
});

test('backup-time warnings: a fully qualified view (definer gone), another application database named (not the server\'s own schemas), history not dumped', async () => {
  const dump = [
    '/*!50001 VIEW `vd` AS select `src`.`t`.`id` AS `id` from `t` join `crm`.`customers` */;',
    '/*!50001 VIEW `v` AS select `information_schema`.`TABLES`.`TABLE_NAME` AS `n` from `information_schema`.`TABLES` */;',
    '',
  ].join('\n');
  const { report } = await rewriteBothWays(dump, { otherDatabases: ['crm', 'information_schema'] });
  const warnings = portabilityWarnings(report, [{ name: 'ledger', engine: 'InnoDB', transactional: true, approximateBytes: 0, systemVersioned: true, transactionPreciseHistory: true }], false);
  assert.deepEqual(
    warnings.map((warning) => warning.code),
    ['DUMP_QUALIFIED_VIEW', 'CROSS_DATABASE_REFERENCE', 'VERSIONED_HISTORY_NOT_DUMPED'],
  );
  assert.match(warnings[1]!.message, /^view vd of `src` names the database `crm`/);
  assert.match(warnings[2]!.message, /transaction-precise versioning \(`ledger`\)/);
});
