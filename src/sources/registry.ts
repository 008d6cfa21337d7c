// Owns the registry of source kinds: for each `type` a config may name, the
// driver (both directions) and how its config section becomes the driver's
// settings (reading a Laravel .env, making paths absolute). The built-in kinds
// are registered below; a new kind is one registerSourceKind call, which also
// makes the config accept its section, so a test can add a kind of its own.
// Invariant: a type is registered once; jobs find drivers only through here.

import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { registerSourceSection, type SourceConfig, type SourceSectionSchema, type SqliteSourceConfig } from '../config/schema.ts';
import { readLaravelEnvFile } from '../config/laravel-env.ts';
import { laravelDatabaseSettings } from '../config/laravel-database.ts';
import type { SourceDriver } from './source.ts';
import { sqliteSource } from './sqlite.ts';
import { filesSource } from './files.ts';
import { mysqlConnectionFor } from './mysql-connection.ts';
import { mysqlSource, resolveMysqlSource } from './mysql.ts';
import { postgresSource, resolvePostgresSource } from './postgres.ts';
import { postgresConnectionFor } from './postgres-settings.ts';

/** A source ready to run: its driver and the settings the driver takes. */
export interface PreparedSource {
  name: string;
  type: string;
  driver: SourceDriver<unknown>;
  settings: unknown;
}

/** One kind of source: what a config names it, its driver, and its section turned into the driver's settings. */
export interface SourceKind<Section, Settings> {
  readonly type: string;
  readonly driver: SourceDriver<Settings>;
  /**
   * The section of the config `prepare` is given, already validated and with
   * its defaults (and `<duration>_ms` fields) applied.
   */
  prepare(name: string, section: Section, configDir: string): Settings;
}

/** A kind added at run time also brings its config section's schema (the built-in ones live in config/schema.ts). */
export interface AddedSourceKind<Section, Settings> extends SourceKind<Section, Settings> {
  readonly section: SourceSectionSchema;
}

const KINDS = new Map<string, SourceKind<unknown, unknown>>();

function addKind<Section, Settings>(kind: SourceKind<Section, Settings>): void {
  KINDS.set(kind.type, kind as unknown as SourceKind<unknown, unknown>);
}

/** Registers a kind: configs may name it as `type:` and jobs find its driver by an artifact's kind. */
export function registerSourceKind<Section, Settings>(kind: AddedSourceKind<Section, Settings>): void {
  if (kind.driver.type !== kind.type) throw new Error(`source kind "${kind.type}" has a driver of type "${kind.driver.type}"`);
  registerSourceSection(kind.type, kind.section); // throws for a type registered already
  addKind(kind);
}

addKind({ type: 'mysql', driver: mysqlSource, prepare: resolveMysqlSource });
addKind({ type: 'postgres', driver: postgresSource, prepare: resolvePostgresSource });
addKind({ type: 'sqlite', driver: sqliteSource, prepare: prepareSqliteSource });
addKind({ type: 'files', driver: filesSource, prepare: (_name, section) => section });

/** The driver of an artifact's kind (`artifact.type`), or undefined for a kind this version does not know. */
export function driverForKind(type: string): SourceDriver<unknown> | undefined {
  return KINDS.get(type)?.driver;
}

export function prepareSource(name: string, config: SourceConfig, configDir: string): PreparedSource {
  const kind = KINDS.get(config.type);
  // Unreachable through a validated config: its schema accepts registered types only.
  if (!kind) throw new ConfigError(`sources.${name}: unknown source type "${config.type}"`, { remedy: `use one of: ${[...KINDS.keys()].join(', ')}` });
  return { name, type: kind.type, driver: kind.driver, settings: kind.prepare(name, config, configDir) };
}

function prepareSqliteSource(name: string, config: SqliteSourceConfig, configDir: string) {
  let databasePath = config.path;
  if (!databasePath && config.env_file) {
    const envPath = resolve(configDir, config.env_file);
    // DB_CONNECTION and DB_DATABASE as the app's config reads them, DB_URL over them.
    const laravel = laravelDatabaseSettings(readEnvFile(envPath, name), envPath, { field: `sources.${name}.env_file`, source: name });
    const driver = laravel.driver;
    if (driver && driver !== 'sqlite') {
      const said = laravel.driverKey === 'DB_CONNECTION' ? `${envPath} says DB_CONNECTION=${driver}` : `${laravel.driverKey} in ${envPath} says ${driver}`;
      throw new ConfigError(`sources.${name}: ${said}, not sqlite`, {
        where: { source: name, path: envPath },
        remedy: `use \`type: ${driver === 'mariadb' ? 'mysql' : driver === 'pgsql' ? 'postgres' : driver}\` for this source`,
      });
    }
    // Laravel's default when DB_DATABASE is unset: database/database.sqlite under the app.
    databasePath = resolve(dirname(envPath), laravel.values.database || 'database/database.sqlite');
  }
  return {
    databasePath: isAbsolute(databasePath!) ? databasePath! : resolve(configDir, databasePath!),
    busyTimeoutMs: config.busy_timeout_ms,
  };
}

export function readEnvFile(envPath: string, sourceName: string): Record<string, string> {
  return readLaravelEnvFile(envPath, `sources.${sourceName}.env_file`, sourceName);
}

/**
 * The passwords the configured sources use, so that notifications can keep
 * them out of every message even where an error quotes one verbatim.
 */
export function secretsOfSources(loaded: { config: { sources: Record<string, SourceConfig> }; directory: string }): string[] {
  const secrets: string[] = [];
  for (const [name, source] of Object.entries(loaded.config.sources)) {
    if (source.type !== 'mysql' && source.type !== 'postgres') continue;
    try {
      const connection = source.type === 'mysql' ? mysqlConnectionFor(name, source, loaded.directory) : postgresConnectionFor(name, source, loaded.directory);
      const password = connection.password?.reveal();
      if (password) secrets.push(password);
    } catch {
      // an unreadable password file fails the backup itself, with its own message
    }
  }
  return secrets;
}
