// Owns what a finished pg_dump means: why a failed one failed (in the
// operator's words, password scrubbed) and whether an exited-0 one is
// complete. Complete means: the trailer is the end of the stream, no line ties
// the dump to one database, every object the server had in the snapshot has
// its header in the dump, every table's COPY block holds exactly the rows our
// session counted in the same snapshot, every sequence has its setval, and
// every large object is created. Because the inventory, the counts and the
// dump all read one exported snapshot, a difference is a loss, never a race.

import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import { ChildProcessError } from '../process/spawn-stream.ts';
import { postgresKindWord, type PostgresDetails, type PostgresInventoryKind, type PostgresTableFacts } from './postgres-details.ts';
import type { PgDumpTool } from './postgres-dump-tool.ts';
import type { PostgresDumpScan } from './postgres-dump-scanner.ts';
import type { PostgresInspection } from './postgres-inventory.ts';
import { describePostgresEndpoint, quotePostgresIdentifier, scrubPostgresSecret, type PostgresConnection } from './postgres-settings.ts';

/** What our own session read in the dump's snapshot. */
export interface SnapshotFacts {
  snapshot: string;
  server: string;
  serverVersionNum: number;
  inspection: PostgresInspection;
  tables: PostgresTableFacts[];
  largeObjects: { count: number; checksum: string | null };
}

/** Objects listed as missing in one message before "and N more". */
const LISTED = 20;

/** A pg_dump that did not exit 0 (or was stopped): what happened and what to do. */
export function pgDumpFailed(error: unknown, connection: PostgresConnection, where: ErrorWhere, stopReason: string | undefined): RestorableError {
  const database = quotePostgresIdentifier(connection.database);
  const stderr = error instanceof ChildProcessError ? scrubPostgresSecret(error.stderrTail, connection.password) : '';
  const details = stderr.trimEnd().split('\n').filter(Boolean).slice(-20);
  const how = scrubPostgresSecret((error as Error)?.message ?? String(error), connection.password);
  const said = (pattern: RegExp) => pattern.test(stderr);
  let remedy = 'see pg_dump\'s messages below; the previous sets are untouched';
  if (stopReason) remedy = 'see the other error of this run';
  else if (said(/server version mismatch/i)) remedy = 'install a pg_dump at least as new as the server and set dump_tool to it';
  else if (said(/permission denied/i)) remedy = 'grant the role SELECT on the object named below, or pg_read_all_data (PostgreSQL 14+); the next backup\'s pre-flight lists every grant it lacks';
  else if (said(/row-level security/i)) remedy = `ALTER ROLE ${quotePostgresIdentifier(connection.user)} BYPASSRLS; (as a superuser), or dump as the tables' owner`;
  else if (said(/password authentication failed|no password supplied/i)) remedy = `check the password in ${connection.passwordSource ?? 'password_file or DB_PASSWORD'}`;
  else if (said(/terminating connection|server closed the connection|connection to server .* failed|could not connect/i)) remedy = `check that PostgreSQL at ${describePostgresEndpoint(connection)} is running; the server went away during the dump`;
  else if (said(/invalid snapshot identifier|could not import/i)) remedy = 'the snapshot was gone before pg_dump imported it: run the backup again';
  else if (error instanceof ChildProcessError && /stopped|produced no output|deadline|timed out/i.test(how)) remedy = 'raise stall_timeout/timeout, or look for a lock held on a table (pg_stat_activity, pg_locks)';
  return new RestorableError(`the dump of ${database} at ${describePostgresEndpoint(connection)} failed: pg_dump ${stopReason ? `was stopped because ${stopReason}` : how.replace(/^\S+\s/, '')}`, {
    code: 'DUMP_FAILED',
    where,
    remedy,
    details,
    cause: error,
  });
}

/** Throws DUMP_INCOMPLETE / DUMP_NOT_PORTABLE unless the dump is complete (see the module header). */
export function checkPostgresDump(scan: PostgresDumpScan, facts: SnapshotFacts, connection: PostgresConnection, where: ErrorWhere): void {
  const database = quotePostgresIdentifier(connection.database);
  const incomplete = (what: string, details: string[] = []) =>
    new RestorableError(`the dump of ${database} is incomplete: ${what}`, {
      code: 'DUMP_INCOMPLETE',
      where,
      remedy: 'nothing was published; run the backup again, and if this repeats report it with the lines below',
      details,
    });
  if (scan.unterminatedCopy) throw incomplete(`it ends inside the rows of ${scan.unterminatedCopy.split('\t').slice(1).join('.')}`);
  if (!scan.trailerFound) throw incomplete('it does not end with "-- PostgreSQL database dump complete"');
  if (scan.databaseStatements.length > 0) {
    throw new RestorableError(`the dump of ${database} names a database or uses psql commands (it must restore under any name)`, {
      code: 'DUMP_NOT_PORTABLE',
      where,
      remedy: 'use pg_dump without --create, and do not set dump_tool to a wrapper that adds commands',
      details: scan.databaseStatements.slice(0, LISTED).map((statement) => `line ${statement.line}: ${statement.text}`),
    });
  }
  const missing = facts.inspection.objects.filter((object) => !scan.objects.has(object.toc) && !(object.kind === 'schemas' && object.name === 'public'));
  if (missing.length > 0) {
    const byKind = new Map<PostgresInventoryKind, string[]>();
    for (const object of missing) byKind.set(object.kind, [...(byKind.get(object.kind) ?? []), object.name]);
    const summary = [...byKind].map(([kind, names]) => `${names.length} ${postgresKindWord(kind, names.length)}`).join(', ');
    throw incomplete(`${summary} of the snapshot ${missing.length === 1 ? 'is' : 'are'} not in it`, listed(missing.map((object) => `${postgresKindWord(object.kind)} ${object.name}`)));
  }
  const rowDifferences: string[] = [];
  for (const table of facts.inspection.tables) {
    const counted = facts.tables.find((entry) => entry.name === table.name)?.rows ?? '0';
    const dumped = scan.rows.get(table.dataKey) ?? 0;
    if (String(dumped) !== counted) rowDifferences.push(`${table.name}: ${counted} rows in the snapshot, ${dumped} in the dump`);
  }
  if (rowDifferences.length > 0) throw incomplete(`${rowDifferences.length} table${rowDifferences.length === 1 ? '' : 's'} lack rows`, listed(rowDifferences));
  const setvals = new Set(scan.sequences.map((sequence) => sequence.name));
  const unset = facts.inspection.inventory.sequences.filter((name) => !setvals.has(name));
  if (unset.length > 0) throw incomplete(`${unset.length} sequence value${unset.length === 1 ? ' is' : 's are'} not set by it`, listed(unset));
  if (scan.largeObjects !== facts.largeObjects.count) throw incomplete(`it creates ${scan.largeObjects} large objects of the snapshot's ${facts.largeObjects.count}`);
}

function listed(lines: string[]): string[] {
  return lines.length <= LISTED ? lines : [...lines.slice(0, LISTED), `... and ${lines.length - LISTED} more`];
}

/** The manifest's details of a complete dump. */
export function postgresDumpDetails(scan: PostgresDumpScan, facts: SnapshotFacts, tool: PgDumpTool, connection: PostgresConnection): PostgresDetails {
  return {
    database: connection.database,
    server: facts.server,
    serverVersionNum: facts.serverVersionNum,
    tool: tool.version,
    snapshot: facts.snapshot,
    inventory: facts.inspection.inventory,
    tables: facts.tables,
    sequences: [...scan.sequences].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    largeObjects: facts.largeObjects,
    extensions: facts.inspection.extensions,
    roles: facts.inspection.roles,
    dumpBytes: scan.bytes,
    dumpRows: [...scan.rows.values()].reduce((sum, rows) => sum + rows, 0),
  };
}
