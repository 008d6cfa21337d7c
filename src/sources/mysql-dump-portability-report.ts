// Owns what the backup records and warns about a dump's portability: the
// warnings for what a restore under another name would otherwise get wrong (a
// view dumped fully qualified, names of other databases, versioned tables whose
// history is not in the dump, statements that name a database) and the
// manifest details of what the portable rewriting did.

import type { SourceWarning } from '../core/manifest.ts';
import { dumpsHistory, type DumpTool } from './mysql-dump-tool.ts';
import type { DatabaseInspection, TableInfo } from './mysql-inventory.ts';
import { describePortability, PORTABLE_REWRITER_VERSION, type DumpPortabilityReport } from './mysql-dump-portable.ts';

/** Whether this dump carries the history of its system-versioned tables (`--dump-history`). */
export function dumpsVersionedHistory(tool: DumpTool, tables: TableInfo[]): boolean {
  return dumpsHistory(tool) && !tables.some((table) => table.transactionPreciseHistory);
}

function quoted(name: string): string {
  return '`' + name.replaceAll('`', '``') + '`';
}

/** Warnings for what a restore under another name would otherwise get wrong, or what the dump lacks. */
export function portabilityWarnings(report: DumpPortabilityReport, tables: TableInfo[], historyDumped: boolean): SourceWarning[] {
  const warnings: SourceWarning[] = [];
  const database = quoted(report.sourceDatabase);
  for (const view of report.fullyQualifiedViews) {
    warnings.push({
      code: 'DUMP_QUALIFIED_VIEW',
      message:
        `view ${quoted(view)} is dumped with its columns qualified by ${database} (mariadb-dump does so when the view's DEFINER account no longer exists): ` +
        `the artifact has the name taken out so it restores under any name; recreate the view with an existing DEFINER (SHOW CREATE VIEW ${database}.${quoted(view)})`,
    });
  }
  const byDatabase = new Map<string, string[]>();
  // The server's own schemas are read by ordinary application code: not another application's data.
  const systemSchemas = new Set(['information_schema', 'performance_schema', 'sys']);
  for (const reference of report.otherDatabaseReferences.filter((entry) => !systemSchemas.has(entry.database.toLowerCase()))) byDatabase.set(reference.database, [...(byDatabase.get(reference.database) ?? []), reference.object]);
  for (const [other, objects] of byDatabase) {
    warnings.push({
      code: 'CROSS_DATABASE_REFERENCE',
      message:
        `${objects.join(', ')} of ${database} name${objects.length === 1 ? 's' : ''} the database ${quoted(other)}: a restored copy still reads or writes ${quoted(other)} ` +
        'there (kept as it is: that database is not in this backup)',
    });
  }
  const versioned = tables.filter((table) => table.systemVersioned);
  if (versioned.length > 0 && !historyDumped) {
    const precise = versioned.filter((table) => table.transactionPreciseHistory);
    warnings.push({
      code: 'VERSIONED_HISTORY_NOT_DUMPED',
      message:
        `system-versioned table${versioned.length === 1 ? '' : 's'} ${versioned.map((table) => quoted(table.name)).join(', ')} of ${database}: the dump has the current rows only, ` +
        (precise.length > 0
          ? `because mariadb-dump cannot dump the history of transaction-precise versioning (${precise.map((table) => quoted(table.name)).join(', ')})`
          : 'because this dump tool has no --dump-history (MariaDB 10.11 or newer has)') +
        '; a restore starts these tables without their history',
    });
  }
  if (report.databaseStatements.length > 0) {
    warnings.push({
      code: 'DUMP_NAMES_ANOTHER_DATABASE',
      message: `the dump of ${database} has statements that name another database, which a restore refuses to run: ${report.databaseStatements.slice(0, 3).join(' | ')}`,
    });
  }
  return warnings;
}

/** The artifact's details plus what the rewriting did, the database's charset and collation, and versioned tables. */
export function withPortabilityDetails(
  details: Record<string, unknown>,
  inspection: DatabaseInspection,
  report: DumpPortabilityReport,
  historyDumped: boolean,
): Record<string, unknown> {
  const tables = details.tables as Record<string, Record<string, unknown>> | undefined;
  for (const table of inspection.tables) {
    const entry = tables?.[table.name];
    if (!entry || !table.systemVersioned) continue;
    entry.systemVersioned = true;
    entry.historyDumped = historyDumped;
  }
  const { sourceDatabase: _source, ...rewritten } = report;
  return {
    ...details,
    ...(inspection.databaseCharset ? { databaseCharset: inspection.databaseCharset, databaseCollation: inspection.databaseCollation } : {}),
    // Whether mariadb-dump ran with --dump-history: a re-dump to compare with this one must do the same.
    historyDumped,
    portable: {
      rewriter: PORTABLE_REWRITER_VERSION,
      summary: describePortability(report),
      ...rewritten,
    },
  };
}
