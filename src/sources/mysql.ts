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
import type { MysqlSourceConfig } from '../config/schema.ts';
import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import type { SourceWarning } from '../core/manifest.ts';
import { spawnStream } from '../process/spawn-stream.ts';
import { describeEndpoint, mysqlConnectionFor, type ConnectionLookupOptions, type MysqlConnection } from './mysql-connection.ts';
import { CredentialsPipe, clientOptionFile, dumpArguments, dumpChildEnvironment, findDumpTool, type DumpTool } from './mysql-dump-tool.ts';
import { PortableDumpRewriter } from './mysql-dump-portable.ts';
import { dumpsVersionedHistory, portabilityWarnings, withPortabilityDetails } from './mysql-dump-portability-report.ts';
import { DumpScanner } from './mysql-dump-scanner.ts';
import { INVENTORY_KINDS, singularKind, type DumpInventory, type DumpScanResult } from './mysql-dump-findings.ts';
import { inspectDatabase, MysqlSession, type DatabaseInspection } from './mysql-inventory.ts';
import { failOnDumpHazards } from './mysql-dump-hazards.ts';
import { ChildCpuWatch } from './mysql-dump-cpu.ts';
import { quoteIdentifier, type MissingPrivilege, type ServerVersion } from './mysql-privileges.ts';
import type { PreflightReport, ProducedArtifact, SourceContext, SourceDriver, SourceFacts } from './source.ts';
import { DumpCheck } from './mysql-check.ts';
import { mysqlRestoreSide } from './mysql-restore-side.ts';
import { packetTooSmallWarning } from './mysql-restore-preflight.ts';
import { checkDump, dumpDetails, dumpFailed } from './mysql-dump-verdict.ts';

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
  checkContent: (artifact) => new DumpCheck(artifact),
  ...mysqlRestoreSide,

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
      deadlineMs: config.timeout_ms,
      stallTimeoutMs: config.stall_timeout_ms,
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
          throw dumpFailed(error, connection, inspection, where, stopReason, dumpCpu.busyShare(config.stall_timeout_ms));
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
