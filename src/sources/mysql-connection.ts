// Owns turning a configured mysql source into one concrete connection: where
// the server is (socket or host:port), which database, as whom, and the
// password. Explicit keys in the config win over the Laravel `.env` named by
// `env_file` (read as Laravel reads it: DB_URL over the DB_* keys, see
// config/laravel-database.ts); the password comes from `password_file`, `password_env` or the
// `.env`'s DB_PASSWORD, in that order. The password travels wrapped in a
// SecretValue so that logging a resolved source can never print it.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { MysqlSourceConfig } from '../config/schema.ts';
import { readLaravelEnvFile, type EnvValues } from '../config/laravel-env.ts';
import { laravelDatabaseSettings, type LaravelDatabaseSettings } from '../config/laravel-database.ts';
import { ConfigError } from '../core/errors.ts';
import { maskSecretValue, SecretValue } from '../core/secret-text.ts';

export { SecretValue };

const DEFAULT_HOST = '127.0.0.1';
/** The .env key of each setting, for messages. */
const SETTING_KEY = { host: 'DB_HOST', port: 'DB_PORT', database: 'DB_DATABASE', username: 'DB_USERNAME', password: 'DB_PASSWORD', socket: 'DB_SOCKET' } as const;
const DEFAULT_PORT = 3306;

/**
 * Where MySQL clients and PHP look when told `localhost` without a socket
 * (Debian/Ubuntu, then RHEL, then the upstream default).
 */
export const DEFAULT_SOCKET_PATHS = ['/run/mysqld/mysqld.sock', '/var/run/mysqld/mysqld.sock', '/var/lib/mysql/mysql.sock', '/tmp/mysql.sock'];

export interface MysqlConnection {
  /** Host for TCP connections; ignored when `socket` is set. */
  host: string;
  port: number;
  /** Unix socket path; when set, both the queries and the dump use it instead of TCP. */
  socket: string | undefined;
  database: string;
  user: string;
  /** Absent means: connect without a password. */
  password: SecretValue | undefined;
  /** The variable named by `password_env`, which the dump child must not inherit. */
  passwordEnvName: string | undefined;
  /** Where the password came from, for "the server refused the password" (`DB_PASSWORD in /var/www/app/.env`). */
  passwordSource?: string;
  /** How values were found, for pre-flight output ("DB_HOST=localhost: using the socket ..."). */
  notes: string[];
}

/**
 * Replaces the secret, and the given encoded forms of it (as an option file
 * writes it...), with `***` in a text meant for humans; also any
 * `password=...` line a tool might echo. A password that is (part of) an
 * ordinary word is not cut out of the words around it: that would point at
 * it (see core/secret-text.ts).
 */
export function scrubSecret(text: string, secret: SecretValue | undefined, ...encodings: Array<(value: string) => string>): string {
  let scrubbed = text.replace(/^(\s*password\s*=).*$/gim, '$1***');
  const value = secret?.reveal();
  if (!value || value.length < 3) return scrubbed;
  for (const form of [value, ...encodings.map((encode) => encode(value))]) scrubbed = maskSecretValue(scrubbed, form, '***');
  return scrubbed;
}

/** `socket /run/mysqld/mysqld.sock` or `127.0.0.1:3306`, for messages. */
export function describeEndpoint(connection: Pick<MysqlConnection, 'host' | 'port' | 'socket'>): string {
  return connection.socket ? `socket ${connection.socket}` : `${connection.host}:${connection.port}`;
}

export interface ConnectionLookupOptions {
  /** restorable's environment (for `password_env`); process.env by default. */
  environment?: NodeJS.ProcessEnv;
  /** Which sockets to try when the host is `localhost`; tests override this. */
  socketCandidates?: string[];
}

/**
 * Resolves `sources.<sourceName>` into a connection. `configDir` is the
 * directory of the config file: relative `env_file`, `password_file` and
 * `socket` paths are taken from there.
 */
export function mysqlConnectionFor(
  sourceName: string,
  config: MysqlSourceConfig,
  configDir: string,
  options: ConnectionLookupOptions = {},
): MysqlConnection {
  const environment = options.environment ?? process.env;
  const field = (key: string) => `sources.${sourceName}.${key}`;
  const where = { source: sourceName };
  const notes: string[] = [];

  let envValues: EnvValues = {};
  let envFilePath: string | undefined;
  let laravel: LaravelDatabaseSettings | undefined;
  if (config.env_file !== undefined) {
    envFilePath = resolve(configDir, config.env_file);
    envValues = readLaravelEnvFile(envFilePath, field('env_file'), sourceName);
    // The DB_* keys as config/database.php reads them, with DB_URL (or DATABASE_URL) over them.
    laravel = laravelDatabaseSettings(envValues, envFilePath, { field: field('env_file'), source: sourceName });
    const driver = laravel.driver;
    if (driver && !['mysql', 'mariadb'].includes(driver.toLowerCase())) {
      const said = laravel.driverKey === 'DB_CONNECTION' ? `${envFilePath} says DB_CONNECTION=${driver}` : `${laravel.driverKey} in ${envFilePath} says ${driver}`;
      throw new ConfigError(`${field('env_file')}: ${said}, not mysql or mariadb`, {
        where: { ...where, path: envFilePath },
        remedy: `use a source of the matching type for this application, or point ${field('env_file')} at the right .env`,
      });
    }
    if (laravel.urlKey) {
      const url = laravel.values;
      const parts = [url.database && `database ${url.database}`, url.username && `user ${url.username}`, url.socket ? `socket ${url.socket}` : url.host && `host ${url.host}${url.port ? `:${url.port}` : ''}`]
        .filter(Boolean)
        .join(', ');
      const overridden = laravel.overridden.length > 0 ? ` (over ${laravel.overridden.join(', ')})` : '';
      notes.push(`${laravel.urlKey} in ${envFilePath}: ${parts || 'no parts'}${overridden}, as Laravel reads it`);
    }
  }
  // A DB_* value as the app's config receives it: null, unset and '' all mean "not given".
  const fromEnv = (setting: keyof LaravelDatabaseSettings['values']): string | undefined => {
    const value = laravel?.values[setting];
    return value === undefined || value === '' ? undefined : value;
  };
  const keyOf = (setting: keyof LaravelDatabaseSettings['keys']) => (laravel?.urlKey ? `${laravel.urlKey} or ${SETTING_KEY[setting]}` : SETTING_KEY[setting]);
  const envHint = (setting: keyof LaravelDatabaseSettings['keys']) => (envFilePath ? `, or ${keyOf(setting)} in ${envFilePath}` : '');

  const database = config.database ?? fromEnv('database');
  if (!database) {
    throw new ConfigError(`${field('database')} is missing: restorable does not know which database to dump`, {
      where,
      remedy: `set ${field('database')}${envHint('database')}`,
    });
  }
  const user = config.user ?? fromEnv('username');
  if (!user) {
    throw new ConfigError(`${field('user')} is missing: restorable does not know whom to connect as`, {
      where,
      remedy: `set ${field('user')}${envHint('username')}`,
    });
  }

  let port = config.port ?? DEFAULT_PORT;
  const envPort = fromEnv('port');
  if (config.port === undefined && envPort !== undefined) {
    port = Number(envPort);
    if (!/^\d+$/.test(envPort) || port < 1 || port > 65535) {
      const portKey = laravel?.keys.port ?? 'DB_PORT';
      throw new ConfigError(`${field('env_file')}: ${portKey}${portKey === 'DB_PORT' ? `=${envPort}` : ` (port ${envPort})`} in ${envFilePath} is not a port number`, {
        where: { ...where, path: envFilePath },
        remedy: `fix ${portKey} in ${envFilePath}, or set ${field('port')}`,
      });
    }
  }

  let socket: string | undefined;
  if (config.socket !== undefined) socket = resolve(configDir, config.socket);
  else if (fromEnv('socket') !== undefined) socket = resolve(dirname(envFilePath!), fromEnv('socket')!);
  let host = config.host ?? fromEnv('host') ?? DEFAULT_HOST;
  if (!socket && host === 'localhost') {
    // MySQL clients and PHP read `localhost` as "the local socket", and the
    // server may grant a different account to socket and TCP connections
    // (user@localhost vs user@127.0.0.1): connect the way the application does.
    const candidates = options.socketCandidates ?? DEFAULT_SOCKET_PATHS;
    const found = candidates.find((candidate) => existsSync(candidate));
    if (found) {
      socket = found;
      notes.push(`host localhost: using the socket ${found}, as the MySQL client and PHP do`);
    } else {
      notes.push(`host localhost: none of ${candidates.join(', ')} exists, so connecting over TCP`);
    }
  }
  if (socket && !isAbsolute(socket)) socket = resolve(socket);

  const password = readPassword(sourceName, config, configDir, environment, laravel?.values.password, field);
  const passwordSource =
    config.password_file !== undefined
      ? `${field('password_file')} (${resolve(configDir, config.password_file)})`
      : config.password_env !== undefined
        ? `${field('password_env')} (the variable ${config.password_env})`
        : password
          ? `${laravel?.keys.password ?? 'DB_PASSWORD'} in ${envFilePath}`
          : undefined;
  return {
    passwordSource,
    host,
    port,
    socket,
    database,
    user,
    password,
    passwordEnvName: config.password_env,
    notes,
  };
}

function readPassword(
  sourceName: string,
  config: MysqlSourceConfig,
  configDir: string,
  environment: NodeJS.ProcessEnv,
  envPassword: string | undefined,
  field: (key: string) => string,
): SecretValue | undefined {
  const where = { source: sourceName };
  if (config.password_file !== undefined && config.password_env !== undefined) {
    throw new ConfigError(`${field('password_file')} and ${field('password_env')} are both set`, {
      where,
      remedy: 'keep one of them, so it is clear which password is used',
    });
  }
  if (config.password_file !== undefined) {
    const path = resolve(configDir, config.password_file);
    const firstLine = readConfigFile(path, field('password_file'), sourceName).split(/\r?\n/, 1)[0] ?? '';
    return new SecretValue(firstLine);
  }
  if (config.password_env !== undefined) {
    const value = environment[config.password_env];
    if (value === undefined) {
      throw new ConfigError(
        `${field('password_env')} names the environment variable ${config.password_env}, which is not set for restorable`,
        { where, remedy: `export ${config.password_env} in the environment restorable runs in (systemd unit, cron line), or use ${field('password_file')}` },
      );
    }
    return new SecretValue(value);
  }
  // DB_PASSWORD (or the URL's password) as the app's config receives it; null and '' mean none.
  if (envPassword !== undefined && envPassword !== '') return new SecretValue(envPassword);
  return undefined;
}

function readConfigFile(path: string, fieldName: string, sourceName: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by restorable' : `cannot be read (${code ?? String(error)})`;
    throw new ConfigError(`${fieldName}: ${path} ${why}`, {
      where: { source: sourceName, path },
      remedy: `fix ${fieldName}, or make ${path} readable by the user restorable runs as`,
      cause: error,
    });
  }
}

/**
 * Another server or account for a source's database (`drill.mysql`,
 * `restore.mysql`, `restore db --defaults-file`). Keys left out keep the
 * source's values; a `password` already read (from an option file) wins over
 * `password_file`/`password_env`.
 */
export interface MysqlAccountOverride {
  host?: string;
  port?: number;
  socket?: string;
  user?: string;
  password_file?: string;
  password_env?: string;
  password?: SecretValue;
}

/**
 * The source's connection as `override` changes it. `field` names the config
 * section for errors (`restore.mysql`). Another user without a password of
 * its own connects without one: the source's password belongs to the source's user.
 */
export function withAccountOverride(
  connection: MysqlConnection,
  override: MysqlAccountOverride | undefined,
  configDir: string,
  field: string,
  environment: NodeJS.ProcessEnv = process.env,
): MysqlConnection {
  if (!override) return connection;
  let password: SecretValue | undefined = override.password;
  if (!password && override.password_file !== undefined) {
    const path = resolve(configDir, override.password_file);
    password = new SecretValue(readConfigFile(path, `${field}.password_file`, field).split(/\r?\n/, 1)[0] ?? '');
  } else if (!password && override.password_env !== undefined) {
    const value = environment[override.password_env];
    if (value === undefined) {
      throw new ConfigError(`${field}.password_env names the environment variable ${override.password_env}, which is not set for restorable`, {
        remedy: `export ${override.password_env} in the environment restorable runs in, or use ${field}.password_file`,
      });
    }
    password = new SecretValue(value);
  }
  const otherUser = override.user !== undefined && override.user !== connection.user;
  const movedServer = override.host !== undefined || override.socket !== undefined;
  return {
    ...connection,
    host: override.host ?? connection.host,
    port: override.port ?? connection.port,
    socket: override.socket !== undefined ? resolve(configDir, override.socket) : movedServer ? undefined : connection.socket,
    user: override.user ?? connection.user,
    password: password ?? (otherUser ? undefined : connection.password),
    passwordEnvName: override.password_env ?? connection.passwordEnvName,
    passwordSource: override.password
      ? `${field} (an option file)`
      : override.password_file !== undefined
        ? `${field}.password_file`
        : override.password_env !== undefined
          ? `${field}.password_env`
          : otherUser
            ? undefined
            : connection.passwordSource,
    notes: [...connection.notes],
  };
}

/** The account and server a drill's scratch databases are made with: `drill.mysql` over the source's own. */
export function drillConnection(source: MysqlConnection, loaded: AccountSettings): MysqlConnection {
  return withAccountOverride(source, loaded.config.drill.mysql, loaded.directory, 'drill.mysql');
}

/** The part of the loaded config a drill's account comes from (relative paths against `directory`). */
interface AccountSettings {
  config: { drill: { mysql?: MysqlAccountOverride } };
  directory: string;
}
