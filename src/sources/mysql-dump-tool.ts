// Owns the dump child: finding mariadb-dump/mysqldump, its version, its
// arguments, its environment, and handing it the credentials without putting
// them on argv, in its environment or on disk.
//
// Credentials: the child gets `--defaults-file=<fifo>` as its first argument,
// where <fifo> is a named pipe (mode 0600) in the run's private scratch
// directory. We write the [client] section into the pipe as soon as the child
// opens it, then remove the pipe: the password only ever sits in a kernel pipe
// buffer. Why not `--defaults-extra-file=/dev/fd/3`: Node's extra stdio 'pipe'
// is a socketpair, and opening /dev/fd/N of a socket fails (ENXIO: "Could not
// open required defaults file"). Why `--defaults-file` and not
// `--defaults-extra-file`: clients read ~/.my.cnf AFTER the extra file, so a
// [client] password there silently replaced ours (checked with MariaDB 10.11);
// `--defaults-file` reads our file only, so the dump connects exactly as the
// in-process pre-flight did.

import { spawn } from 'node:child_process';
import { constants as fsConstants, openSync, closeSync } from 'node:fs';
import { access, open, unlink } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import { runToText, type SpawnedStream } from '../process/spawn-stream.ts';
import type { MysqlConnection } from './mysql-connection.ts';

const DUMP_TOOL_NAMES = ['mariadb-dump', 'mysqldump'];
const VERSION_TIMEOUT_MS = 10_000;

export interface DumpTool {
  /** Absolute path of the program. */
  path: string;
  /** `mariadb-dump`, `mysqldump`. */
  name: string;
  /** First line of `--version`, e.g. `mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, ...`. */
  version: string;
  /** Whose dump tool it is: MariaDB's and MySQL's take slightly different options. */
  flavor: 'mariadb' | 'mysql';
}

/** `dump_tool` (an absolute path or a name on PATH), else the first of mariadb-dump, mysqldump on PATH. */
export async function findDumpTool(configured: string | undefined, sourceName: string, environment: NodeJS.ProcessEnv = process.env): Promise<DumpTool> {
  const where: ErrorWhere = { source: sourceName };
  const searchPath = environment.PATH ?? '';
  let path: string | undefined;
  if (configured !== undefined) {
    path = configured.includes('/') ? (isAbsolute(configured) ? configured : join(process.cwd(), configured)) : await findOnPath(configured, searchPath);
    if (!path || !(await isExecutable(path))) {
      throw new RestorableError(`the dump tool ${configured} (sources.${sourceName}.dump_tool) was not found or is not executable`, {
        code: 'DUMP_TOOL_MISSING',
        where,
        remedy: `install it (apt-get install mariadb-client) or fix sources.${sourceName}.dump_tool; PATH is ${searchPath || '(empty)'}`,
      });
    }
  } else {
    for (const name of DUMP_TOOL_NAMES) {
      path = await findOnPath(name, searchPath);
      if (path) break;
    }
    if (!path) {
      throw new RestorableError(`neither mariadb-dump nor mysqldump was found on PATH (${searchPath || 'empty'})`, {
        code: 'DUMP_TOOL_MISSING',
        where,
        remedy: `install the client tools (apt-get install mariadb-client), or set sources.${sourceName}.dump_tool to the full path; cron and systemd often run with a shorter PATH than your shell`,
      });
    }
  }
  let versionText: string;
  try {
    versionText = await runToText(path, ['--version'], { name: path, deadlineMs: VERSION_TIMEOUT_MS, env: environment });
  } catch (error) {
    throw new RestorableError(`the dump tool ${path} does not run: ${(error as Error).message}`, {
      code: 'DUMP_TOOL_MISSING',
      where,
      remedy: `reinstall the client tools or point sources.${sourceName}.dump_tool at a working mariadb-dump/mysqldump`,
      details: (error as RestorableError).details,
      cause: error,
    });
  }
  const version = versionText.trim().split('\n')[0] ?? '';
  const name = path.split('/').pop()!;
  return { path, name, version, flavor: /mariadb/i.test(version) ? 'mariadb' : 'mysql' };
}

async function findOnPath(name: string, searchPath: string): Promise<string | undefined> {
  for (const directory of searchPath.split(delimiter)) {
    if (!directory) continue;
    const candidate = join(directory, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Arguments after `--defaults-file`: a consistent InnoDB snapshot, rows
 * streamed, every object kind, binary-safe, full Unicode, and the database
 * name alone (not `--databases`) so the dump has no CREATE DATABASE/USE and
 * restores under any name.
 */
export function dumpArguments(tool: DumpTool, defaultsFile: string, database: string, options: { dumpHistory?: boolean } = {}): string[] {
  return [
    `--defaults-file=${defaultsFile}`,
    '--single-transaction',
    '--quick',
    '--routines',
    '--triggers',
    '--events',
    '--hex-blob',
    '--default-character-set=utf8mb4',
    // No tablespace DDL: not needed for one database, and MySQL 8 wants PROCESS for it.
    '--no-tablespaces',
    // The largest row the tool accepts; the default (16-24 MB) fails on big BLOBs.
    '--max-allowed-packet=1G',
    ...(tool.flavor === 'mysql'
      ? [
          // GTID_PURGED lines make a dump fail on any server but the original.
          '--set-gtid-purged=OFF',
        ]
      : []),
    // System-versioned tables with their history (only their INSERTs change:
    // explicit row_start/row_end and system_versioning_insert_history=1). Off
    // for a database with a transaction-precise versioned table, which the
    // tool refuses to dump with history (`Cannot use --dump-history`).
    ...((options.dumpHistory ?? true) && dumpsHistory(tool) ? ['--dump-history'] : []),
    '--',
    database,
  ];
}

/** mariadb-dump from MariaDB 10.11 on dumps the history of system-versioned tables (`--dump-history`). */
export function dumpsHistory(tool: DumpTool): boolean {
  const match = /Distrib (\d+)\.(\d+)/.exec(tool.version);
  if (tool.flavor !== 'mariadb' || !match) return false;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > 10 || (major === 10 && minor >= 11);
}

/** restorable's environment minus every place a MySQL password could hide. */
export function dumpChildEnvironment(environment: NodeJS.ProcessEnv, passwordEnvName: string | undefined): NodeJS.ProcessEnv {
  const child = { ...environment };
  delete child.MYSQL_PWD;
  delete child.MARIADB_PWD;
  if (passwordEnvName) delete child[passwordEnvName];
  return child;
}

/** The option file the child reads: connection, account and password in a [client] group. */
export function clientOptionFile(connection: MysqlConnection): string {
  const lines = ['[client]', `user=${optionValue(connection.user)}`];
  const password = connection.password?.reveal();
  if (password !== undefined && password !== '') lines.push(`password=${optionValue(password)}`);
  if (connection.socket) lines.push('protocol=SOCKET', `socket=${optionValue(connection.socket)}`);
  else lines.push('protocol=TCP', `host=${optionValue(connection.host)}`, `port=${connection.port}`);
  return lines.join('\n') + '\n';
}

/** Double-quoted option value; the client un-escapes \\ \" \n \r \t (checked with #, quotes, spaces, backslashes). */
function optionValue(value: string): string {
  return `"${escapeOptionValue(value)}"`;
}

/** A value as it appears between the quotes of an option file (also what to scrub from a tool's output). */
export function escapeOptionValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n').replaceAll('\r', '\\r').replaceAll('\t', '\\t');
}

/**
 * A named pipe in `directory` that will carry `content` to exactly one reader.
 * Call `deliverTo(child)` right after spawning the child that opens it.
 */
export class CredentialsPipe {
  private constructor(readonly path: string, private readonly content: string) {}

  static async create(directory: string, content: string): Promise<CredentialsPipe> {
    const path = join(directory, `mysql-client-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.cnf`);
    await new Promise<void>((resolve, reject) => {
      const child = spawn('mkfifo', ['-m', '600', path], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`mkfifo exited with status ${code}: ${stderr.trim()}`))));
    }).catch((error: unknown) => {
      throw new RestorableError(`cannot create the credentials pipe ${path}: ${(error as Error).message}`, {
        code: 'SCRATCH_UNUSABLE',
        where: { path },
        remedy: 'make sure the scratch directory is on a local filesystem that supports named pipes, and that mkfifo (coreutils) is installed',
        cause: error,
      });
    });
    return new CredentialsPipe(path, content);
  }

  /**
   * Writes the credentials once `spawned` opens the pipe, then removes it.
   * If the child exits without opening it, the pending write is released so
   * nothing stays blocked. Resolves when the pipe is gone.
   */
  async deliverTo(spawned: SpawnedStream): Promise<void> {
    let releaseReader: number | undefined;
    const onChildGone = () => {
      if (releaseReader !== undefined) return;
      // Our open-for-writing blocks until someone opens for reading: be that reader.
      try {
        releaseReader = openSync(this.path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
      } catch {
        // Already removed: nothing is blocked.
      }
    };
    spawned.child.once('close', onChildGone);
    spawned.child.once('error', onChildGone);
    try {
      const writer = await open(this.path, 'w');
      try {
        await writer.writeFile(this.content);
      } finally {
        await writer.close();
      }
    } finally {
      spawned.child.off('close', onChildGone);
      spawned.child.off('error', onChildGone);
      await unlink(this.path).catch(() => {});
      if (releaseReader !== undefined) closeSync(releaseReader);
    }
  }

  /** Removes the pipe if it is still there (a spawn that never happened). */
  async remove(): Promise<void> {
    await unlink(this.path).catch(() => {});
  }
}
