// Owns what the read side of the postgres kind asks of a server around a load:
// whether a target database exists and holds anything, creating it (with the
// source database's encoding and locale when the server knows that database)
// and dropping it again, listing scratch databases by prefix, and the
// pre-flight facts (may this role create databases; which extensions the
// server cannot install). Database-level statements run from a maintenance
// connection: the source's own database, else `postgres`, else `template1`.

import type pg from 'pg';
import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import { describePostgresEndpoint, openPostgresClient, quotePostgresIdentifier, type PostgresConnection } from './postgres-settings.ts';

/** PostgreSQL truncates identifiers longer than this (NAMEDATALEN - 1 bytes). */
export const MAX_DATABASE_NAME_BYTES = 63;

export interface TargetDatabase {
  exists: boolean;
  /** Tables, views, sequences, routines (not an extension's), extensions (but plpgsql) and large objects already in it. */
  objectCount: number;
}

/** Runs `work` on a connection to a database that surely exists, closing it afterwards. */
export async function withMaintenanceClient<T>(connection: PostgresConnection, where: ErrorWhere, work: (client: pg.Client) => Promise<T>): Promise<T> {
  let client: pg.Client | undefined;
  let firstError: unknown;
  for (const database of [connection.database, 'postgres', 'template1']) {
    try {
      client = await openPostgresClient(connection, where, database);
      break;
    } catch (error) {
      firstError ??= error;
      if (!(error instanceof RestorableError && error.code === 'DB_NOT_FOUND')) throw error;
    }
  }
  if (!client) throw firstError;
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs `work` on a connection to `database`, closing it afterwards. */
export async function withDatabaseClient<T>(connection: PostgresConnection, database: string, where: ErrorWhere, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await openPostgresClient(connection, where, database);
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function inspectTargetDatabase(connection: PostgresConnection, database: string, where: ErrorWhere): Promise<TargetDatabase> {
  const exists = await withMaintenanceClient(connection, where, async (client) => (await client.query('SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1', [database])).rowCount! > 0);
  if (!exists) return { exists: false, objectCount: 0 };
  const objectCount = await withDatabaseClient(connection, database, where, async (client) => {
    // What the application made: relations and routines outside the system schemas (not an extension's own), extensions but plpgsql, large objects.
    const user = "NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";
    const notExtensionMember = (catalog: string, oid: string) => `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;
    const { rows } = await client.query<{ n: string }>(
      `SELECT ((SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname ${user} AND ${notExtensionMember('pg_catalog.pg_class', 'c.oid')})
             + (SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname ${user} AND ${notExtensionMember('pg_catalog.pg_proc', 'p.oid')})
             + (SELECT count(*) FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql')
             + (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata))::text AS n`,
    );
    return Number(rows[0]?.n ?? 0);
  });
  return { exists: true, objectCount };
}

/**
 * Creates `database` owned by the restoring role, from template0 (nothing of
 * template1's additions), with the source database's encoding and locale when
 * this server has it (a restore next to the source); the server's defaults otherwise.
 */
export async function createDatabase(connection: PostgresConnection, database: string, where: ErrorWhere, sourceDatabase?: string): Promise<void> {
  await withMaintenanceClient(connection, where, async (client) => {
    let options = '';
    if (sourceDatabase) {
      const { rows } = await client
        .query<{ encoding: string; collate: string; ctype: string }>('SELECT pg_catalog.pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, datctype AS ctype FROM pg_catalog.pg_database WHERE datname = $1', [sourceDatabase])
        .catch(() => ({ rows: [] as Array<{ encoding: string; collate: string; ctype: string }> }));
      const source = rows[0];
      if (source) options = ` ENCODING ${literal(source.encoding)} LC_COLLATE ${literal(source.collate)} LC_CTYPE ${literal(source.ctype)}`;
    }
    await runDatabaseStatement(client, connection, `CREATE DATABASE ${quotePostgresIdentifier(database)} TEMPLATE template0${options}`, database, where);
  });
}

/** Drops `database`, ending sessions left in it (a killed drill's psql) on servers that can. */
export async function dropDatabase(connection: PostgresConnection, database: string, where: ErrorWhere): Promise<void> {
  await withMaintenanceClient(connection, where, async (client) => {
    const version = Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v ?? 0);
    const force = version >= 130000 ? ' WITH (FORCE)' : '';
    await runDatabaseStatement(client, connection, `DROP DATABASE IF EXISTS ${quotePostgresIdentifier(database)}${force}`, database, where);
  });
}

/** Names of the databases starting with `prefix` (scratch databases of one repository). */
export async function databasesWithPrefix(connection: PostgresConnection, prefix: string, where: ErrorWhere): Promise<string[]> {
  return withMaintenanceClient(connection, where, async (client) => {
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_catalog.pg_database WHERE starts_with(datname, $1) ORDER BY datname', [prefix]);
    return rows.map((row) => row.datname);
  });
}

export interface RestoreRole {
  /** current_user. */
  name: string;
  mayCreateDatabases: boolean;
  superuser: boolean;
}

export async function readRestoreRole(connection: PostgresConnection, where: ErrorWhere): Promise<RestoreRole> {
  return withMaintenanceClient(connection, where, async (client) => {
    const { rows } = await client.query<{ name: string; createdb: boolean; superuser: boolean }>(
      'SELECT current_user AS name, rolcreatedb AS createdb, rolsuper AS superuser FROM pg_catalog.pg_roles WHERE rolname = current_user',
    );
    const row = rows[0];
    return { name: row?.name ?? connection.user, mayCreateDatabases: Boolean(row?.createdb || row?.superuser), superuser: Boolean(row?.superuser) };
  });
}

export interface ExtensionProblems {
  /** Not in pg_available_extensions: the server lacks the package. */
  unavailable: string[];
  /** Not trusted (PostgreSQL 13+), so only a superuser may create them, and the role is none. */
  untrusted: string[];
}

/** What stops the extensions of `names` from being created by `role` on this server. */
export async function extensionProblems(connection: PostgresConnection, names: string[], role: RestoreRole, where: ErrorWhere): Promise<ExtensionProblems> {
  if (names.length === 0) return { unavailable: [], untrusted: [] };
  return withMaintenanceClient(connection, where, async (client) => {
    const { rows } = await client.query<{ name: string }>('SELECT name FROM pg_catalog.pg_available_extensions WHERE name = ANY($1::text[])', [names]);
    const available = new Set(rows.map((row) => row.name));
    let untrusted: string[] = [];
    const version = Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v ?? 0);
    if (!role.superuser && version >= 130000) {
      const trusted = await client.query<{ name: string }>('SELECT name FROM pg_catalog.pg_available_extension_versions WHERE name = ANY($1::text[]) GROUP BY name HAVING NOT bool_or(trusted)', [names]);
      untrusted = trusted.rows.map((row) => row.name).filter((name) => available.has(name));
    }
    return { unavailable: names.filter((name) => !available.has(name)), untrusted };
  });
}

/** The refusal a restore or drill makes for extensions it could not create, or undefined. */
export function describeExtensionProblems(problems: ExtensionProblems, role: RestoreRole, connection: PostgresConnection): { message: string; details: string[]; remedy: string } | undefined {
  const { unavailable, untrusted } = problems;
  if (unavailable.length === 0 && untrusted.length === 0) return undefined;
  const server = `the server at ${describePostgresEndpoint(connection)}`;
  const message = unavailable.length > 0
    ? `the dump needs the extension${unavailable.length === 1 ? '' : 's'} ${unavailable.join(', ')}, which ${server} does not have (pg_available_extensions)`
    : `the dump creates the extension${untrusted.length === 1 ? '' : 's'} ${untrusted.join(', ')}, which only a superuser may create on ${server}, and ${role.name} is none`;
  return {
    message,
    details: [...unavailable.map((name) => `extension ${name}: not installed on the server`), ...untrusted.map((name) => `extension ${name}: not trusted, needs a superuser`)],
    remedy: [
      unavailable.length > 0 ? `install the package that provides ${unavailable.join(', ')} on the database server (e.g. postgresql-contrib)` : '',
      untrusted.length > 0 ? `restore as a superuser, or have one run CREATE EXTENSION ${untrusted.join(', ')} in the target first and restore with --into it` : '',
    ].filter(Boolean).join('; '),
  };
}

async function runDatabaseStatement(client: pg.Client, connection: PostgresConnection, sql: string, database: string, where: ErrorWhere): Promise<void> {
  try {
    await client.query(sql);
  } catch (error) {
    const denied = (error as { code?: string }).code === '42501';
    throw new RestorableError(`${sql.split(' ').slice(0, 2).join(' ')} ${database} failed at ${describePostgresEndpoint(connection)}: ${(error as Error).message}`, {
      code: denied ? 'DB_ACCESS_DENIED' : 'DB_QUERY_FAILED',
      where,
      remedy: !denied
        ? 'check the server log'
        : sql.startsWith('DROP')
          ? `only its owner (or a superuser) may drop it: DROP DATABASE ${quotePostgresIdentifier(database)};`
          : `let ${connection.user} create databases (ALTER ROLE ${quotePostgresIdentifier(connection.user)} CREATEDB;), or restore with --into a database it owns`,
      cause: error,
    });
  }
}

function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
