// Owns loading a dump back into a MySQL/MariaDB server: inspecting and
// creating the target database, and streaming SQL into the stock client
// (`mariadb` or `mysql`) with the credentials handed over the same named pipe
// as the dump, never argv or environment. The client runs in batch mode, so it
// stops at the first error and exits non-zero; any `ERROR` line on its stderr
// fails the restore even if it exited 0.

import { delimiter, isAbsolute, join } from 'node:path';
import { access, constants as fsConstants } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import { spawnStream } from '../process/spawn-stream.ts';
import type { CompressionAlgorithm } from '../core/manifest.ts';
import { decompressorProgram } from '../stages/codec.ts';
import { clientOptionFile, CredentialsPipe, dumpChildEnvironment } from './mysql-dump-tool.ts';
import { describeEndpoint, scrubSecret, type MysqlConnection } from './mysql-connection.ts';
import { MysqlSession } from './mysql-inventory.ts';

const CLIENT_NAMES = ['mariadb', 'mysql'];

export interface TargetDatabase {
  exists: boolean;
  /** Tables, views, routines, triggers and events already in it. */
  objectCount: number;
}

export function quoteIdentifier(name: string): string {
  return '`' + name.replaceAll('`', '``') + '`';
}

export async function inspectTargetDatabase(connection: MysqlConnection, database: string, where: ErrorWhere): Promise<TargetDatabase> {
  const session = await MysqlSession.open(connection, where);
  try {
    const schemata = await session.query('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
    if (schemata.length === 0) return { exists: false, objectCount: 0 };
    const [row] = await session.query<{ n: number } & import('mysql2').RowDataPacket>(
      `SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?)
            + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?)
            + (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?) AS n`,
      [database, database, database],
    );
    return { exists: true, objectCount: Number(row?.n ?? 0) };
  } finally {
    await session.close();
  }
}

export async function createDatabase(connection: MysqlConnection, database: string, where: ErrorWhere): Promise<void> {
  await runStatement(connection, `CREATE DATABASE ${quoteIdentifier(database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`, where, database);
}

export async function dropDatabase(connection: MysqlConnection, database: string, where: ErrorWhere): Promise<void> {
  await runStatement(connection, `DROP DATABASE IF EXISTS ${quoteIdentifier(database)}`, where, database);
}

/** Names of the databases whose name starts with `prefix` (for sweeping scratch databases). */
export async function databasesWithPrefix(connection: MysqlConnection, prefix: string, where: ErrorWhere): Promise<string[]> {
  const session = await MysqlSession.open(connection, where);
  try {
    const like = prefix.replaceAll('\\', '\\\\').replaceAll('_', '\\_').replaceAll('%', '\\%') + '%';
    const rows = await session.query<{ SCHEMA_NAME: string } & import('mysql2').RowDataPacket>('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?', [like]);
    return rows.map((row) => row.SCHEMA_NAME);
  } finally {
    await session.close();
  }
}

async function runStatement(connection: MysqlConnection, sql: string, where: ErrorWhere, database: string): Promise<void> {
  const session = await MysqlSession.open(connection, where);
  try {
    await session.query(sql);
  } catch (error) {
    const denied = /denied/i.test((error as Error).message);
    throw new RestorableError(`${sql.split(' ').slice(0, 2).join(' ')} ${database} failed at ${describeEndpoint(connection)}: ${(error as Error).message}`, {
      code: denied ? 'MYSQL_ACCESS_DENIED' : 'MYSQL_QUERY_FAILED',
      where,
      remedy: denied
        ? `let ${connection.user} create and drop that database, e.g. GRANT ALL ON ${quoteIdentifier(database.replaceAll('_', '\\_'))}.* TO '${connection.user}'@'%'; or restore with --into a database it may use`
        : 'check the server log',
      cause: error,
    });
  } finally {
    await session.close();
  }
}

async function findClient(): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter((entry) => isAbsolute(entry))) {
    for (const name of CLIENT_NAMES) {
      const path = join(dir, name);
      try {
        await access(path, fsConstants.X_OK);
        return path;
      } catch {
        // keep looking
      }
    }
  }
  throw new RestorableError('neither mariadb nor mysql (the client) is on PATH', {
    code: 'CLIENT_TOOL_MISSING',
    remedy: 'install the client: apt-get install mariadb-client (or default-mysql-client)',
  });
}

export interface LoadCompressedDumpOptions {
  connection: MysqlConnection;
  database: string;
  /** The artifact's bytes as stored. */
  compressed: Readable;
  compression: CompressionAlgorithm;
  scratchDir: string;
  where: ErrorWhere;
  signal?: AbortSignal;
}

/**
 * Loads a dump, from the artifact as stored, into `database` through the
 * mysql client; rejects with the client's first error when anything failed.
 * The stock decompressor (gzip -d or zstd -d) runs as a child that writes
 * straight into the client's stdin, so the SQL (3x the artifact) never
 * passes through this process. Measured on the benchmark's 202 MB dump,
 * interleaved: 8.24/9.38/9.31 s through Node's gunzip, 8.53/9.28/8.60 s
 * this way. A decompressor that fails (a damaged artifact) fails the load
 * even when the client, seeing its input end, exited 0.
 */
export async function loadCompressedDump(options: LoadCompressedDumpOptions): Promise<void> {
  const { connection, database, where } = options;
  // An abort that came before we listen would otherwise go unnoticed.
  options.signal?.throwIfAborted();
  const client = await findClient();
  const { program, args } = decompressorProgram(options.compression);
  const pipe = await CredentialsPipe.create(options.scratchDir, clientOptionFile(connection));
  // A child's stdout starts being read by this process as soon as it exists;
  // so the decompressor starts here, its pipe goes to the client in the same
  // tick, and our end is closed at once: not one byte is read by us.
  const decompressor = spawnStream(program, args, { name: program, stdin: 'pipe' });
  const spawned = spawnStream(
    client,
    [`--defaults-file=${pipe.path}`, '--batch', '--default-character-set=utf8mb4', '--max-allowed-packet=1G', '--binary-mode', '--', database],
    { name: 'the mysql client', stdin: decompressor.stdout, env: dumpChildEnvironment(process.env, connection.passwordEnvName) },
  );
  decompressor.stdout.destroy();
  // The decompressor exiting early (damage, or the client gone) closes its stdin: EPIPE here is the echo, not the cause.
  const feeding = pipeline(options.compressed, decompressor.stdin!).catch((error: unknown) => error);
  const delivered = pipe.deliverTo(spawned);
  const onAbort = () => {
    spawned.kill('interrupted');
    decompressor.kill('interrupted');
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  spawned.stdout.resume();
  try {
    // The client's verdict first (an SQL error is the cause; the decompressor then dies of a broken pipe).
    await Promise.all([spawned.completed, delivered]);
    await decompressor.completed;
    const fed = await feeding;
    if (fed instanceof Error) throw fed;
    const errors = spawned.stderrTail().split('\n').filter((line) => /^ERROR\b/.test(line));
    if (errors.length > 0) throw new Error(errors[0]);
  } catch (error) {
    await pipe.remove();
    const stderr = scrubSecret(spawned.stderrTail(), connection.password);
    const firstError = stderr.split('\n').find((line) => /^ERROR\b/.test(line));
    throw new RestorableError(`restoring into ${database} at ${describeEndpoint(connection)} failed: ${firstError ?? scrubSecret((error as Error).message, connection.password)}`, {
      code: 'RESTORE_FAILED',
      where,
      details: stderr.trim() ? stderr.trim().split('\n').slice(-10) : [],
      remedy: 'read the client error above; a dump of another server version may need the same version of the server',
      cause: error,
    });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    decompressor.kill('stopped');
    options.compressed.destroy();
  }
}
