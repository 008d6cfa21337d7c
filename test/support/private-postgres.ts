// Starts a private PostgreSQL 15 server for one test file: its own data
// directory (initdb) in a temp dir, its own unix socket directory and a free
// loopback port, so the machine's own server on 5432 and its config are never
// touched. Tests run as root and postgres refuses root, so the server runs as
// the `postgres` OS user (setpriv) on a directory that user owns.
//
// Authentication is real (pg_hba.conf written here, nothing else read):
//   - the superuser `postgres` over the socket: trust (rootQuery, psql());
//   - every other role over the socket, and everyone over TCP: scram-sha-256,
//     so a role with a password really has to present it.
// kill() takes the backends down with the postmaster (as a crash would), so a
// restart() on the same data directory is not refused for shared memory still
// in use. The server stays in the test's process group, so a Ctrl-C reaches it
// too (a fast shutdown). Removed on stop(), and killed on process exit if a
// test run dies half-way.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, closeSync, createReadStream, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freeLoopbackPort } from './loopback-port.ts';
import { childrenOf } from './process-tree.ts';

const BIN_DIR = '/usr/lib/postgresql/15/bin';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const SUPERUSER = 'postgres';

export interface PostgresRoleOptions {
  /** Extra attributes after LOGIN PASSWORD, e.g. 'CREATEDB' or 'SUPERUSER'. */
  attributes?: string;
}

/** What a restorable `type: postgres` config needs to reach the server as a role. */
export interface PostgresConnectionSettings {
  host: '127.0.0.1';
  port: number;
  /** The socket directory (libpq's host=/dir form, as DB_HOST=/var/run/postgresql). */
  socketDir: string;
  user: string;
  password: string;
  database: string;
}

export interface PrivatePostgres {
  host: '127.0.0.1';
  port: number;
  /** The directory holding `.s.PGSQL.<port>`: pass it as host to libpq/psql/pg. */
  socketDir: string;
  dataDir: string;
  /** The superuser's name ('postgres'); trusted over the socket. */
  superuser: string;
  /** The superuser's password, for connections over TCP (scram-sha-256). */
  superuserPassword: string;
  /**
   * Runs SQL as the superuser over the socket in `database` (default 'postgres').
   * Without values several statements are allowed; resolves with the rows of the last one.
   */
  rootQuery<Row = Record<string, unknown>>(sql: string, values?: unknown[], database?: string): Promise<Row[]>;
  /** Runs SQL as `user` with `password` over TCP (scram), resolving with the rows of the last statement. */
  query<Row = Record<string, unknown>>(connection: { user: string; password: string; database: string }, sql: string, values?: unknown[]): Promise<Row[]>;
  /** A new connected pg.Client (superuser over the socket by default); the caller ends it. For sessions that hold locks. */
  connect(database?: string, credentials?: { user: string; password: string }): Promise<pg.Client>;
  /** CREATE DATABASE (UTF8, template0), owned by `owner` if given. */
  createDatabase(name: string, owner?: string): Promise<void>;
  /** DROP DATABASE IF EXISTS ... WITH (FORCE). */
  dropDatabase(name: string): Promise<void>;
  /** CREATE ROLE name LOGIN PASSWORD password (stored as a SCRAM verifier). */
  createRole(name: string, password: string, options?: PostgresRoleOptions): Promise<void>;
  /** Connection settings for a restorable config's `type: postgres` section. */
  connection(user: string, password: string, database: string): PostgresConnectionSettings;
  /** Arguments for the stock `psql` as the superuser over the socket (-X: no ~/.psqlrc). */
  psqlArgs: string[];
  /**
   * Runs the stock `psql` as the superuser with `args` (e.g. ['-v', 'ON_ERROR_STOP=1', '-d', 'db']),
   * feeding it `inputFile` (or a shell pipeline's stdout when `inputCommand` is given, e.g. `gunzip < x.sql.gz`);
   * resolves with stdout, rejects with stderr on a non-zero exit.
   */
  psql(args: string[], input?: { inputFile?: string; inputCommand?: string }): Promise<string>;
  /** Stops the server cleanly (fast shutdown) and removes its directory. */
  stop(): Promise<void>;
  /** SIGKILL to the postmaster and every backend, as a crash would (for mid-dump tests). The directory stays until stop(). */
  kill(): Promise<void>;
  /** Starts the server again on the same data directory (after kill()). */
  restart(): Promise<void>;
  /** The postmaster's pid. */
  pid(): number;
}

export interface PrivatePostgresOptions {
  /** Where the server lives (created); default a new temp dir. stop() removes it. */
  baseDir?: string;
  /** The server's TimeZone (default 'UTC'). */
  timeZone?: string;
}

export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const baseDir = options.baseDir ?? mkdtempSync(join(tmpdir(), 'restorable-postgres-'));
  mkdirSync(baseDir, { recursive: true });
  const dataDir = join(baseDir, 'data');
  const socketDir = baseDir;
  const logFile = join(baseDir, 'server.log');
  const superuserPassword = `su-${Math.random().toString(36).slice(2)}`;
  const owner = postgresOsUser();
  chownSync(baseDir, owner.uid, owner.gid);

  const removeAll = () => rmSync(baseDir, { recursive: true, force: true });
  const pwFile = join(baseDir, 'superuser.pw');
  writeFileSync(pwFile, `${superuserPassword}\n`, { mode: 0o600 });
  chownSync(pwFile, owner.uid, owner.gid);
  const init = spawnSync(
    'setpriv',
    [
      ...asPostgres(),
      join(BIN_DIR, 'initdb'),
      `--pgdata=${dataDir}`,
      `--username=${SUPERUSER}`,
      `--pwfile=${pwFile}`,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
      '--no-sync',
      '--no-instructions',
    ],
    { encoding: 'utf8', timeout: START_TIMEOUT_MS, env: serverEnvironment(), cwd: baseDir },
  );
  rmSync(pwFile, { force: true });
  if (init.status !== 0) {
    removeAll();
    throw new Error(`initdb failed (${init.status}): ${init.stderr}${init.stdout}`);
  }
  // Only this file decides who gets in: superuser trusted on the socket, every
  // password role checked with SCRAM on the socket and over TCP.
  const hba = join(dataDir, 'pg_hba.conf');
  writeFileSync(
    hba,
    [
      `local all ${SUPERUSER} trust`,
      'local all all scram-sha-256',
      'host all all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'),
  );
  chownSync(hba, owner.uid, owner.gid);
  const port = await freeLoopbackPort();

  let server: ChildProcess | undefined;
  const clients = new Map<string, pg.Client>();
  const killGroup = () => {
    const pid = server?.pid;
    if (!pid || server!.exitCode !== null || server!.signalCode !== null) return;
    // Frozen first, so it forks no backend between the listing and the kill.
    signalQuietly(pid, 'SIGSTOP');
    for (const backend of childrenOf(pid)) signalQuietly(backend, 'SIGKILL');
    signalQuietly(pid, 'SIGKILL');
  };
  const killOnExit = () => {
    killGroup();
    removeAll();
  };
  process.once('exit', killOnExit);

  const launch = async () => {
    const log = openSync(logFile, 'a');
    server = spawn(
      'setpriv',
      [
        ...asPostgres(),
        join(BIN_DIR, 'postgres'),
        '-D', dataDir,
        '-c', `port=${port}`,
        '-c', 'listen_addresses=127.0.0.1',
        '-c', `unix_socket_directories=${socketDir}`,
        '-c', `hba_file=${hba}`,
        '-c', `timezone=${options.timeZone ?? 'UTC'}`,
        '-c', 'password_encryption=scram-sha-256',
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        '-c', 'shared_buffers=32MB',
        '-c', 'max_connections=40',
        '-c', 'logging_collector=off',
        '-c', 'log_destination=stderr',
        '-c', 'log_connections=off',
      ],
      { stdio: ['ignore', log, log], env: serverEnvironment(), cwd: baseDir },
    );
    closeSync(log);
    const exited = once(server, 'exit').then(() => {
      throw new Error(`postgres exited while starting: ${tail(logFile)}`);
    });
    exited.catch(() => {});
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        const probe = await Promise.race([openClient('postgres'), exited]);
        clients.set('postgres', probe);
        return;
      } catch (error) {
        if (server.exitCode !== null || server.signalCode !== null || Date.now() > deadline) {
          killGroup();
          throw new Error(`private PostgreSQL did not start: ${(error as Error).message}\n${tail(logFile)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };

  const openClient = async (database: string, credentials?: { user: string; password: string }): Promise<pg.Client> => {
    const client = new pg.Client(
      credentials
        ? { host: '127.0.0.1', port, database, user: credentials.user, password: credentials.password }
        : { host: socketDir, port, database, user: SUPERUSER },
    );
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    return client;
  };
  const rootClient = async (database: string): Promise<pg.Client> => {
    if (!server || server.exitCode !== null || server.signalCode !== null) throw new Error('the private PostgreSQL is not running');
    let client = clients.get(database);
    if (!client) {
      client = await openClient(database);
      clients.set(database, client);
    }
    return client;
  };
  const endClients = async () => {
    const open = [...clients.values()];
    clients.clear();
    await Promise.all(open.map((client) => client.end().catch(() => {})));
  };

  try {
    await launch();
  } catch (error) {
    killOnExit();
    process.off('exit', killOnExit);
    throw error;
  }

  const stopServer = async (signal: 'SIGINT' | 'SIGKILL') => {
    const running = server;
    if (signal === 'SIGKILL') killGroup();
    await endClients();
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    // SIGINT is postgres's "fast" shutdown: it ends open sessions instead of waiting for them.
    if (signal === 'SIGINT') running.kill('SIGINT');
    const escalate = setTimeout(killGroup, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(escalate);
  };

  const psqlArgs = ['-X', '-h', socketDir, '-p', String(port), '-U', SUPERUSER];
  const identifier = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;
  const lastRows = <Row>(result: pg.QueryResult | pg.QueryResult[]): Row[] =>
    (Array.isArray(result) ? (result[result.length - 1]?.rows ?? []) : result.rows) as Row[];

  return {
    host: '127.0.0.1',
    port,
    socketDir,
    dataDir,
    superuser: SUPERUSER,
    superuserPassword,
    psqlArgs,
    async rootQuery<Row = Record<string, unknown>>(sql: string, values?: unknown[], database = 'postgres'): Promise<Row[]> {
      const client = await rootClient(database);
      return lastRows<Row>(values ? await client.query(sql, values) : await client.query(sql));
    },
    async query<Row = Record<string, unknown>>(connection: { user: string; password: string; database: string }, sql: string, values?: unknown[]): Promise<Row[]> {
      const client = await openClient(connection.database, connection);
      try {
        return lastRows<Row>(values ? await client.query(sql, values) : await client.query(sql));
      } finally {
        await client.end().catch(() => {});
      }
    },
    connect: (database = 'postgres', credentials) => openClient(database, credentials),
    async createDatabase(name: string, databaseOwner?: string): Promise<void> {
      const client = await rootClient('postgres');
      const ownerClause = databaseOwner ? ` OWNER ${identifier(databaseOwner)}` : '';
      await client.query(`CREATE DATABASE ${identifier(name)}${ownerClause} ENCODING 'UTF8' TEMPLATE template0`);
    },
    async dropDatabase(name: string): Promise<void> {
      const cached = clients.get(name);
      if (cached) {
        clients.delete(name);
        await cached.end().catch(() => {});
      }
      const client = await rootClient('postgres');
      await client.query(`DROP DATABASE IF EXISTS ${identifier(name)} WITH (FORCE)`);
    },
    async createRole(name: string, password: string, roleOptions: PostgresRoleOptions = {}): Promise<void> {
      const client = await rootClient('postgres');
      await client.query(`CREATE ROLE ${identifier(name)} LOGIN PASSWORD ${literal(password)} ${roleOptions.attributes ?? ''}`);
    },
    connection: (user, password, database) => ({ host: '127.0.0.1', port, socketDir, user, password, database }),
    async psql(args: string[], input: { inputFile?: string; inputCommand?: string } = {}): Promise<string> {
      const quoted = [...psqlArgs, ...args].map(shellQuote).join(' ');
      const child = input.inputCommand
        ? spawn('sh', ['-c', `${input.inputCommand} | psql ${quoted}; exit $?`], { stdio: ['ignore', 'pipe', 'pipe'], env: clientEnvironment() })
        : spawn('psql', [...psqlArgs, ...args], { stdio: [input.inputFile ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: clientEnvironment() });
      if (input.inputFile) createReadStream(input.inputFile).pipe(child.stdin!);
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const [code] = (await once(child, 'close')) as [number | null];
      if (code !== 0) throw new Error(`psql ${args.join(' ')} exited with ${code}: ${stderr}`);
      return stdout;
    },
    async stop(): Promise<void> {
      await stopServer('SIGINT');
      process.off('exit', killOnExit);
      removeAll();
    },
    async kill(): Promise<void> {
      await stopServer('SIGKILL');
    },
    async restart(): Promise<void> {
      await stopServer('SIGINT');
      await launch();
    },
    pid: () => server!.pid!,
  };
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function postgresOsUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('the private PostgreSQL needs the `postgres` OS user');
  return { uid, gid };
}

/** setpriv (not runuser/su) execs in place, so the spawned pid is the postmaster's own. */
function asPostgres(): string[] {
  return ['--reuid', 'postgres', '--regid', 'postgres', '--init-groups', '--'];
}

/** The server gets a minimal environment: no PG* variables of the caller leak into it. */
function serverEnvironment(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };
}

/** psql is the client, so the caller's PG* variables are dropped too: only the arguments say where to connect. */
function clientEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PGCLIENTENCODING: 'UTF8' };
  for (const name of Object.keys(env)) if (name.startsWith('PG') && name !== 'PGCLIENTENCODING') delete env[name];
  return env;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no server log)';
  }
}
