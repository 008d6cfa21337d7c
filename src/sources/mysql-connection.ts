// Owns turning a configured mysql source into one concrete connection: where
// the server is (socket or host:port), which database, as whom, and the
// password. Explicit keys in the config win over the Laravel `.env` named by
// `env_file`; the password comes from `password_file`, `password_env` or the
// `.env`'s DB_PASSWORD, in that order. The password travels wrapped in a
// SecretValue so that logging a resolved source can never print it.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { inspect } from 'node:util';
import type { MysqlSourceConfig } from '../config/schema.ts';
import { parseLaravelEnv, type EnvValues } from '../config/laravel-env.ts';
import { ConfigError } from '../core/errors.ts';

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 3306;

/**
 * Where MySQL clients and PHP look when told `localhost` without a socket
 * (Debian/Ubuntu, then RHEL, then the upstream default).
 */
export const DEFAULT_SOCKET_PATHS = ['/run/mysqld/mysqld.sock', '/var/run/mysqld/mysqld.sock', '/var/lib/mysql/mysql.sock', '/tmp/mysql.sock'];

/** A secret that prints as `***` in logs, JSON and util.inspect; `reveal()` is the only way in. */
export class SecretValue {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '***';
  }

  toJSON(): string {
    return '***';
  }

  [inspect.custom](): string {
    return 'SecretValue(***)';
  }
}

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
  /** How values were found, for pre-flight output ("DB_HOST=localhost: using the socket ..."). */
  notes: string[];
}

/**
 * Replaces the secret, and the given encoded forms of it (as an option file
 * writes it...), with `***` in a text meant for humans; also any
 * `password=...` line a tool might echo.
 */
export function scrubSecret(text: string, secret: SecretValue | undefined, ...encodings: Array<(value: string) => string>): string {
  let scrubbed = text.replace(/^(\s*password\s*=).*$/gim, '$1***');
  const value = secret?.reveal();
  if (!value || value.length < 3) return scrubbed;
  for (const form of [value, ...encodings.map((encode) => encode(value))]) scrubbed = scrubbed.split(form).join('***');
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
  if (config.env_file !== undefined) {
    envFilePath = resolve(configDir, config.env_file);
    envValues = parseLaravelEnv(readConfigFile(envFilePath, field('env_file'), sourceName));
    const driver = envValues.DB_CONNECTION;
    if (driver && !['mysql', 'mariadb'].includes(driver.toLowerCase())) {
      throw new ConfigError(`${field('env_file')}: ${envFilePath} says DB_CONNECTION=${driver}, not mysql or mariadb`, {
        where: { ...where, path: envFilePath },
        remedy: `use a source of the matching type for this application, or point ${field('env_file')} at the right .env`,
      });
    }
  }
  const fromEnv = (key: string): string | undefined => {
    const value = envValues[key];
    return value === undefined || value === '' ? undefined : value;
  };
  const envHint = (key: string) => (envFilePath ? `, or ${key} in ${envFilePath}` : '');

  const database = config.database ?? fromEnv('DB_DATABASE');
  if (!database) {
    throw new ConfigError(`${field('database')} is missing: restorable does not know which database to dump`, {
      where,
      remedy: `set ${field('database')}${envHint('DB_DATABASE')}`,
    });
  }
  const user = config.user ?? fromEnv('DB_USERNAME');
  if (!user) {
    throw new ConfigError(`${field('user')} is missing: restorable does not know whom to connect as`, {
      where,
      remedy: `set ${field('user')}${envHint('DB_USERNAME')}`,
    });
  }

  let port = config.port ?? DEFAULT_PORT;
  const envPort = fromEnv('DB_PORT');
  if (config.port === undefined && envPort !== undefined) {
    port = Number(envPort);
    if (!/^\d+$/.test(envPort) || port < 1 || port > 65535) {
      throw new ConfigError(`${field('env_file')}: DB_PORT=${envPort} in ${envFilePath} is not a port number`, {
        where: { ...where, path: envFilePath },
        remedy: `fix DB_PORT in ${envFilePath}, or set ${field('port')}`,
      });
    }
  }

  let socket: string | undefined;
  if (config.socket !== undefined) socket = resolve(configDir, config.socket);
  else if (fromEnv('DB_SOCKET') !== undefined) socket = resolve(dirname(envFilePath!), fromEnv('DB_SOCKET')!);
  let host = config.host ?? fromEnv('DB_HOST') ?? DEFAULT_HOST;
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

  const password = readPassword(sourceName, config, configDir, environment, envValues, field);
  return {
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
  envValues: EnvValues,
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
  if (envValues.DB_PASSWORD !== undefined && envValues.DB_PASSWORD !== '') return new SecretValue(envValues.DB_PASSWORD);
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
