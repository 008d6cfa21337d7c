// Owns the mysql source: one MySQL/MariaDB database dumped with mariadb-dump
// (or mysqldump) into a plain SQL stream that restores with stock tools under
// any database name, and the proof that the dump is complete.
//
// A dump counts only when (1) the tool exited 0, (2) the stream ends with the
// `-- Dump completed` trailer, (3) it names no database (no USE/CREATE
// DATABASE), and (4) every table, view, sequence, procedure, function, trigger
// and event the server had when the dump started is created by the dump. The
// pre-flight privilege check comes first, because the server hides objects
// from an account that may not read them, and then neither the dump nor our
// inventory sees them (see mysql-privileges.ts).
//
// The server inventory is taken right before the dump starts. Objects created
// during the dump may or may not be in it (they are in the next one). When an
// object is missing from the dump, the inventory is read again: an object the
// server no longer has was dropped during the dump (a warning), one it still
// has was lost (the dump fails).

import { isAbsolute, resolve } from 'node:path';
import { parseDurationMs, type MysqlSourceConfig } from '../config/schema.ts';
import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import type { SourceWarning } from '../core/manifest.ts';
import { ChildProcessError, spawnStream } from '../process/spawn-stream.ts';
import { describeEndpoint, mysqlConnectionFor, scrubSecret, type ConnectionLookupOptions, type MysqlConnection } from './mysql-connection.ts';
import { CredentialsPipe, clientOptionFile, dumpArguments, dumpChildEnvironment, escapeOptionValue, findDumpTool, type DumpTool } from './mysql-dump-tool.ts';
import { dumpsVersionedHistory, portabilityWarnings, PortableDumpRewriter, withPortabilityDetails } from './mysql-dump-portable.ts';
import { DumpScanner, EMPTY_ROW_DIGEST, INVENTORY_KINDS, ROW_DIGEST_ALGORITHM, singularKind, type DumpInventory, type DumpScanResult } from './mysql-dump-scanner.ts';
import { inspectDatabase, MysqlSession, readInventory, type DatabaseInspection } from './mysql-inventory.ts';
import { failOnDumpHazards } from './mysql-dump-hazards.ts';
import { ChildCpuWatch } from './mysql-dump-cpu.ts';
import { ACCESS_DENIED_TEXT, passwordRefused, TOO_MANY_CONNECTIONS_TEXT, tooManyConnections } from './mysql-refusals.ts';
import { quoteIdentifier, recommendedGrants, type MissingPrivilege, type ServerVersion } from './mysql-privileges.ts';
import type { PreflightReport, ProducedArtifact, SourceContext, SourceDriver, SourceFacts } from './source.ts';
import { packetTooSmallWarning } from './mysql-restore-preflight.ts';

/** What the mysql driver takes: the source as configured plus its resolved connection. */
export interface ResolvedMysqlSource {
  config: MysqlSourceConfig;
  connection: MysqlConnection;
}

/** Config section -> driver settings (reads the .env and the password file now, so errors name the field early). */
export function resolveMysqlSource(
  sourceName: string,
  config: MysqlSourceConfig,
  configDir: string,
  options: ConnectionLookupOptions = {},
): ResolvedMysqlSource {
  const dumpTool = config.dump_tool;
  // A relative tool path means: next to the config file, like the other paths in it.
  const resolvedConfig = dumpTool?.includes('/') && !isAbsolute(dumpTool) ? { ...config, dump_tool: resolve(configDir, dumpTool) } : config;
  return { config: resolvedConfig, connection: mysqlConnectionFor(sourceName, config, configDir, options) };
}

type MysqlContext = SourceContext<ResolvedMysqlSource>;

export const mysqlSource: SourceDriver<ResolvedMysqlSource> = {
  type: 'mysql',
  extension: 'sql',
  content: 'database',

  async preflight(context: MysqlContext): Promise<PreflightReport> {
    const { config, connection } = context.config;
    const where = whereOf(context);
    const tool = await findDumpTool(config.dump_tool, context.sourceName);
    const inspection = await inspect(connection, where);
    failOnMissingPrivileges(inspection, connection, where);
    failOnDumpHazards({ database: connection.database, inventory: inspection.inventory, eventsWithDoubleSemicolon: inspection.eventsWithDoubleSemicolon ?? [], tool, where });
    const { inventory } = inspection;
    return {
      notes: [
        ...connection.notes,
        `${tool.version} (${tool.path})`,
        `server ${inspection.server.text} at ${describeEndpoint(connection)}, as ${inspection.account}`,
        `database ${quoteIdentifier(connection.database)}: ${describeInventory(inventory)}`,
      ],
      warnings: inspectionWarnings(inspection, tool, connection.database),
    };
  },

  async produce(context: MysqlContext): Promise<ProducedArtifact> {
    const { config, connection } = context.config;
    const where = whereOf(context);
    throwIfAborted(context, where);
    const tool = await findDumpTool(config.dump_tool, context.sourceName);
    const inspection = await inspect(connection, where);
    failOnMissingPrivileges(inspection, connection, where);
    failOnDumpHazards({ database: connection.database, inventory: inspection.inventory, eventsWithDoubleSemicolon: inspection.eventsWithDoubleSemicolon ?? [], tool, where });
    const warnings = inspectionWarnings(inspection, tool, connection.database);
    warnings.forEach((warning) => context.log.warn(warning.message, { code: warning.code }));
    throwIfAborted(context, where);

    // No second snapshot for table checksums: the facts a drill compares (row
    // digests) come from the dump stream itself, see mysql-dump-scanner.ts.
    const pipe = await CredentialsPipe.create(context.scratchDir, clientOptionFile(connection));
    const historyDumped = dumpsVersionedHistory(tool, inspection.tables);
    const dump = spawnStream(tool.path, dumpArguments(tool, pipe.path, connection.database, { dumpHistory: historyDumped }), {
      name: tool.name,
      env: dumpChildEnvironment(process.env, connection.passwordEnvName),
      deadlineMs: parseDurationMs(config.timeout),
      stallTimeoutMs: parseDurationMs(config.stall_timeout),
    });
    const credentialsDelivered = pipe.deliverTo(dump);
    // For a stalled dump: was the tool waiting for the server, or spinning by itself?
    const dumpCpu = new ChildCpuWatch(dump.child.pid);
    context.log.info(`dumping ${quoteIdentifier(connection.database)} with ${tool.name}`, { endpoint: describeEndpoint(connection) });

    // The artifact itself restores under any name (stock `gunzip | mariadb NEWDB` too): see mysql-dump-portable.ts.
    const portable = new PortableDumpRewriter({
      sourceDatabase: connection.database,
      objectNames: INVENTORY_KINDS.flatMap((kind) => inspection.inventory[kind]),
      otherDatabases: inspection.otherDatabases ?? [],
      where,
    });

    let stopReason: string | undefined;
    const onAbort = () => {
      stopReason ??= 'the run was aborted';
      dump.kill('was stopped because the run was aborted');
    };
    context.signal.addEventListener('abort', onAbort, { once: true });
    if (context.signal.aborted) onAbort();

    let scanSettled = false;
    let resolveScan!: (result: DumpScanResult) => void;
    let rejectScan!: (error: Error) => void;
    const scanned = new Promise<DumpScanResult>((resolve, reject) => {
      resolveScan = resolve;
      rejectScan = reject;
    });
    scanned.catch(() => {});

    const verdict = (async (): Promise<SourceFacts> => {
      try {
        try {
          await dump.completed;
        } catch (error) {
          throw dumpFailed(error, connection, inspection, where, stopReason, dumpCpu.busyShare(parseDurationMs(config.stall_timeout)));
        }
        const scan = await scanned;
        await credentialsDelivered;
        const dumpWarnings = await checkDump(scan, inspection, tool, connection, where, dump.stderrTail());
        // A dump its own server could not load back fails restores and drills with "server has gone away".
        const packetWarning = packetTooSmallWarning(scan.maxStatementBytes, inspection.maxAllowedPacket, describeEndpoint(connection));
        if (packetWarning) dumpWarnings.push(packetWarning);
        const portability = portable.report();
        return {
          warnings: [...warnings, ...dumpWarnings, ...portabilityWarnings(portability, inspection.tables, historyDumped)],
          degraded: false,
          details: withPortabilityDetails(dumpDetails(tool, inspection, connection, scan), inspection, portability, historyDumped),
        };
      } finally {
        context.signal.removeEventListener('abort', onAbort);
        dumpCpu.stop();
        await credentialsDelivered.catch(() => {});
      }
    })();
    verdict.catch(() => {});

    const scanner = new DumpScanner({
      settle: async (result) => {
        scanSettled = true;
        resolveScan(result);
        await verdict;
      },
    });
    scanner.on('close', () => {
      if (scanSettled) return;
      // The consumer went away before the end: stop the dump rather than let it block on a full pipe.
      stopReason ??= 'its output was closed before the dump finished';
      rejectScan(
        new RestorableError(`the dump of ${quoteIdentifier(connection.database)} was not read to its end: ${stopReason}`, {
          code: 'DUMP_FAILED',
          where,
          remedy: 'the consumer of the dump failed first: see the other error of this run',
        }),
      );
      dump.kill(`was stopped because ${stopReason}`);
      // Nobody reads the rewriter any more: without this its full buffer keeps the
      // child's stdout paused and open, so the child's 'close' never comes and the run hangs.
      portable.destroy();
      dump.stdout.destroy();
    });
    dump.stdout.on('error', (error) => portable.destroy(error));
    portable.on('error', (error) => scanner.destroy(error));
    dump.stdout.pipe(portable).pipe(scanner);

    return { stream: scanner, completed: verdict };
  },
};

/** The password out of any text shown to a human, also in the form the option file carried it. */
function scrub(text: string, connection: MysqlConnection): string {
  return scrubSecret(text, connection.password, escapeOptionValue);
}

function whereOf(context: MysqlContext): ErrorWhere {
  return { job: context.job, source: context.sourceName };
}

function throwIfAborted(context: MysqlContext, where: ErrorWhere): void {
  if (!context.signal.aborted) return;
  throw new RestorableError(`the dump of ${quoteIdentifier(context.config.connection.database)} was not started: the run was aborted`, {
    code: 'DUMP_ABORTED',
    where,
  });
}

async function inspect(connection: MysqlConnection, where: ErrorWhere): Promise<DatabaseInspection> {
  const session = await MysqlSession.open(connection, where);
  try {
    return await inspectDatabase(session, connection.database, where, describeEndpoint(connection));
  } finally {
    await session.close();
  }
}

function failOnMissingPrivileges(inspection: DatabaseInspection, connection: MysqlConnection, where: ErrorWhere): void {
  const missing = inspection.missingPrivileges;
  if (missing.length === 0) return;
  const database = quoteIdentifier(connection.database);
  const silent = missing.some((entry) => entry.silentLoss);
  throw new RestorableError(
    `${inspection.account} lacks ${missing.map((entry) => entry.privilege).join(', ')} for a complete dump of ${database} at ${describeEndpoint(connection)}` +
      (silent ? `: without ${missing.length === 1 ? 'it' : 'them'} the dump would silently leave objects out` : ''),
    {
      code: 'MYSQL_PRIVILEGES_MISSING',
      where,
      remedy: `as a MySQL administrator, run: ${missing.map((entry) => entry.grant).join(' ')}`,
      details: missing.map((entry: MissingPrivilege) => `${entry.privilege}: ${entry.reason}. Fix: ${entry.grant}`),
    },
  );
}

function inspectionWarnings(inspection: DatabaseInspection, tool: DumpTool, database: string): SourceWarning[] {
  const warnings: SourceWarning[] = [];
  const nonTransactional = inspection.tables.filter((table) => !table.transactional);
  if (nonTransactional.length > 0) {
    const list = nonTransactional.map((table) => `${table.name} (${table.engine ?? 'unknown engine'})`).join(', ');
    const one = nonTransactional.length === 1;
    warnings.push({
      code: 'NON_TRANSACTIONAL_TABLES',
      message:
        `${nonTransactional.length} table${one ? '' : 's'} of ${quoteIdentifier(database)} ` +
        `${one ? 'is' : 'are'} not transactional: ${list}. --single-transaction does not freeze ${one ? 'it' : 'them'}, ` +
        `so if the application writes to ${one ? 'it' : 'them'} during the backup, ${one ? 'its' : 'their'} rows may not match the rest of the dump; ` +
        `convert ${one ? 'it' : 'them'} (ALTER TABLE ... ENGINE=InnoDB) or back up when the application is idle`,
    });
  }
  const older = toolOlderThanServer(tool, inspection.server);
  if (older) warnings.push({ code: 'DUMP_TOOL_OLDER_THAN_SERVER', message: older });
  return warnings;
}

/** MariaDB's dump tool names its own server version: `Distrib 10.11.19-MariaDB`. */
function toolOlderThanServer(tool: DumpTool, server: ServerVersion): string | undefined {
  const match = /Distrib (\d+)\.(\d+)/.exec(tool.version);
  if (!match || tool.flavor !== server.flavor) return undefined;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  if (major > server.major || (major === server.major && minor >= server.minor)) return undefined;
  return `${tool.name} comes from ${server.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} ${major}.${minor} but the server is ${server.text}: an older dump tool may not know newer features; install the client tools matching the server`;
}

function describeInventory(inventory: DumpInventory): string {
  return INVENTORY_KINDS.map((kind) => `${inventory[kind].length} ${inventory[kind].length === 1 ? singularKind(kind) : kind}`).join(', ');
}

/**
 * A stalled dump tool that kept this share of a CPU busy was spinning, not
 * waiting: one waiting for the server uses next to none, while a spinning one
 * gets what a busy machine leaves it (40% of a CPU measured on a loaded test box).
 */
const SPINNING_SHARE = 0.2;

function dumpFailed(
  error: unknown,
  connection: MysqlConnection,
  inspection: DatabaseInspection,
  where: ErrorWhere,
  stopReason: string | undefined,
  /** Share of a CPU the tool used in its last stall window (ChildCpuWatch), if known. */
  busyShareWhileStalled?: number,
): RestorableError {
  const database = quoteIdentifier(connection.database);
  const endpoint = describeEndpoint(connection);
  if (!(error instanceof ChildProcessError)) {
    return new RestorableError(`the dump of ${database} at ${endpoint} failed: ${scrub((error as Error).message, connection)}`, {
      code: 'DUMP_FAILED',
      where,
      cause: error,
    });
  }
  const stderrLines = scrub(error.stderrTail, connection).trimEnd().split('\n').filter(Boolean).slice(-20);
  const lastLine = stderrLines[stderrLines.length - 1];
  const how = scrub(error.message, connection);
  let code = 'DUMP_FAILED';
  let remedy = 'read the dump tool\'s messages below, fix the cause and run the backup again; nothing from this run was published';
  if (stopReason === 'the run was aborted') {
    code = 'DUMP_ABORTED';
    remedy = 'the run was stopped (by a signal or another failing source); run the backup again';
  } else if (stopReason) {
    code = 'DUMP_FAILED';
    remedy = 'the consumer of the dump failed first: see the other error of this run';
  } else if (/deadline/.test(how)) {
    code = 'DUMP_TIMEOUT';
    remedy = `raise sources.${where.source ?? '<name>'}.timeout if the database really needs longer, or find what slows the server down`;
  } else if (/produced no output/.test(how) && busyShareWhileStalled !== undefined && busyShareWhileStalled >= SPINNING_SHARE) {
    // Not the server's fault: the tool itself burned the CPU without writing a byte.
    return new RestorableError(
      `the dump of ${database} at ${endpoint} failed: ${how}, while it kept ${Math.round(busyShareWhileStalled * 100)}% of a CPU busy: ` +
        `${how.split(' ', 1)[0]} was stuck in itself, not waiting for the server`,
      {
        code: 'DUMP_TOOL_SPINNING',
        where,
        remedy:
          'a known cause is an event or routine whose text holds `;;` (mariadb-dump searches for a delimiter forever): ' +
          `find it with SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '${connection.database.replaceAll("'", "''")}' AND (EVENT_DEFINITION LIKE '%;;%' OR EVENT_COMMENT LIKE '%;;%') ` +
          'and rewrite it without two semicolons in a row (CONCAT(\';\', \';\')); otherwise try the dump tool matching the server version',
        details: stderrLines,
      },
    );
  } else if (/produced no output/.test(how)) {
    code = 'DUMP_STALLED';
    remedy = `the server stopped sending data (locks? a hung server?); check SHOW PROCESSLIST, or raise sources.${where.source ?? '<name>'}.stall_timeout`;
  } else if (error.exitStatus === null && error.signal === null) {
    code = 'DUMP_TOOL_MISSING';
    remedy = `check sources.${where.source ?? '<name>'}.dump_tool and PATH`;
  } else if (ACCESS_DENIED_TEXT.test(error.stderrTail)) {
    // The pre-flight got in with this password moments ago: not a privilege problem.
    return passwordRefused({ target: connection, where, account: inspection.account, client: how.split(' ', 1)[0], serverMessage: lastLine ?? how });
  } else if (TOO_MANY_CONNECTIONS_TEXT.test(error.stderrTail)) {
    return tooManyConnections({ target: connection, where, client: how.split(' ', 1)[0], serverMessage: lastLine ?? how });
  } else if (/Lost connection|gone away|Can't connect|2013|2006|2002|2003/.test(error.stderrTail)) {
    remedy = `the server went away during the dump: check that it is running and its error log (journalctl -u mariadb), then run the backup again; nothing from this run was published`;
  } else if (/Access denied|command denied|insufficient privileges/i.test(error.stderrTail)) {
    code = 'MYSQL_PRIVILEGES_MISSING';
    remedy = `grant ${inspection.account} what the message names; everything a complete dump needs is: ${recommendedGrants(connection.database, inspection.account, inspection.server)}`;
  }
  const message = stopReason
    ? `the dump of ${database} at ${endpoint} was stopped because ${stopReason}`
    : `the dump of ${database} at ${endpoint} failed: ${how}${lastLine ? `: ${lastLine}` : ''}`;
  return new RestorableError(message, {
    code,
    where,
    remedy,
    details: stderrLines,
    // No `cause`: the child's error holds the raw stderr, which the scrubbed lines above replace.
  });
}

/** The completeness checks on a dump whose tool exited 0. Resolves with warnings; rejects naming what is wrong. */
async function checkDump(
  scan: DumpScanResult,
  inspection: DatabaseInspection,
  tool: DumpTool,
  connection: MysqlConnection,
  where: ErrorWhere,
  stderrTail: string,
): Promise<SourceWarning[]> {
  const database = quoteIdentifier(connection.database);
  const stderrLines = scrub(stderrTail, connection).trimEnd().split('\n').filter(Boolean).slice(-20);
  if (!scan.trailerFound) {
    throw new RestorableError(
      `the dump of ${database} ended without its \`-- Dump completed\` trailer although ${tool.name} exited 0 (${scan.bytes} bytes): it is cut short`,
      {
        code: 'DUMP_INCOMPLETE',
        where,
        remedy: 'run the backup again; if it repeats, check the dump tool and the server error log',
        details: stderrLines,
      },
    );
  }
  if (scan.databaseStatements.length > 0) {
    const first = scan.databaseStatements[0]!;
    throw new RestorableError(
      `the dump of ${database} names a database (line ${first.line}: ${first.text.trim()}): restoring it would write into that database whatever name the operator gives`,
      {
        code: 'DUMP_NOT_PORTABLE',
        where,
        remedy: `make sure sources.${where.source ?? '<name>'}.dump_tool is a plain mariadb-dump/mysqldump (no --databases/--all-databases added by a wrapper or option file)`,
        details: scan.databaseStatements.map((statement) => `line ${statement.line}: ${statement.text.trim()}`),
      },
    );
  }

  const warnings: SourceWarning[] = [];
  const missing = inventoryDifference(inspection.inventory, scan.inventory);
  if (missing.length > 0) {
    let stillThere = missing;
    try {
      const session = await MysqlSession.open(connection, where);
      try {
        const now = await readInventory(session, connection.database);
        stillThere = missing.filter((object) => now[object.kind].includes(object.name));
      } finally {
        await session.close();
      }
    } catch {
      // Cannot ask again (server gone?): every missing object counts as lost.
    }
    const dropped = missing.filter((object) => !stillThere.includes(object));
    if (dropped.length > 0) {
      warnings.push({
        code: 'OBJECT_DROPPED_DURING_DUMP',
        message: `${dropped.map(describeObject).join(', ')} of ${database} disappeared while the dump ran, so the dump does not have ${dropped.length === 1 ? 'it' : 'them'}`,
      });
    }
    if (stillThere.length > 0) {
      const lacking = stillThere.map(describeObject);
      throw new RestorableError(
        `the dump of ${database} lacks ${lacking.join(', ')} although the server has ${stillThere.length === 1 ? 'it' : 'them'}`,
        {
          code: 'DUMP_INCOMPLETE',
          where,
          remedy: `make sure ${inspection.account} may read every object: ${recommendedGrants(connection.database, inspection.account, inspection.server)} Then run the backup again`,
          details: [...lacking.map((object) => `missing from the dump: ${object}`), ...stderrLines],
        },
      );
    }
  }
  for (const trigger of scan.qualifiedTriggers) {
    warnings.push({
      code: 'DUMP_QUALIFIED_TRIGGER',
      message:
        `trigger ${quoteIdentifier(trigger.name)} was created as ${quoteIdentifier(trigger.qualifier)}.${quoteIdentifier(trigger.name)}, so the dump ` +
        `recreates it in ${quoteIdentifier(trigger.qualifier)}: restoring under another database name fails for it; recreate the trigger without the database prefix`,
    });
  }
  return warnings;
}

interface MissingObject {
  kind: keyof DumpInventory;
  name: string;
}

function inventoryDifference(server: DumpInventory, dump: DumpInventory): MissingObject[] {
  const missing: MissingObject[] = [];
  for (const kind of INVENTORY_KINDS) {
    const inDump = new Set(dump[kind]);
    for (const name of server[kind]) if (!inDump.has(name)) missing.push({ kind, name });
  }
  return missing;
}

function describeObject(object: MissingObject): string {
  return `${singularKind(object.kind)} ${quoteIdentifier(object.name)}`;
}

interface TableDetails {
  engine: string | null;
  /** Rows the dump inserts (counted in the dump itself); null when unreadable. */
  rows: number | null;
  approximateBytes: number;
  /** Digest of the rows as the dump writes them (absent when the rows are unknown); a drill re-dumps and compares. */
  rowDigest?: string;
  /** Bytes of the largest row in the dump. */
  maxRowBytes?: number;
}

function dumpDetails(
  tool: DumpTool,
  inspection: DatabaseInspection,
  connection: MysqlConnection,
  scan: DumpScanResult,
): Record<string, unknown> {
  const tables: Record<string, TableDetails> = {};
  const unknownRows = new Set(scan.tablesWithUnknownRows);
  for (const table of inspection.tables) {
    const rows = unknownRows.has(table.name) ? null : (scan.rowsByTable[table.name] ?? 0);
    const entry: TableDetails = { engine: table.engine, rows, approximateBytes: table.approximateBytes };
    if (rows !== null) {
      const data = scan.tableData[table.name];
      entry.rowDigest = data?.rowDigest ?? EMPTY_ROW_DIGEST;
      entry.maxRowBytes = data?.maxRowBytes ?? 0;
    }
    tables[table.name] = entry;
  }
  return {
    tool: { name: tool.name, path: tool.path, version: tool.version },
    server: { version: inspection.server.text, flavor: inspection.server.flavor },
    endpoint: describeEndpoint(connection),
    account: inspection.account,
    definers: inspection.definers,
    database: connection.database,
    inventory: inspection.inventory,
    tables,
    rowCounts: 'counted in the dump itself: exactly the rows a restore of this artifact inserts',
    rowDigests:
      `${ROW_DIGEST_ALGORITHM}: CRC32 of each row as the dump writes it, summed mod 2^48 and xored, per table; ` +
      'taken from the dump stream itself, so they describe exactly the dump\'s snapshot (a drill re-dumps the restored copy and compares)',
    maxStatementBytes: scan.maxStatementBytes,
    nonTransactionalTables: inspection.tables.filter((table) => !table.transactional).map((table) => ({ name: table.name, engine: table.engine })),
    dumpBytes: scan.bytes,
  };
}
