// Owns the comparison a drill makes between a restored scratch database and
// the table facts its manifest recorded: the scratch database is dumped again
// with the same dump tool and the rows' options (binary-safe hex, utf8mb4),
// through the same DumpScanner, and each table's row count and row digest is
// compared with the backup's. Identical data dumps to identical row bytes, so
// the comparison depends on no snapshot of the live server: a consistent dump
// of a busy application passes, and a restore that did not bring the rows
// back as dumped (or a damaged artifact that still loads) fails naming the
// table. MyISAM/Aria tables are compared the same way: the facts describe
// the dump itself, which is exactly what was restored, whatever the engine.
//
// Sets made before row digests carry `checksum` (CHECKSUM TABLE taken in a
// separate snapshot opened next to the dump's). Such a checksum can differ
// from the dumped rows when the application wrote in between, so it never
// fails a drill: it is reported as a note when it differs.

import type { RowDataPacket } from 'mysql2';
import type { MysqlSourceConfig } from '../config/schema.ts';
import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import { spawnStream } from '../process/spawn-stream.ts';
import { describeEndpoint, scrubSecret, type MysqlConnection } from './mysql-connection.ts';
import { CredentialsPipe, clientOptionFile, dumpArguments, dumpChildEnvironment, findDumpTool } from './mysql-dump-tool.ts';
import { DumpScanner } from './mysql-dump-scanner.ts';
import { EMPTY_ROW_DIGEST, type DumpScanResult } from './mysql-dump-findings.ts';
import type { MysqlSession } from './mysql-inventory.ts';
import { quoteIdentifier } from './mysql-privileges.ts';

/** What the manifest says about one table (every field optional: older sets lack some). */
export interface RecordedTableFacts {
  engine?: string | null;
  rows?: number | null;
  rowDigest?: string;
  /** Sets made before row digests: CHECKSUM TABLE from a separate snapshot. */
  checksum?: number | string | null;
  systemVersioned?: boolean;
}

export interface TableComparison {
  tables: number;
  digests: number;
  /** Failures: the restored data is not what the dump holds. */
  differences: string[];
  /** What was not compared, and why (never a failure). */
  notes: string[];
}

export interface RedumpOptions {
  connection: MysqlConnection;
  database: string;
  config: MysqlSourceConfig;
  sourceName: string;
  scratchDir: string;
  where: ErrorWhere;
  signal?: AbortSignal;
  /** As the artifact was dumped (details.historyDumped): with the history of system-versioned tables or without. */
  dumpHistory?: boolean;
}

/**
 * Dumps `database` again and returns what the scanner saw. Only the rows
 * matter here: triggers, routines and events are left out of this dump (the
 * object inventory is compared separately), which also spares the drill
 * account the privileges to show routine bodies of other definers.
 */
export async function redumpDatabase(options: RedumpOptions): Promise<DumpScanResult> {
  const { connection, database, config, where } = options;
  options.signal?.throwIfAborted();
  const tool = await findDumpTool(config.dump_tool, options.sourceName);
  const pipe = await CredentialsPipe.create(options.scratchDir, clientOptionFile(connection));
  const objectOptions = new Set(['--routines', '--triggers', '--events']);
  const args = dumpArguments(tool, pipe.path, database, { dumpHistory: options.dumpHistory }).filter((argument) => !objectOptions.has(argument));
  args.splice(args.indexOf('--'), 0, '--skip-triggers');
  const dump = spawnStream(tool.path, args, {
    name: tool.name,
    env: dumpChildEnvironment(process.env, connection.passwordEnvName),
    deadlineMs: config.timeout_ms,
    stallTimeoutMs: config.stall_timeout_ms,
  });
  const delivered = pipe.deliverTo(dump);
  const onAbort = () => dump.kill('interrupted');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  const scanner = new DumpScanner();
  dump.stdout.pipe(scanner);
  scanner.resume();
  const scanned = new Promise<void>((resolve, reject) => {
    scanner.once('end', resolve);
    scanner.once('error', reject);
    dump.stdout.once('error', reject);
  });
  try {
    await Promise.all([dump.completed, delivered, scanned]);
  } catch (error) {
    await pipe.remove();
    options.signal?.throwIfAborted();
    const stderr = scrubSecret(dump.stderrTail(), connection.password).trim();
    throw new RestorableError(`dumping the restored copy ${database} at ${describeEndpoint(connection)} again, to compare its rows, failed: ${stderr.split('\n').pop() || (error as Error).message}`, {
      code: 'DRILL_COMPARE_FAILED',
      where,
      details: stderr ? stderr.split('\n').slice(-10) : [],
      remedy: `the restore itself worked; make sure ${connection.user} may dump the scratch database (SELECT, SHOW VIEW, LOCK TABLES on it) and run the drill again`,
    });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  return scanner.result();
}

/** Compares the re-dump of the restored copy with the facts recorded at backup time. */
export async function compareTables(
  recorded: Record<string, RecordedTableFacts>,
  restored: DumpScanResult,
  session: MysqlSession,
  database: string,
): Promise<TableComparison> {
  const comparison: TableComparison = { tables: 0, digests: 0, differences: [], notes: [] };
  const present = new Set(restored.inventory.tables);
  const unknownRows = new Set(restored.tablesWithUnknownRows);
  for (const [table, facts] of Object.entries(recorded)) {
    comparison.tables++;
    if (!present.has(table)) {
      comparison.differences.push(`table ${table} is missing after the restore`);
      continue;
    }
    if (facts.rows === null || facts.rows === undefined) {
      comparison.notes.push(`table ${table}: not compared (the backup could not read its rows in the dump)`);
      continue;
    }
    if (unknownRows.has(table)) {
      comparison.notes.push(`table ${table}: not compared (its rows could not be read in the dump of the restored copy)`);
      continue;
    }
    const rows = restored.rowsByTable[table] ?? 0;
    if (rows !== facts.rows) {
      comparison.differences.push(`table ${table}: ${rows} rows restored, ${facts.rows} in the dump`);
      continue;
    }
    if (facts.systemVersioned) {
      comparison.notes.push(`table ${table}: ${rows} rows, as in the dump; content not compared (system-versioned: a restore may set its row_start/row_end anew)`);
      continue;
    }
    if (facts.rowDigest !== undefined) {
      comparison.digests++;
      const digest = restored.tableData[table]?.rowDigest ?? EMPTY_ROW_DIGEST;
      if (digest !== facts.rowDigest) {
        comparison.differences.push(`table ${table}: the restored rows differ from the dumped ones (${rows} rows, row digest ${digest} after the restore, ${facts.rowDigest} in the dump)`);
      }
      continue;
    }
    if (facts.checksum !== undefined && facts.checksum !== null) {
      const [sum] = await session.query<{ Checksum: number | string | null } & RowDataPacket>(`CHECKSUM TABLE ${quoteIdentifier(database)}.${quoteIdentifier(table)}`);
      if (String(sum?.Checksum) !== String(facts.checksum)) {
        comparison.notes.push(
          `table ${table}: CHECKSUM TABLE ${sum?.Checksum} after the restore, ${facts.checksum} at backup time; not a failure: this older set took its checksum ` +
            'in a snapshot of its own next to the dump\'s, so a write in between makes them differ (the row counts match; sets made now compare row digests of the dump itself)',
        );
      }
    }
  }
  return comparison;
}
