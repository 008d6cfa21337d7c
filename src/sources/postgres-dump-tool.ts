// Owns the pg_dump child: which pg_dump to run, its version, and its
// arguments. pg_dump refuses (or worse, misreads the catalogs of) a server of
// a newer major version than its own, so the tool is chosen against the
// server: `dump_tool` when configured, else pg_dump on PATH when it is new
// enough, else the newest installed one that is (Debian keeps each major in
// /usr/lib/postgresql/<major>/bin, PGDG RPMs in /usr/pgsql-<major>/bin). None
// new enough is a clear refusal naming what was found and what to install.

import { constants as fsConstants } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import { runToText } from '../process/spawn-stream.ts';

const VERSION_TIMEOUT_MS = 10_000;
/** Where distributions install each major version's client tools side by side. */
const VERSIONED_TOOL_DIRS: Array<{ parent: string; binOf: (entry: string) => string | undefined }> = [
  { parent: '/usr/lib/postgresql', binOf: (entry) => (/^\d+(\.\d+)?$/.test(entry) ? join('/usr/lib/postgresql', entry, 'bin') : undefined) },
  { parent: '/usr', binOf: (entry) => (/^pgsql-\d+(\.\d+)?$/.test(entry) ? join('/usr', entry, 'bin') : undefined) },
];

export interface PgDumpTool {
  /** Absolute path of the program. */
  path: string;
  /** First line of `--version`: `pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)`. */
  version: string;
  /** `15.20` -> 150020, `9.6.24` -> 90624: comparable with server_version_num. */
  versionNum: number;
}

/** The major version of a server_version_num: 150020 -> 150000, 90624 -> 90600. */
export function majorOf(versionNum: number): number {
  return versionNum >= 100000 ? Math.floor(versionNum / 10000) * 10000 : Math.floor(versionNum / 100) * 100;
}

/** `15`, `9.6`: a major version as people write it. */
export function majorText(versionNum: number): string {
  return versionNum >= 100000 ? String(Math.floor(versionNum / 10000)) : `${Math.floor(versionNum / 10000)}.${Math.floor(versionNum / 100) % 100}`;
}

/** `pg_dump (PostgreSQL) 15.20 (Debian...)` -> 150020; 0 when unreadable. */
export function parseToolVersion(versionLine: string): number {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(versionLine);
  if (!match) return 0;
  const [major, second, third] = [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)];
  return major >= 10 ? major * 10000 + second : major * 10000 + second * 100 + third;
}

/**
 * The pg_dump to run against a server of `serverVersionNum`: see the module
 * header. Throws DUMP_TOOL_MISSING (none found, or the configured one does not
 * run) or DUMP_TOOL_TOO_OLD.
 */
export async function findPgDump(configured: string | undefined, serverVersionNum: number, sourceName: string, environment: NodeJS.ProcessEnv = process.env): Promise<PgDumpTool> {
  const where: ErrorWhere = { source: sourceName };
  const field = `sources.${sourceName}.dump_tool`;
  const searchPath = environment.PATH ?? '';
  const serverMajor = majorOf(serverVersionNum);
  const tooOld = (found: PgDumpTool[]) =>
    new RestorableError(
      `no pg_dump of PostgreSQL ${majorText(serverVersionNum)} or newer was found for a ${majorText(serverVersionNum)} server (found: ${found.map((tool) => `${tool.path} ${majorText(tool.versionNum)}`).join(', ') || 'none'}): an older pg_dump cannot dump a newer server`,
      {
        code: 'DUMP_TOOL_TOO_OLD',
        where,
        remedy: `install the PostgreSQL ${majorText(serverVersionNum)} client (apt-get install postgresql-client-${majorText(serverVersionNum)} from apt.postgresql.org), then set ${field}: /usr/lib/postgresql/${majorText(serverVersionNum)}/bin/pg_dump if it is not picked by itself`,
      },
    );
  if (configured !== undefined) {
    const path = configured.includes('/') ? (isAbsolute(configured) ? configured : join(process.cwd(), configured)) : await firstOnPath(configured, searchPath);
    if (!path || !(await canExecute(path))) {
      throw new RestorableError(`the dump tool ${configured} (${field}) was not found or is not executable`, {
        code: 'DUMP_TOOL_MISSING',
        where,
        remedy: `install the PostgreSQL client (apt-get install postgresql-client) or fix ${field}; PATH is ${searchPath || '(empty)'}`,
      });
    }
    const tool = await describeTool(path, where, field);
    if (majorOf(tool.versionNum) < serverMajor) throw tooOld([tool]);
    return tool;
  }
  const onPath = await firstOnPath('pg_dump', searchPath);
  const candidates = [...(onPath ? [onPath] : []), ...(await versionedTools())];
  if (candidates.length === 0) {
    throw new RestorableError(`pg_dump was not found on PATH (${searchPath || 'empty'}) nor in /usr/lib/postgresql/*/bin`, {
      code: 'DUMP_TOOL_MISSING',
      where,
      remedy: `install the PostgreSQL client tools (apt-get install postgresql-client), or set ${field} to the full path; cron and systemd often run with a shorter PATH than your shell`,
    });
  }
  const found: PgDumpTool[] = [];
  for (const path of new Set(candidates)) found.push(await describeTool(path, where, field));
  if (onPath && majorOf(found[0]!.versionNum) >= serverMajor) return found[0]!;
  const newest = [...found].sort((a, b) => b.versionNum - a.versionNum)[0]!;
  if (majorOf(newest.versionNum) >= serverMajor) return newest;
  throw tooOld(found);
}

async function describeTool(path: string, where: ErrorWhere, field: string): Promise<PgDumpTool> {
  let text: string;
  try {
    text = await runToText(path, ['--version'], { name: path, deadlineMs: VERSION_TIMEOUT_MS });
  } catch (error) {
    throw new RestorableError(`the dump tool ${path} does not run: ${(error as Error).message}`, {
      code: 'DUMP_TOOL_MISSING',
      where,
      remedy: `reinstall the PostgreSQL client tools or point ${field} at a working pg_dump`,
      details: (error as RestorableError).details,
      cause: error,
    });
  }
  const version = text.trim().split('\n')[0] ?? '';
  const versionNum = parseToolVersion(version);
  if (versionNum === 0) {
    throw new RestorableError(`${path} is not pg_dump: its --version says "${version}"`, { code: 'DUMP_TOOL_MISSING', where, remedy: `point ${field} at PostgreSQL's pg_dump` });
  }
  return { path, version, versionNum };
}

async function firstOnPath(name: string, searchPath: string): Promise<string | undefined> {
  for (const directory of searchPath.split(delimiter).filter(Boolean)) {
    if (await canExecute(join(directory, name))) return join(directory, name);
  }
  return undefined;
}

async function versionedTools(): Promise<string[]> {
  const paths: string[] = [];
  for (const { parent, binOf } of VERSIONED_TOOL_DIRS) {
    const entries = await readdir(parent).catch(() => [] as string[]);
    for (const entry of entries) {
      const bin = binOf(entry);
      if (bin && (await canExecute(join(bin, 'pg_dump')))) paths.push(join(bin, 'pg_dump'));
    }
  }
  return paths;
}

async function canExecute(path: string): Promise<boolean> {
  return access(path, fsConstants.X_OK).then(
    () => true,
    () => false,
  );
}

/**
 * pg_dump's arguments; where to connect comes from the environment
 * (postgres-settings.ts). Plain SQL without CREATE DATABASE or \connect (no
 * --create), so it restores into any database with stock psql. Without
 * owners, grants, tablespaces, security labels and subscriptions: each of
 * them names a role, a tablespace, a provider or a publisher of THIS server,
 * and under `psql -v ON_ERROR_STOP=1` one missing role stops the whole
 * restore elsewhere. The objects come back owned by the restoring role
 * (--no-owner semantics); the roles that owned objects or held grants are
 * recorded in the details (PostgresDetails.roles), so a restore can say what
 * it remapped. `--snapshot` makes the dump read exactly what our own session
 * counted and checksummed.
 */
export function pgDumpArguments(snapshot: string): string[] {
  return ['--format=plain', '--encoding=UTF8', '--no-owner', '--no-privileges', '--no-tablespaces', '--no-security-labels', '--no-subscriptions', `--snapshot=${snapshot}`];
}
