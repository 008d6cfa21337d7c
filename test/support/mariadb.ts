// Starts a private MariaDB server for one test file: its own data directory
// (mariadb-install-db), its own unix socket and a free loopback port, grants
// enabled (privilege tests need them), no option files read (--no-defaults),
// so the machine's own server and its config are never touched. Removed on
// stop(), and killed on process exit if a test run dies half-way. The
// benchmark starts its server through here too (bench/private-mariadb.ts).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { freeLoopbackPort } from './loopback-port.ts';

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 60_000;

export interface PrivateMariadb {
  /** The unix socket: connect with `--socket` / mysql2 `socketPath`. */
  socket: string;
  host: '127.0.0.1';
  port: number;
  dataDir: string;
  /** Runs SQL as root (several statements allowed); resolves with the rows of the last one. */
  rootQuery<Row = RowDataPacket>(sql: string, values?: unknown[]): Promise<Row[]>;
  /** CREATE DATABASE with utf8mb4. */
  createDatabase(name: string): Promise<void>;
  /** Arguments for the stock `mariadb` client, as root over the socket. */
  clientArgs: string[];
  /** Runs the stock `mariadb` client as root with `args`, feeding it `inputFile`; rejects with its stderr on failure. */
  runClient(args: string[], inputFile?: string): Promise<string>;
  /** Stops the server cleanly and removes its directory. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would (for mid-dump tests). The directory stays until stop(). */
  kill(): Promise<void>;
  /** Starts the server again on the same data directory (after kill()). */
  restart(): Promise<void>;
  /** mariadbd's pid (the benchmark reads the server's CPU time from /proc). */
  pid(): number;
}

export interface PrivateMariadbOptions {
  /** Where the server lives (created); default a new temp dir. stop() removes it. */
  baseDir?: string;
  /** InnoDB buffer pool, default 128M (the benchmark uses 256M, as the performance baseline did). */
  bufferPoolSize?: string;
  /** In its own process group, so a Ctrl-C in the terminal reaches the caller, which stops the server cleanly. */
  detached?: boolean;
}

export async function startPrivateMariadb(options: PrivateMariadbOptions = {}): Promise<PrivateMariadb> {
  const baseDir = options.baseDir ?? mkdtempSync(join(tmpdir(), 'restorable-mariadb-'));
  mkdirSync(baseDir, { recursive: true });
  const dataDir = join(baseDir, 'data');
  const socket = join(baseDir, 'mysqld.sock');
  const errorLog = join(baseDir, 'error.log');
  // The server's temporary files too stay in the base dir: in the shared /tmp,
  // two servers bootstrapping at once (test files run in parallel) failed
  // with "Could not remove temporary table '/tmp/#sql-temptable-...'".
  const tmpDir = join(baseDir, 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  const install = spawnSync(
    'mariadb-install-db',
    ['--no-defaults', '--auth-root-authentication-method=normal', `--datadir=${dataDir}`, `--tmpdir=${tmpDir}`, '--user=root', '--skip-test-db', '--skip-name-resolve'],
    { encoding: 'utf8', timeout: START_TIMEOUT_MS },
  );
  if (install.status !== 0) {
    rmSync(baseDir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed (${install.status}): ${install.stderr}${install.stdout}`);
  }
  const port = await freeLoopbackPort();

  let server: ChildProcess | undefined;
  let root: Connection | undefined;
  const killOnExit = () => {
    server?.kill('SIGKILL');
    rmSync(baseDir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);

  const launch = async () => {
    server = spawn(
      'mariadbd',
      [
        '--no-defaults',
        '--user=root',
        `--datadir=${dataDir}`,
        `--tmpdir=${tmpDir}`,
        `--socket=${socket}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--pid-file=${join(baseDir, 'mysqld.pid')}`,
        `--log-error=${errorLog}`,
        '--skip-name-resolve',
        '--character-set-server=utf8mb4',
        '--collation-server=utf8mb4_general_ci',
        `--innodb-buffer-pool-size=${options.bufferPoolSize ?? '128M'}`,
        '--innodb-flush-log-at-trx-commit=2',
        '--innodb-doublewrite=0',
        '--event-scheduler=OFF',
        '--max-allowed-packet=256M',
      ],
      { stdio: 'ignore', detached: options.detached === true },
    );
    const exited = once(server, 'exit').then(() => {
      throw new Error(`mariadbd exited while starting: ${tail(errorLog)}`);
    });
    exited.catch(() => {});
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        root = await Promise.race([
          createConnection({ socketPath: socket, user: 'root', multipleStatements: true, charset: 'utf8mb4_general_ci' }),
          exited,
        ]);
        root.on('error', () => {});
        return;
      } catch (error) {
        if (server.exitCode !== null || server.signalCode !== null || Date.now() > deadline) {
          server.kill('SIGKILL');
          throw new Error(`private MariaDB did not start: ${(error as Error).message}\n${tail(errorLog)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  try {
    await launch();
  } catch (error) {
    killOnExit();
    process.off('exit', killOnExit);
    throw error;
  }

  const clientArgs = ['--no-defaults', `--socket=${socket}`, '--user=root', '--default-character-set=utf8mb4'];
  const stopServer = async (signal: NodeJS.Signals) => {
    root?.destroy();
    root = undefined;
    const running = server;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill(signal);
    // A clean shutdown that hangs (a huge buffer pool to flush) must not hang the caller.
    const escalate = setTimeout(() => running.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(escalate);
  };

  return {
    socket,
    host: '127.0.0.1',
    port,
    dataDir,
    clientArgs,
    async rootQuery<Row = RowDataPacket>(sql: string, values: unknown[] = []): Promise<Row[]> {
      if (!root) throw new Error('the private MariaDB is not running');
      const [result] = await root.query(sql, values);
      if (Array.isArray(result) && result.length > 0 && Array.isArray(result[0])) return result[result.length - 1] as Row[];
      return (Array.isArray(result) ? result : []) as Row[];
    },
    async createDatabase(name: string): Promise<void> {
      if (!root) throw new Error('the private MariaDB is not running');
      await root.query(`CREATE DATABASE \`${name.replaceAll('`', '``')}\` CHARACTER SET utf8mb4`);
    },
    async runClient(args: string[], inputFile?: string): Promise<string> {
      const child = spawn('mariadb', [...clientArgs, ...args], { stdio: [inputFile ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
      if (inputFile) createReadStream(inputFile).pipe(child.stdin!);
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const [code] = (await once(child, 'close')) as [number | null];
      if (code !== 0) throw new Error(`mariadb ${args.join(' ')} exited with ${code}: ${stderr}`);
      return stdout;
    },
    async stop(): Promise<void> {
      await stopServer('SIGTERM');
      process.off('exit', killOnExit);
      rmSync(baseDir, { recursive: true, force: true });
    },
    async kill(): Promise<void> {
      await stopServer('SIGKILL');
    },
    async restart(): Promise<void> {
      await stopServer('SIGTERM');
      await launch();
    },
    pid: () => server!.pid!,
  };
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no error log)';
  }
}
