// Owns the config sections of the built-in source kinds (mysql, postgres,
// sqlite, files): their fields, defaults and descriptions, which the reference
// docs are generated from. A kind registered at run time brings its own section.

import { z } from 'zod';
import { duration, port, withMilliseconds } from './schema-fields.ts';

export const mysqlSource = z
  .strictObject({
    type: z.literal('mysql').describe('A MySQL or MariaDB database, dumped with mariadb-dump or mysqldump.'),
    env_file: z
      .string()
      .optional()
      .describe('A Laravel .env to read DB_HOST, DB_PORT, DB_DATABASE, DB_USERNAME, DB_PASSWORD and DB_SOCKET from. Explicit keys below win.'),
    host: z.string().optional().describe('Server host (default 127.0.0.1 unless a socket is given).'),
    port: port.optional().describe('Server port (default 3306).'),
    socket: z.string().optional().describe('Unix socket path; used instead of host/port when set.'),
    database: z.string().min(1).optional().describe('The one database this source dumps.'),
    user: z.string().min(1).optional().describe('The user to dump as.'),
    password_file: z.string().optional().describe('A file holding the password (its first line).'),
    password_env: z.string().optional().describe('An environment variable of restorable holding the password.'),
    dump_tool: z.string().optional().describe('Path of mariadb-dump/mysqldump (default: whichever is on PATH).'),
    timeout: duration('6h').default('6h').describe('Deadline for the whole dump.'),
    stall_timeout: duration('10m').default('10m').describe('Stop the dump when it produced no output for this long.'),
  })
  .describe('mysql source')
  .transform(withMilliseconds('timeout', 'stall_timeout'));

export const POSTGRES_SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

export const postgresSource = z
  .strictObject({
    type: z.literal('postgres').describe('A PostgreSQL database, dumped with pg_dump (plain SQL, in one snapshot).'),
    env_file: z.string().optional().describe('A Laravel .env (DB_CONNECTION=pgsql) to read DB_HOST, DB_PORT, DB_DATABASE, DB_USERNAME, DB_PASSWORD and DB_SSLMODE from. Explicit keys below win.'),
    host: z.string().optional().describe('Server host (default 127.0.0.1), or a socket directory (a path starting with /, as DB_HOST=/var/run/postgresql).'),
    port: port.optional().describe('Server port (default 5432); with a socket directory, the number in the socket\'s name.'),
    socket: z.string().optional().describe('Unix socket directory (/var/run/postgresql); used instead of host when set.'),
    database: z.string().min(1).optional().describe('The one database this source dumps.'),
    user: z.string().min(1).optional().describe('The role to dump as.'),
    password_file: z.string().optional().describe('A file holding the password (its first line).'),
    sslmode: z.enum(POSTGRES_SSL_MODES).optional().describe('libpq sslmode (default: DB_SSLMODE, else prefer, the default of libpq and Laravel).'),
    dump_tool: z.string().optional().describe('Path of pg_dump (default: the newest pg_dump found that is not older than the server).'),
    timeout: duration('6h').default('6h').describe('Deadline for the whole dump.'),
    stall_timeout: duration('10m').default('10m').describe('Stop the dump when it produced no output for this long.'),
  })
  .describe('postgres source')
  .transform(withMilliseconds('timeout', 'stall_timeout'));

export const sqliteSource = z
  .strictObject({
    type: z.literal('sqlite').describe('An SQLite database file, copied online (consistent while the app writes).'),
    path: z.string().optional().describe('The database file. Or give env_file to read DB_DATABASE.'),
    env_file: z.string().optional().describe('A Laravel .env whose DB_DATABASE names the SQLite file.'),
    busy_timeout: duration('30s').default('30s').describe('How long to wait for a writer to let go of the database.'),
  })
  .describe('sqlite source')
  .transform(withMilliseconds('busy_timeout'));

export const filesSource = z
  .strictObject({
    type: z.literal('files').describe('Files and directories, archived as tar.'),
    paths: z.array(z.string().min(1)).min(1).describe('Absolute paths (files or directories) to archive.'),
    exclude: z
      .array(z.string().min(1))
      .default([])
      .describe('Glob patterns to leave out, matched against absolute paths ("**/cache/**", "*.log").'),
    fail_on_unreadable: z
      .boolean()
      .default(false)
      .describe('Fail the run (exit 2) instead of warning (exit 1) when a file cannot be read.'),
  })
  .describe('files source');
