// Owns the session whose snapshot the dump reads: a REPEATABLE READ, READ
// ONLY transaction that exports its snapshot (pg_export_snapshot) for
// `pg_dump --snapshot`, reads the inventory in it, and counts and checksums
// every table and the large objects in it (postgres-details.ts defines the
// checksum), so the facts a drill compares are those of the dump itself.
// Invariant: the transaction stays open until pg_dump has imported the
// snapshot (its first output comes after that) — an exported snapshot dies
// with the transaction that exported it.

import type pg from 'pg';
import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import { checksumSettingsSql, LARGE_OBJECTS_CHECKSUM_SQL, tableChecksumSql, tableCountSql, type PostgresTableFacts } from './postgres-details.ts';
import { readPostgresInventory, type PostgresInspection } from './postgres-inventory.ts';
import { checkPostgresPrivileges, type PostgresPrivileges } from './postgres-privileges.ts';
import { connectionFailed, openPostgresClient, type PostgresConnection } from './postgres-settings.ts';
import type { SnapshotFacts } from './postgres-dump-verdict.ts';

/** The server as the pre-flight and the snapshot session see it. */
export interface PostgresServer {
  /** version(). */
  text: string;
  versionNum: number;
  privileges: PostgresPrivileges;
}

export class PostgresSnapshotSession {
  readonly #client: pg.Client;
  readonly #connection: PostgresConnection;
  readonly #where: ErrorWhere;
  #closed = false;

  private constructor(client: pg.Client, connection: PostgresConnection, where: ErrorWhere) {
    this.#client = client;
    this.#connection = connection;
    this.#where = where;
  }

  static async open(connection: PostgresConnection, where: ErrorWhere): Promise<PostgresSnapshotSession> {
    return new PostgresSnapshotSession(await openPostgresClient(connection, where), connection, where);
  }

  /** Version and privileges, read outside any snapshot (the pre-flight's questions). */
  async server(): Promise<PostgresServer> {
    const row = (await this.#query<{ text: string; num: string }>("SELECT version() AS text, current_setting('server_version_num') AS num")).rows[0]!;
    return { text: row.text, versionNum: Number(row.num), privileges: await this.#guard(() => checkPostgresPrivileges(this.#client)) };
  }

  /** The inventory as it is now, outside a snapshot (the pre-flight's summary). */
  async inventory(): Promise<PostgresInspection> {
    return this.#guard(() => readPostgresInventory(this.#client));
  }

  /** Begins the snapshot transaction and returns the exported snapshot's id. */
  async exportSnapshot(): Promise<string> {
    await this.#query(checksumSettingsSql());
    await this.#query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    return (await this.#query<{ id: string }>('SELECT pg_catalog.pg_export_snapshot() AS id')).rows[0]!.id;
  }

  /** The inventory, row counts, checksums and large objects, all in the exported snapshot. */
  async readFacts(snapshot: string, server: PostgresServer, signal: AbortSignal): Promise<SnapshotFacts> {
    const inspection = await this.#guard(() => readPostgresInventory(this.#client));
    const withChecksums = server.versionNum >= 110000;
    const tables: PostgresTableFacts[] = [];
    for (const table of inspection.tables) {
      if (signal.aborted) throw new RestorableError('the table checksums were stopped: the run was aborted', { code: 'DUMP_ABORTED', where: this.#where });
      const row = (await this.#query<{ rows: string; checksum: string | null }>(withChecksums ? tableChecksumSql(table.name) : tableCountSql(table.name))).rows[0]!;
      tables.push({ name: table.name, rows: row.rows, checksum: row.checksum });
    }
    const objects = (await this.#query<{ count: string; checksum: string }>(LARGE_OBJECTS_CHECKSUM_SQL)).rows[0]!;
    return {
      snapshot,
      server: server.text,
      serverVersionNum: server.versionNum,
      inspection,
      tables,
      largeObjects: { count: Number(objects.count), checksum: withChecksums ? objects.checksum : null },
    };
  }

  /** Ends the transaction (the snapshot with it) and the connection; safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.query('COMMIT').catch(() => {});
    await this.#client.end().catch(() => {});
  }

  async #query<Row extends pg.QueryResultRow>(sql: string): Promise<pg.QueryResult<Row>> {
    return this.#guard(() => this.#client.query<Row>(sql));
  }

  /** A failed query, as a RestorableError naming the server (a dropped connection, a permission). */
  async #guard<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof RestorableError) throw error;
      const sqlState = (error as { code?: string }).code;
      if (sqlState === '42501') {
        throw new RestorableError(`reading ${this.#connection.database} in its snapshot failed: ${(error as Error).message}`, {
          code: 'POSTGRES_PRIVILEGES_MISSING',
          where: this.#where,
          remedy: 'an object appeared after the pre-flight, or its grant was revoked: run the backup again, its pre-flight lists every grant this role lacks',
        });
      }
      throw connectionFailed(error, this.#connection, this.#where);
    }
  }
}
