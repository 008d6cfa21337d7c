// Owns the table checksums recorded with a dump, so a drill can later compare
// a restored copy with what the server held. They are taken on a separate
// connection inside its own consistent snapshot, opened right before the dump
// child starts its own: MariaDB cannot share one snapshot between two
// connections without FLUSH TABLES WITH READ LOCK (RELOAD privilege), which a
// least-privilege backup account does not have. So a table written between the
// two snapshot starts (milliseconds apart) may checksum differently from the
// dumped rows; the row count taken with each checksum lets a drill see that:
// when it differs from the dump's own row count, the checksum is dropped.
// Only tables below a size limit are checksummed, so this stays cheap.

import type { RowDataPacket } from 'mysql2/promise';
import type { ErrorWhere } from '../core/errors.ts';
import type { MysqlConnection } from './mysql-connection.ts';
import { MysqlSession, type TableInfo } from './mysql-inventory.ts';
import { quoteIdentifier } from './mysql-privileges.ts';

/** Tables larger than this (information_schema's estimate) are not checksummed. */
export const CHECKSUM_TABLE_LIMIT_BYTES = 100 * 1024 * 1024;
/** And no more than this much in total per dump. */
export const CHECKSUM_TOTAL_LIMIT_BYTES = 1024 * 1024 * 1024;
const CHECKSUM_QUERY_TIMEOUT_MS = 10 * 60_000;
const SAVEPOINT = 'restorable_checksums';

export type TableChecksum =
  | { checksum: number; rowsInSnapshot: number }
  | { skipped: string };

export class ChecksumSnapshot {
  #stopped = false;

  private constructor(private readonly session: MysqlSession) {}

  /** Opens the connection and its snapshot; call right before starting the dump. */
  static async begin(target: MysqlConnection, where: ErrorWhere): Promise<ChecksumSnapshot> {
    const session = await MysqlSession.open(target, where);
    try {
      await session.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await session.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
      // Rolling back to this savepoint after each table releases the table's
      // metadata lock, so the application's DDL is not held up (as mysqldump does).
      await session.query(`SAVEPOINT ${SAVEPOINT}`);
    } catch (error) {
      session.destroy();
      throw error;
    }
    return new ChecksumSnapshot(session);
  }

  /** CHECKSUM TABLE and COUNT(*) per table, smallest first, within the limits. */
  async checksum(database: string, tables: TableInfo[]): Promise<Record<string, TableChecksum>> {
    const results: Record<string, TableChecksum> = {};
    let budget = CHECKSUM_TOTAL_LIMIT_BYTES;
    const bySize = [...tables].sort((a, b) => a.approximateBytes - b.approximateBytes);
    for (const table of bySize) {
      if (this.#stopped) {
        results[table.name] = { skipped: 'the dump was stopped first' };
        continue;
      }
      if (table.approximateBytes > CHECKSUM_TABLE_LIMIT_BYTES) {
        results[table.name] = { skipped: `larger than ${CHECKSUM_TABLE_LIMIT_BYTES / 1024 / 1024} MB` };
        continue;
      }
      if (table.approximateBytes > budget) {
        results[table.name] = { skipped: `over the ${CHECKSUM_TOTAL_LIMIT_BYTES / 1024 / 1024} MB checksum budget per dump` };
        continue;
      }
      budget -= table.approximateBytes;
      const qualified = `${quoteIdentifier(database)}.${quoteIdentifier(table.name)}`;
      const [checksumRow] = await this.session.query<RowDataPacket>(`CHECKSUM TABLE ${qualified}`, [], CHECKSUM_QUERY_TIMEOUT_MS);
      const [countRow] = await this.session.query<RowDataPacket>(`SELECT COUNT(*) AS count FROM ${qualified}`, [], CHECKSUM_QUERY_TIMEOUT_MS);
      await this.session.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
      const checksum = checksumRow?.Checksum;
      results[table.name] =
        checksum === null || checksum === undefined
          ? { skipped: 'the server returned no checksum' }
          : { checksum: Number(checksum), rowsInSnapshot: Number(countRow?.count) };
    }
    return results;
  }

  /** Ends the snapshot; safe to call more than once and when the server is gone. */
  async close(): Promise<void> {
    this.#stopped = true;
    await this.session.close();
  }

  /** Drops the connection at once (the dump failed or was aborted). */
  abort(): void {
    this.#stopped = true;
    this.session.destroy();
  }
}
