// Owns the typed registry of source kinds: for each `type` of the config, the
// driver and how its config section becomes the driver's resolved settings
// (reading a Laravel .env, making paths absolute). Adding a kind = one entry.

import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { parseDurationMs, type SourceConfig } from '../config/schema.ts';
import { readLaravelEnvFile } from '../config/laravel-env.ts';
import { laravelDatabaseSettings } from '../config/laravel-database.ts';
import type { SourceDriver } from './source.ts';
import { sqliteSource } from './sqlite.ts';
import { filesSource } from './files.ts';
import { mysqlConnectionFor } from './mysql-connection.ts';
import { mysqlSource, resolveMysqlSource } from './mysql.ts';

/** A source ready to run: its driver and the settings the driver takes. */
export interface PreparedSource {
  name: string;
  type: string;
  driver: SourceDriver<unknown>;
  settings: unknown;
}

const DRIVERS: Record<string, SourceDriver<unknown>> = {
  mysql: mysqlSource as SourceDriver<unknown>,
  sqlite: sqliteSource as SourceDriver<unknown>,
  files: filesSource as SourceDriver<unknown>,
};

/** The driver of an artifact's kind (`artifact.type`), or undefined for a kind this version does not know. */
export function driverForKind(type: string): SourceDriver<unknown> | undefined {
  return Object.hasOwn(DRIVERS, type) ? DRIVERS[type] : undefined;
}

export function prepareSource(name: string, config: SourceConfig, configDir: string): PreparedSource {
  switch (config.type) {
    case 'sqlite': {
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
            remedy: `use \`type: ${driver === 'mariadb' ? 'mysql' : driver}\` for this source`,
          });
        }
        // Laravel's default when DB_DATABASE is unset: database/database.sqlite under the app.
        databasePath = resolve(dirname(envPath), laravel.values.database || 'database/database.sqlite');
      }
      const settings = {
        databasePath: isAbsolute(databasePath!) ? databasePath! : resolve(configDir, databasePath!),
        busyTimeoutMs: parseDurationMs(config.busy_timeout),
      };
      return { name, type: config.type, driver: sqliteSource as SourceDriver<unknown>, settings };
    }
    case 'files':
      return { name, type: config.type, driver: filesSource as SourceDriver<unknown>, settings: config };
    case 'mysql':
      return { name, type: config.type, driver: mysqlSource as SourceDriver<unknown>, settings: resolveMysqlSource(name, config, configDir) };
  }
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
    if (source.type !== 'mysql') continue;
    try {
      const password = mysqlConnectionFor(name, source, loaded.directory).password?.reveal();
      if (password) secrets.push(password);
    } catch {
      // an unreadable password file fails the backup itself, with its own message
    }
  }
  return secrets;
}
