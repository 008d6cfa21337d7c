// Owns which database a Laravel app connects to, from its `.env` values: the
// DB_* keys as its config/database.php reads them through `env()`, with
// `DB_URL` (Laravel 11+) or `DATABASE_URL` (Laravel 6 to 10) merged over
// them the way Laravel's ConfigurationUrlParser does (PHP parse_url,
// rawurldecode, JSON native types, query options). A leftover DB_DATABASE
// next to a DB_URL must not send the backup to the wrong database.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { laravelAppDir, laravelEnv, laravelEnvString, type EnvValues } from './laravel-env.ts';

/** The URL key the app's config/database.php reads: DB_URL since Laravel 11, DATABASE_URL in 6 to 10. */
export type DatabaseUrlKey = 'DB_URL' | 'DATABASE_URL';

/**
 * Which URL key the application reads: its own config/database.php says so
 * (`env('DATABASE_URL')` up to Laravel 10, `env('DB_URL')` since 11); an app
 * without that file uses the framework's copy, which reads DB_URL; a custom
 * one that reads neither uses no URL (undefined). Without an app directory to
 * look at, or when it reads both, whichever the .env sets (DB_URL first).
 */
export function databaseUrlKey(values: EnvValues, appDir: string | undefined): DatabaseUrlKey | undefined {
  if (appDir !== undefined) {
    const configPath = join(appDir, 'config', 'database.php');
    if (!existsSync(configPath)) return 'DB_URL';
    try {
      const source = readFileSync(configPath, 'utf8');
      const readsDbUrl = /env\(\s*['"]DB_URL['"]/.test(source);
      const readsDatabaseUrl = /env\(\s*['"]DATABASE_URL['"]/.test(source);
      if (readsDatabaseUrl && !readsDbUrl) return 'DATABASE_URL';
      if (readsDbUrl && !readsDatabaseUrl) return 'DB_URL';
      if (!readsDbUrl && !readsDatabaseUrl) return undefined;
    } catch {
      // unreadable: fall back to what the .env sets
    }
  }
  return values.DB_URL === undefined && values.DATABASE_URL !== undefined ? 'DATABASE_URL' : 'DB_URL';
}

/** The parts of a database URL that override the DB_* keys; absent parts leave them alone. */
export interface DatabaseUrlParts {
  key: DatabaseUrlKey;
  /** Laravel's driver name after its aliases (mysql2 -> mysql, postgres -> pgsql ...). */
  driver: string | undefined;
  host?: string;
  port?: string;
  database?: string;
  username?: string;
  password?: string;
  /** From `?unix_socket=...`. */
  socket?: string;
  /** From `?sslmode=...` (pgsql). */
  sslmode?: string;
}

const DRIVER_ALIASES: Record<string, string> = {
  mssql: 'sqlsrv',
  mysql2: 'mysql',
  postgres: 'pgsql',
  postgresql: 'pgsql',
  sqlite3: 'sqlite',
  redis: 'tcp',
  rediss: 'tls',
};

/** The URL without its password, for messages. */
export function redactDatabaseUrl(url: string): string {
  const head = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.exec(url)?.[0] ?? '';
  const rest = url.slice(head.length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const at = authority.lastIndexOf('@');
  const colon = authority.indexOf(':');
  const withoutQueryPassword = (text: string) => text.replace(/([?&]password=)[^&#]*/gi, '$1***');
  if (at < 0 || colon < 0 || colon > at) return withoutQueryPassword(url);
  return withoutQueryPassword(`${head}${authority.slice(0, colon)}:***${rest.slice(at)}`);
}

/**
 * Laravel's ConfigurationUrlParser for the URL in `DB_URL`/`DATABASE_URL`:
 * undefined when that key is unset or empty (then the DB_* keys apply as
 * they are). Each part the URL has (user, password, host, port, database from
 * the path, `?unix_socket=`/`?host=`... query options) wins over its DB_* key,
 * parts it lacks leave the DB_* key in force, as array_merge does in PHP.
 */
export function laravelDatabaseUrl(values: EnvValues, appDir: string | undefined, where: { field: string; envPath: string; source: string }): DatabaseUrlParts | undefined {
  const key = databaseUrlKey(values, appDir);
  if (key === undefined) return undefined;
  const raw = laravelEnv(values, key);
  // `if (! $url) return $config;` — PHP's falsy: unset, null, '', '0', false
  if (raw === undefined || raw === null || raw === false || raw === '' || raw === '0') return undefined;
  const url = raw === true ? '1' : raw;
  const invalid = (why: string) =>
    new ConfigError(`${where.field}: ${key} in ${where.envPath} (${redactDatabaseUrl(url)}) ${why}`, {
      where: { source: where.source, path: where.envPath },
      remedy: `fix ${key} in ${where.envPath} (Laravel reads it as scheme://user:password@host:port/database, password percent-encoded), or remove it so that the DB_* keys apply`,
    });
  // parseUrl: `sqlite:///x` is read as `sqlite://null/x`.
  const parsed = phpParseUrl(url.replace(/^(sqlite3?):\/\/\//, '$1://null/'));
  if (typeof parsed === 'string') throw invalid(parsed);
  // Every part is rawurldecode()d, then made a native type (parseStringsToNativeTypes).
  const decode = (part: string | undefined): string | undefined => (part === undefined ? undefined : nativeString(rawUrlDecode(part)));
  const scheme = decode(parsed.scheme);
  const parts: DatabaseUrlParts = { key, driver: scheme === undefined ? undefined : (DRIVER_ALIASES[scheme] ?? scheme) };
  const set = (field: UrlField, value: string | undefined) => {
    if (value !== undefined) parts[field] = value;
  };
  set('host', decode(parsed.host));
  set('port', decode(parsed.port));
  set('database', parsed.path && parsed.path !== '/' ? decode(parsed.path.slice(1)) : undefined);
  set('username', decode(parsed.user));
  set('password', decode(parsed.pass));
  // getQueryOptions: parse_str (the last of a repeated name wins); these are merged last, so they win.
  if (parsed.query) {
    const options = new URLSearchParams(parsed.query);
    const queryFields: Array<[string, UrlField]> = [
      ['host', 'host'],
      ['port', 'port'],
      ['database', 'database'],
      ['username', 'username'],
      ['password', 'password'],
      ['unix_socket', 'socket'],
      ['sslmode', 'sslmode'],
    ];
    for (const [name, field] of queryFields) {
      const value = options.getAll(name).at(-1);
      if (value !== undefined) set(field, nativeString(value));
    }
  }
  return parts;
}

type UrlField = 'host' | 'port' | 'database' | 'username' | 'password' | 'socket' | 'sslmode';

interface PhpUrl {
  scheme: string;
  user?: string;
  pass?: string;
  host: string;
  port?: string;
  path?: string;
  query?: string;
}

/**
 * PHP's parse_url for `scheme://authority/path?query#fragment`: the
 * authority ends at the first `/`, `?` or `#`; user info is split off at its
 * LAST `@` and into user and password at its first `:`; the port follows the
 * last `:` of the host (or the `]` of an IPv6 host). Returns why it failed
 * where parse_url returns false.
 */
function phpParseUrl(url: string): PhpUrl | string {
  const head = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url);
  if (!head) return 'is not a URL of the form scheme://user:password@host:port/database';
  const rest = url.slice(head[0].length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const tail = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
  const result: PhpUrl = { scheme: head[1]!, host: '' };
  let hostPort = authority;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userInfo = authority.slice(0, at);
    hostPort = authority.slice(at + 1);
    const colon = userInfo.indexOf(':');
    if (colon < 0) result.user = userInfo;
    else {
      result.user = userInfo.slice(0, colon);
      result.pass = userInfo.slice(colon + 1);
    }
  }
  const portColon = hostPort.startsWith('[') ? hostPort.indexOf(':', hostPort.indexOf(']')) : hostPort.lastIndexOf(':');
  if (portColon >= 0) {
    const port = hostPort.slice(portColon + 1);
    hostPort = hostPort.slice(0, portColon);
    if (port !== '') {
      if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return `has the port "${port}", not a number from 0 to 65535`;
      result.port = port;
    }
  }
  result.host = hostPort.replace(/^\[(.*)\]$/, '$1');
  if (result.host === '') return 'has no host (write 127.0.0.1 or localhost)';
  const pathAndQuery = tail.replace(/#.*$/s, '');
  const question = pathAndQuery.indexOf('?');
  result.path = question < 0 ? pathAndQuery : pathAndQuery.slice(0, question);
  if (question >= 0) result.query = pathAndQuery.slice(question + 1);
  return result;
}

/** PHP rawurldecode: %XX sequences as bytes (a malformed one stays), `+` stays a plus. */
function rawUrlDecode(text: string): string {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  for (let index = 0; index < text.length; ) {
    const hex = text.slice(index + 1, index + 3);
    if (text[index] === '%' && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      index += 3;
    } else {
      const codePoint = text.codePointAt(index)!;
      const char = String.fromCodePoint(codePoint);
      bytes.push(...Buffer.from(char, 'utf8'));
      index += char.length;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * parseStringsToNativeTypes: a part that is valid JSON becomes that value
 * (`123` a number, `true` true, `null` null, which then no longer overrides
 * anything); here, as the string PHP would hand to PDO.
 */
function nativeString(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  if (parsed === null) return undefined;
  if (typeof parsed === 'boolean') return parsed ? '1' : '';
  if (typeof parsed === 'number') return String(parsed);
  if (typeof parsed === 'string') return parsed;
  return text;
}

// ---- config/database.php: what the app's default connection ends up with

type DatabaseSetting = 'host' | 'port' | 'database' | 'username' | 'password' | 'socket';

const SETTING_KEYS: Record<DatabaseSetting, string> = {
  host: 'DB_HOST',
  port: 'DB_PORT',
  database: 'DB_DATABASE',
  username: 'DB_USERNAME',
  password: 'DB_PASSWORD',
  socket: 'DB_SOCKET',
};

/** The connection settings a Laravel app's database config gets from its .env. */
export interface LaravelDatabaseSettings {
  /** The driver: the URL's scheme when DB_URL/DATABASE_URL has one (Laravel lets it win), else DB_CONNECTION. */
  driver: string | undefined;
  /** The key the driver came from: `DB_CONNECTION`, `DB_URL` or `DATABASE_URL`. */
  driverKey: string;
  /**
   * Each setting as config/database.php receives it through env() (and the
   * URL): absent when neither sets it (or env() gives null), so the caller's
   * default applies; `''` stays `''`.
   */
  values: Partial<Record<DatabaseSetting, string>>;
  /** The key each setting came from, for messages: `DB_URL` where the URL set it. */
  keys: Record<DatabaseSetting, string>;
  /** The URL's key when one is in force. */
  urlKey: DatabaseUrlKey | undefined;
  /** `DB_DATABASE=wrong_db`...: the DB_* keys the URL overrode (passwords not shown), for pre-flight notes. */
  overridden: string[];
  /**
   * The pgsql connection's sslmode (`'sslmode' => env('DB_SSLMODE', 'prefer')`,
   * a URL's `?sslmode=` over it): absent when neither sets it; and its key.
   */
  sslmode?: { value: string; key: string };
}

/**
 * The database settings of a Laravel app from its `.env` values: the DB_*
 * keys through Env::get, then DB_URL (Laravel 11+) or DATABASE_URL (6 to 10)
 * over them as ConfigurationUrlParser merges it. `envPath` is the .env's
 * path; its directory is the app (config/database.php says which URL key).
 */
export function laravelDatabaseSettings(values: EnvValues, envPath: string, where: { field: string; source: string }): LaravelDatabaseSettings {
  const settings: LaravelDatabaseSettings = {
    driver: laravelEnvString(values, 'DB_CONNECTION'),
    driverKey: 'DB_CONNECTION',
    values: {},
    keys: { ...SETTING_KEYS },
    urlKey: undefined,
    overridden: [],
  };
  for (const [setting, key] of Object.entries(SETTING_KEYS) as Array<[DatabaseSetting, string]>) {
    const value = laravelEnvString(values, key);
    if (value !== undefined) settings.values[setting] = value;
  }
  const sslmode = laravelEnvString(values, 'DB_SSLMODE');
  if (sslmode !== undefined && sslmode !== '') settings.sslmode = { value: sslmode, key: 'DB_SSLMODE' };
  const url = laravelDatabaseUrl(values, laravelAppDir(envPath), { field: where.field, envPath, source: where.source });
  if (!url) return settings;
  if (url.sslmode !== undefined) settings.sslmode = { value: url.sslmode, key: url.key };
  settings.urlKey = url.key;
  if (url.driver !== undefined) {
    settings.driver = url.driver;
    settings.driverKey = url.key;
  }
  for (const setting of Object.keys(SETTING_KEYS) as DatabaseSetting[]) {
    const fromUrl = url[setting];
    if (fromUrl === undefined) continue;
    const before = settings.values[setting];
    if (before !== undefined && before !== fromUrl) {
      settings.overridden.push(setting === 'password' ? `${SETTING_KEYS[setting]}` : `${SETTING_KEYS[setting]}=${before}`);
    }
    settings.values[setting] = fromUrl;
    settings.keys[setting] = url.key;
  }
  return settings;
}
