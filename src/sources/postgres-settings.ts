// Owns turning a configured postgres source into one concrete connection
// (ResolvedPostgresSource), and the two ways of using it: a node-postgres
// client for our own queries, and the environment of a child (pg_dump, psql).
//
// Explicit keys in the config win over the Laravel `.env` named by `env_file`
// (DB_URL over the DB_* keys, as config/laravel-database.ts reads them). A host
// that starts with `/` is a socket directory, as libpq, PHP's pdo_pgsql and
// node-postgres all read it (DB_HOST=/var/run/postgresql).
//
// Invariant: the password never reaches argv or a child's environment. A child
// gets PGPASSFILE naming a 0600 file in the run's private scratch directory,
// holding one `*:*:*:*:password` line, and every inherited PG* variable
// (PGPASSWORD, PGSERVICE...) is removed so the child connects exactly as we
// say. The other settings travel as PGHOST/PGPORT/PGUSER/PGDATABASE/PGSSLMODE:
// in the environment, unlike in `--dbname`, a database name holding `=` is
// not read as a connection string.

import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import pg from 'pg';
import type { PostgresSourceConfig } from '../config/schema.ts';
import { POSTGRES_SSL_MODES } from '../config/schema.ts';
import { readLaravelEnvFile } from '../config/laravel-env.ts';
import { laravelDatabaseSettings, type LaravelDatabaseSettings } from '../config/laravel-database.ts';
import { ConfigError, RestorableError, type ErrorWhere } from '../core/errors.ts';
import { maskSecretValue } from '../core/secret-text.ts';
import { SecretValue } from '../core/secret-text.ts';

export { SecretValue };
export type PostgresSslMode = (typeof POSTGRES_SSL_MODES)[number];

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 5432;
/** How long our own connection attempt may take before "unreachable". */
const CONNECT_TIMEOUT_MS = 15_000;

export interface PostgresConnection {
  /** A TCP host, or a socket directory (an absolute path). */
  host: string;
  port: number;
  database: string;
  user: string;
  /** Absent means: connect without a password. */
  password: SecretValue | undefined;
  /** Where the password came from, for "the server refused the password". */
  passwordSource?: string;
  sslmode: PostgresSslMode;
  /** How values were found, for pre-flight output. */
  notes: string[];
}

/** What the postgres driver takes: the source as configured (dump_tool made absolute) plus its connection. */
export interface ResolvedPostgresSource {
  config: PostgresSourceConfig;
  connection: PostgresConnection;
}

/** Config section -> driver settings; reads the .env and the password file now, so errors name the field early. */
export function resolvePostgresSource(sourceName: string, config: PostgresSourceConfig, configDir: string): ResolvedPostgresSource {
  const dumpTool = config.dump_tool;
  const resolvedConfig = dumpTool?.includes('/') && !isAbsolute(dumpTool) ? { ...config, dump_tool: resolve(configDir, dumpTool) } : config;
  return { config: resolvedConfig, connection: postgresConnectionFor(sourceName, config, configDir) };
}

export function postgresConnectionFor(sourceName: string, config: PostgresSourceConfig, configDir: string): PostgresConnection {
  const field = (key: string) => `sources.${sourceName}.${key}`;
  const where = { source: sourceName };
  const notes: string[] = [];
  let envPath: string | undefined;
  let laravel: LaravelDatabaseSettings | undefined;
  if (config.env_file !== undefined) {
    envPath = resolve(configDir, config.env_file);
    laravel = laravelDatabaseSettings(readLaravelEnvFile(envPath, field('env_file'), sourceName), envPath, { field: field('env_file'), source: sourceName });
    const driver = laravel.driver;
    if (driver && driver.toLowerCase() !== 'pgsql') {
      const said = laravel.driverKey === 'DB_CONNECTION' ? `${envPath} says DB_CONNECTION=${driver}` : `${laravel.driverKey} in ${envPath} says ${driver}`;
      throw new ConfigError(`${field('env_file')}: ${said}, not pgsql`, {
        where: { ...where, path: envPath },
        remedy: `use \`type: ${driver === 'mariadb' ? 'mysql' : driver}\` for this source, or point ${field('env_file')} at the right .env`,
      });
    }
    if (laravel.urlKey) notes.push(`${laravel.urlKey} in ${envPath} applies over the DB_* keys, as Laravel reads it`);
  }
  const fromEnv = (setting: keyof LaravelDatabaseSettings['values']): string | undefined => {
    const value = laravel?.values[setting];
    return value === undefined || value === '' ? undefined : value;
  };
  const envHint = (key: string) => (envPath ? `, or ${key} in ${envPath}` : '');

  const database = config.database ?? fromEnv('database');
  if (!database) throw new ConfigError(`${field('database')} is missing: restorable does not know which database to dump`, { where, remedy: `set ${field('database')}${envHint('DB_DATABASE')}` });
  const user = config.user ?? fromEnv('username');
  if (!user) throw new ConfigError(`${field('user')} is missing: restorable does not know whom to connect as`, { where, remedy: `set ${field('user')}${envHint('DB_USERNAME')}` });

  let port = config.port ?? DEFAULT_PORT;
  const envPort = fromEnv('port');
  if (config.port === undefined && envPort !== undefined) {
    port = Number(envPort);
    if (!/^\d+$/.test(envPort) || port < 1 || port > 65535) {
      throw new ConfigError(`${field('env_file')}: ${laravel?.keys.port ?? 'DB_PORT'} (${envPort}) in ${envPath} is not a port number`, {
        where: { ...where, path: envPath },
        remedy: `fix it in ${envPath}, or set ${field('port')}`,
      });
    }
  }
  const host = config.socket !== undefined ? resolve(configDir, config.socket) : (config.host ?? fromEnv('host') ?? DEFAULT_HOST);
  if (host.startsWith('/')) notes.push(`connecting through the socket directory ${host}`);

  const sslmode = config.sslmode ?? laravel?.sslmode?.value ?? 'prefer';
  if (!(POSTGRES_SSL_MODES as readonly string[]).includes(sslmode)) {
    throw new ConfigError(`${field('env_file')}: ${laravel?.sslmode?.key ?? 'DB_SSLMODE'}=${sslmode} in ${envPath} is not a libpq sslmode`, {
      where: { ...where, path: envPath },
      remedy: `use one of ${POSTGRES_SSL_MODES.join(', ')}, or set ${field('sslmode')}`,
    });
  }

  let password: SecretValue | undefined;
  let passwordSource: string | undefined;
  if (config.password_file !== undefined) {
    const path = resolve(configDir, config.password_file);
    password = new SecretValue(readPasswordFile(path, field('password_file'), sourceName));
    passwordSource = `${field('password_file')} (${path})`;
  } else if (fromEnv('password') !== undefined) {
    password = new SecretValue(fromEnv('password')!);
    passwordSource = `${laravel?.keys.password ?? 'DB_PASSWORD'} in ${envPath}`;
  }
  if (password && /[\r\n]/.test(password.reveal())) {
    throw new ConfigError(`the password of ${field('')} holds a line break, which a PostgreSQL password file cannot carry`, { where, remedy: `change the password of ${user}` });
  }
  return { host, port, database, user, password, passwordSource, sslmode: sslmode as PostgresSslMode, notes };
}

function readPasswordFile(path: string, fieldName: string, sourceName: string): string {
  try {
    return readFileSync(path, 'utf8').split(/\r?\n/, 1)[0] ?? '';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by restorable' : `cannot be read (${code ?? String(error)})`;
    throw new ConfigError(`${fieldName}: ${path} ${why}`, { where: { source: sourceName, path }, remedy: `fix ${fieldName}, or make ${path} readable by the user restorable runs as`, cause: error });
  }
}

/** `socket directory /var/run/postgresql (port 5432)` or `127.0.0.1:5432`, for messages. */
export function describePostgresEndpoint(connection: Pick<PostgresConnection, 'host' | 'port'>): string {
  return connection.host.startsWith('/') ? `socket directory ${connection.host} (port ${connection.port})` : `${connection.host}:${connection.port}`;
}

/** `"app_db"`: an identifier quoted as PostgreSQL quotes it (for SQL and messages). */
export function quotePostgresIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A text for humans with the password (also as a pgpass line escapes it) replaced by `***`. */
export function scrubPostgresSecret(text: string, secret: SecretValue | undefined): string {
  const value = secret?.reveal();
  if (!value || value.length < 3) return text;
  let scrubbed = text;
  for (const form of new Set([value, escapePassFileField(value), encodeURIComponent(value)])) scrubbed = maskSecretValue(scrubbed, form, '***');
  return scrubbed;
}

// ---- a child's connection: PGPASSFILE and the PG* environment

/** `\` and `:` are the two characters a .pgpass field escapes. */
function escapePassFileField(value: string): string {
  return value.replace(/[\\:]/g, (char) => `\\${char}`);
}

/**
 * Writes `<scratchDir>/<name>` (0600) for PGPASSFILE and returns its path. The
 * file is written even without a password (then empty), so a child never
 * falls back to the ~/.pgpass of the user restorable runs as: it connects as
 * our own client did.
 */
export async function writePassFile(scratchDir: string, connection: PostgresConnection, name = 'pgpass'): Promise<string> {
  const path = join(scratchDir, name);
  const value = connection.password?.reveal();
  await writeFile(path, value === undefined ? '' : `*:*:*:*:${escapePassFileField(value)}\n`, { mode: 0o600, flag: 'w' });
  return path;
}

/**
 * The environment of a pg_dump/psql child: `base` without any PG* variable
 * (PGPASSWORD above all), plus where to connect and the PGPASSFILE. `database`
 * overrides the connection's (a restore target, a drill's scratch database).
 */
export function postgresChildEnvironment(base: NodeJS.ProcessEnv, connection: PostgresConnection, passFile: string, database = connection.database): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) if (!key.startsWith('PG')) environment[key] = value;
  return {
    ...environment,
    PGHOST: connection.host,
    PGPORT: String(connection.port),
    PGUSER: connection.user,
    PGDATABASE: database,
    PGSSLMODE: connection.sslmode,
    PGPASSFILE: passFile,
    PGAPPNAME: 'restorable',
    PGCONNECT_TIMEOUT: String(CONNECT_TIMEOUT_MS / 1000),
  };
}

// ---- our own client (node-postgres)

/**
 * node-postgres settings for the connection, everything explicit so that no
 * PG* variable of restorable's environment applies. `ssl` is decided by
 * openPostgresClient (node-postgres has no `prefer`: it is tried, then dropped).
 */
export function postgresClientConfig(connection: PostgresConnection, database = connection.database): pg.ClientConfig {
  return {
    host: connection.host,
    port: connection.port,
    user: connection.user,
    database,
    // '' and not undefined: undefined makes node-postgres read ~/.pgpass and PGPASSWORD.
    password: connection.password?.reveal() ?? '',
    application_name: 'restorable',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  };
}

function sslOptions(mode: PostgresSslMode): pg.ClientConfig['ssl'] {
  if (mode === 'disable' || mode === 'allow') return false;
  if (mode === 'verify-full') return { rejectUnauthorized: true };
  if (mode === 'verify-ca') return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { rejectUnauthorized: false };
}

/**
 * A connected node-postgres client, or a RestorableError saying why not
 * (unreachable, password refused, no such database), password scrubbed.
 * `prefer`: TLS first, plain when the server offers no TLS (a socket never does).
 */
export async function openPostgresClient(connection: PostgresConnection, where: ErrorWhere, database = connection.database): Promise<pg.Client> {
  const viaSocket = connection.host.startsWith('/');
  const tryTls = !viaSocket && connection.sslmode !== 'disable' && connection.sslmode !== 'allow';
  const attempt = async (ssl: pg.ClientConfig['ssl']): Promise<pg.Client> => {
    const client = new pg.Client({ ...postgresClientConfig(connection, database), ssl });
    client.on('error', () => {}); // a dropped connection fails the query in progress; nothing to do here
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
  };
  try {
    if (!tryTls) return await attempt(false);
    try {
      return await attempt(sslOptions(connection.sslmode));
    } catch (error) {
      const noTls = /does not support SSL/i.test(String((error as Error).message));
      if (!noTls || connection.sslmode !== 'prefer') throw error;
      return await attempt(false);
    }
  } catch (error) {
    throw connectionFailed(error, connection, where, database);
  }
}

/** Why a connection failed, in the operator's words, with the password scrubbed. */
export function connectionFailed(error: unknown, connection: PostgresConnection, where: ErrorWhere, database = connection.database): RestorableError {
  const raw = String((error as Error)?.message ?? error);
  const sqlState = (error as { code?: string })?.code;
  const endpoint = describePostgresEndpoint(connection);
  const message = scrubPostgresSecret(raw, connection.password);
  if (sqlState === '28P01' || sqlState === '28000') {
    return new RestorableError(`PostgreSQL at ${endpoint} refused ${connection.user}: ${message}`, {
      code: 'DB_ACCESS_DENIED',
      where,
      remedy: connection.passwordSource ? `check the password in ${connection.passwordSource} and pg_hba.conf on the server` : 'give a password (password_file or DB_PASSWORD), or check pg_hba.conf on the server',
    });
  }
  if (sqlState === '3D000') {
    return new RestorableError(`the database ${quotePostgresIdentifier(database)} does not exist at ${endpoint}`, { code: 'DB_NOT_FOUND', where, remedy: 'fix the database name in the config or the .env' });
  }
  return new RestorableError(`cannot reach PostgreSQL at ${endpoint} as ${connection.user}: ${message}`, {
    code: 'DB_UNREACHABLE',
    where,
    remedy: 'check that the server runs and that host/port (or the socket directory) and sslmode are right',
    cause: error,
  });
}
