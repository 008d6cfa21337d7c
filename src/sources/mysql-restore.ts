// Owns loading a dump back into a MySQL/MariaDB server: inspecting and
// creating the target database, and streaming SQL into the stock client
// (`mariadb` or `mysql`) with the credentials handed over the same named pipe
// as the dump, never argv or environment. The client runs in batch mode, so it
// stops at the first error and exits non-zero; any `ERROR` line on its stderr
// fails the restore even if it exited 0. The target is created with the
// source's charset and collation, and a dump restored under another name
// writes nothing outside it (mysql-dump-portable.ts; events come DISABLED).

import { delimiter, isAbsolute, join } from 'node:path';
import { access, constants as fsConstants } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import { spawnStream } from '../process/spawn-stream.ts';
import type { CompressionAlgorithm } from '../core/manifest.ts';
import { decoderProgramFor } from '../storage/verified-read.ts';
import { clientOptionFile, CredentialsPipe, dumpChildEnvironment } from './mysql-dump-tool.ts';
import { describeEndpoint, scrubSecret, type MysqlConnection } from './mysql-connection.ts';
import { MysqlSession } from './mysql-inventory.ts';
import { PortableDumpRewriter, type DumpPortabilityReport } from './mysql-dump-portable.ts';
import { databaseGrantTarget, grantStatement } from './mysql-privileges.ts';
import { explainLostConnection } from './mysql-restore-preflight.ts';

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

/** The source database's default charset and collation, as recorded in the artifact's details (absent in older sets). */
export interface DatabaseDefaults {
  charset?: string;
  collation?: string;
}

/**
 * Creates the target with the source database's default charset and collation
 * (routines and new tables compare strings by them: 'ß' = 'ss' differs between
 * collations); utf8mb4_unicode_ci when the set predates recording them.
 */
export async function createDatabase(connection: MysqlConnection, database: string, where: ErrorWhere, defaults: DatabaseDefaults = {}): Promise<void> {
  const name = /^[A-Za-z0-9_]+$/;
  const recorded = defaults.charset && defaults.collation && name.test(defaults.charset) && name.test(defaults.collation);
  const [charset, collation] = recorded ? [defaults.charset!, defaults.collation!] : ['utf8mb4', 'utf8mb4_unicode_ci'];
  await runStatement(connection, `CREATE DATABASE ${quoteIdentifier(database)} CHARACTER SET ${charset} COLLATE ${collation}`, where, database);
}

/** Facts of a mysql artifact's details that restoring it needs. */
export function restoreFactsOf(details: Record<string, unknown> | undefined): { sourceDatabase?: string; objectNames: string[]; defaults: DatabaseDefaults } {
  const inventory = (details?.inventory ?? {}) as Record<string, unknown>;
  const objectNames = Object.values(inventory).flatMap((names) => (Array.isArray(names) ? names.map(String) : []));
  return {
    sourceDatabase: typeof details?.database === 'string' ? details.database : undefined,
    objectNames,
    defaults: {
      charset: typeof details?.databaseCharset === 'string' ? details.databaseCharset : undefined,
      collation: typeof details?.databaseCollation === 'string' ? details.databaseCollation : undefined,
    },
  };
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
    // The GRANT must name the account the server matched (laravel@127.0.0.1, not @'%': ERROR 1133) and, for
    // names restorable makes up, their pattern (restorable\_drill\_%), not this run's one name.
    const account = denied ? await session.query<import('mysql2').RowDataPacket>('SELECT CURRENT_USER() AS account').then(([row]) => String(row!.account), () => `${connection.user}@%`) : '';
    throw new RestorableError(`${sql.split(' ').slice(0, 2).join(' ')} ${database} failed at ${describeEndpoint(connection)}: ${(error as Error).message}`, {
      code: denied ? 'MYSQL_ACCESS_DENIED' : 'MYSQL_QUERY_FAILED',
      where,
      remedy: denied
        ? `let ${account} create and drop that database, e.g. ${grantStatement(['ALL'], databaseGrantTarget(database), account)} or restore with --into a database it may use`
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
  /** The set's largest statement (recorded at backup time), to explain a connection the server dropped. */
  largestStatementBytes?: number;
  /**
   * The database the dump was taken from and its object names (the artifact's
   * details): the SQL then passes through PortableDumpRewriter, which takes
   * that name out of the statements (older artifacts), refuses USE / CREATE
   * DATABASE, and restores events DISABLED when `database` is another one.
   */
  source?: { database: string; objectNames: string[] };
}

/** The line a restore prints when it created a copy's events DISABLED. */
export function describeDisabledEvents(events: string[], database: string): string {
  const one = events.length === 1;
  return (
    `${events.length} event${one ? '' : 's'} restored DISABLED, so ${one ? 'it does' : 'they do'} not run in this copy: ` +
    events.map((event) => `ALTER EVENT ${quoteIdentifier(database)}.${quoteIdentifier(event)} ENABLE;`).join(' ') +
    ` to turn ${one ? 'it' : 'them'} on`
  );
}

export interface LoadOutcome {
  /** Events created DISABLED because the target is not the source database. */
  disabledEvents: string[];
  /** What the rewriting did (undefined without `source`). */
  portability?: DumpPortabilityReport;
}

/**
 * Loads a dump, from the artifact as stored, into `database` through the
 * mysql client; rejects with the client's first error when anything failed.
 * The stock decompressor (gzip -d or zstd -d) runs as a child. Without
 * `source` it writes straight into the client's stdin (the SQL never passes
 * through this process); with `source` (restore db, drills) its output goes
 * through PortableDumpRewriter on the way, which passes INSERT statements on
 * with one indexOf each: measured on a 200 MB, 1.5 M-row dump, 0.26-0.48 s for
 * the rewriter alone vs 0.21-0.27 s for a PassThrough, and whole loads of
 * 32.1/51.1 s child to child vs 24.7/40.2 s through the rewriter
 * (interleaved, shared machine: no measurable cost). A decompressor that
 * fails (a damaged artifact) fails the load even when the client, seeing its
 * input end, exited 0.
 */
export async function loadCompressedDump(options: LoadCompressedDumpOptions): Promise<LoadOutcome> {
  const { connection, database, where } = options;
  // An abort that came before we listen would otherwise go unnoticed.
  options.signal?.throwIfAborted();
  const client = await findClient();
  const { program, args } = decoderProgramFor({ compression: options.compression });
  const pipe = await CredentialsPipe.create(options.scratchDir, clientOptionFile(connection));
  // A child's stdout starts being read by this process as soon as it exists;
  // so the decompressor starts here, its pipe goes to the client in the same
  // tick, and our end is closed at once: not one byte is read by us.
  // With `source`, the SQL passes through the rewriter on its way (flat memory,
  // backpressure by pipeline; INSERT lines are passed on with one indexOf).
  const rewriter = options.source
    ? new PortableDumpRewriter({
        sourceDatabase: options.source.database,
        objectNames: options.source.objectNames,
        disableEvents: options.source.database !== database,
        refuseDatabaseStatements: true,
        where,
      })
    : undefined;
  const decompressor = spawnStream(program, args, { name: program, stdin: 'pipe' });
  const spawned = spawnStream(
    client,
    [`--defaults-file=${pipe.path}`, '--batch', '--default-character-set=utf8mb4', '--max-allowed-packet=1G', '--binary-mode', '--', database],
    { name: 'the mysql client', stdin: rewriter ? 'pipe' : decompressor.stdout, env: dumpChildEnvironment(process.env, connection.passwordEnvName) },
  );
  let rewriting: Promise<unknown> = Promise.resolve();
  if (rewriter) {
    rewriting = pipeline(decompressor.stdout, rewriter, spawned.stdin!).catch((error: unknown) => {
      // A statement the rewriter refused must never reach the client, nor may the client take the cut-off input as the end.
      if (error instanceof RestorableError) spawned.kill('stopped: the dump is not portable');
      return error;
    });
  } else {
    decompressor.stdout.destroy();
  }
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
    const rewritten = await rewriting;
    if (rewritten instanceof Error) throw rewritten;
    const errors = spawned.stderrTail().split('\n').filter((line) => /^ERROR\b/.test(line));
    if (errors.length > 0) throw new Error(errors[0]);
    const portability = rewriter?.report();
    return { disabledEvents: portability?.disabledEvents ?? [], portability };
  } catch (error) {
    await pipe.remove();
    const refused = await rewriting;
    if (refused instanceof RestorableError && refused.code === 'RESTORE_NOT_PORTABLE') throw refused;
    // A failed statement may be echoed with megabytes of hex-encoded BLOB: keep each line short.
    const stderr = scrubSecret(spawned.stderrTail(), connection.password).split('\n').map(shortenLine).join('\n');
    const firstError = stderr.split('\n').find((line) => /^ERROR\b/.test(line));
    const clientError = firstError ?? shortenLine(scrubSecret((error as Error).message, connection.password));
    const packet = await explainLostConnection(connection, clientError, where, options.largestStatementBytes);
    throw new RestorableError(`restoring into ${database} at ${describeEndpoint(connection)} failed: ${clientError}${packet ? `: ${packet.message}` : ''}`, {
      code: 'RESTORE_FAILED',
      where,
      details: stderr.trim() ? stderr.trim().split('\n').slice(-10) : [],
      remedy: packet?.remedy ?? 'read the client error above, fix its cause (a privilege, a server setting, disk space) and restore again',
      cause: error,
    });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    decompressor.kill('stopped');
    options.compressed.destroy();
  }
}

const LONGEST_ERROR_LINE = 300;

function shortenLine(line: string): string {
  return line.length <= LONGEST_ERROR_LINE ? line : `${line.slice(0, LONGEST_ERROR_LINE)}... (${line.length - LONGEST_ERROR_LINE} more characters)`;
}
