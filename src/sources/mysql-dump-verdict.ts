// Owns the verdict on a finished (or failed) dump of the mysql source: what a
// failing dump tool's exit means for the operator (timeout, stall, a spinning
// tool, refused login, lost server, missing privileges), the completeness
// checks on a dump whose tool exited 0 (trailer, no database named, every
// object of the server's inventory created by the dump), and the facts the
// manifest records about it. Every text shown has the password scrubbed out.

import type { ErrorWhere } from '../core/errors.ts';
import { RestorableError } from '../core/errors.ts';
import type { SourceWarning } from '../core/manifest.ts';
import { ChildProcessError } from '../process/spawn-stream.ts';
import { describeEndpoint, scrubSecret, type MysqlConnection } from './mysql-connection.ts';
import { escapeOptionValue, type DumpTool } from './mysql-dump-tool.ts';
import { EMPTY_ROW_DIGEST, INVENTORY_KINDS, ROW_DIGEST_ALGORITHM, singularKind, type DumpInventory, type DumpScanResult } from './mysql-dump-findings.ts';
import { MysqlSession, readInventory, type DatabaseInspection } from './mysql-inventory.ts';
import { ACCESS_DENIED_TEXT, passwordRefused, TOO_MANY_CONNECTIONS_TEXT, tooManyConnections } from './mysql-refusals.ts';
import { quoteIdentifier, recommendedGrants } from './mysql-privileges.ts';

/** The password out of any text shown to a human, also in the form the option file carried it. */
export function scrub(text: string, connection: MysqlConnection): string {
  return scrubSecret(text, connection.password, escapeOptionValue);
}

/**
 * A stalled dump tool that kept this share of a CPU busy was spinning, not
 * waiting: one waiting for the server uses next to none, while a spinning one
 * gets what a busy machine leaves it (40% of a CPU measured on a loaded test box).
 */
const SPINNING_SHARE = 0.2;

export function dumpFailed(
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
export async function checkDump(
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

export function dumpDetails(
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
