// Owns the benchmark's own MariaDB server: a fresh data directory
// (mariadb-install-db) under the bench's scratch dir, its own unix socket and
// a free loopback port, no option files read (--no-defaults), so the
// machine's server on 3306 and its /etc/mysql config are never touched.
// Same approach as test/support/mariadb.ts, but with the 256 MB buffer pool
// the performance baseline used (so its figures stay comparable) and only
// the stock `mariadb` client to talk to it (no driver needed to load a dump).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;

export interface BenchMariadb {
  socket: string;
  port: number;
  /** mariadbd's pid, to read the server's CPU time from /proc. */
  pid: number;
  /** Connection arguments for the stock clients (mariadb, mysqldump), root over the socket. */
  clientArgs: string[];
  /** Runs SQL as root; resolves with the client's stdout (tab-separated, no headers). */
  query(sql: string): Promise<string>;
  /** Feeds a SQL file to the client as root (the data set's dump creates its own database). */
  loadFile(path: string, database?: string): Promise<void>;
  /** Clean shutdown (SIGTERM, then SIGKILL after a minute). The directory is the caller's to remove. */
  stop(): Promise<void>;
}

export async function startBenchMariadb(baseDir: string): Promise<BenchMariadb> {
  mkdirSync(baseDir, { recursive: true });
  const dataDir = join(baseDir, 'data');
  const socket = join(baseDir, 'mysqld.sock');
  const errorLog = join(baseDir, 'error.log');
  const install = spawnSync(
    'mariadb-install-db',
    ['--no-defaults', '--auth-root-authentication-method=normal', `--datadir=${dataDir}`, '--user=root', '--skip-test-db', '--skip-name-resolve'],
    { encoding: 'utf8', timeout: START_TIMEOUT_MS },
  );
  if (install.status !== 0) throw new Error(`mariadb-install-db failed (${install.status ?? install.signal}): ${install.stderr}${install.stdout}`);
  const port = await freeLoopbackPort();
  const server: ChildProcess = spawn(
    'mariadbd',
    [
      '--no-defaults',
      '--user=root',
      `--datadir=${dataDir}`,
      `--socket=${socket}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${join(baseDir, 'mysqld.pid')}`,
      `--log-error=${errorLog}`,
      '--skip-name-resolve',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_general_ci',
      '--innodb-buffer-pool-size=256M',
      // Loading the data set is set-up, not what we measure: no fsync per commit.
      '--innodb-flush-log-at-trx-commit=2',
      '--innodb-doublewrite=0',
      '--event-scheduler=OFF',
      '--max-allowed-packet=256M',
    ],
    // Its own process group: a Ctrl-C in the terminal reaches the bench, which stops the server cleanly.
    { stdio: 'ignore', detached: true },
  );
  const exited = once(server, 'exit');
  const clientArgs = ['--no-defaults', `--socket=${socket}`, '--user=root'];

  const runClient = (args: string[], inputFile?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn('mariadb', [...clientArgs, '--default-character-set=utf8mb4', ...args], { stdio: [inputFile ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
      if (inputFile) createReadStream(inputFile).on('error', reject).pipe(child.stdin!);
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`mariadb ${args.join(' ')} exited with ${code}: ${stderr.trim()}`))));
    });

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) throw new Error(`mariadbd exited while starting:\n${tail(errorLog)}`);
    try {
      await runClient(['--batch', '--skip-column-names', '-e', 'SELECT 1']);
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        server.kill('SIGKILL');
        throw new Error(`the private MariaDB did not start within ${START_TIMEOUT_MS / 1000} s: ${(error as Error).message}\n${tail(errorLog)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  return {
    socket,
    port,
    pid: server.pid!,
    clientArgs,
    query: (sql) => runClient(['--batch', '--skip-column-names', '-e', sql]),
    loadFile: async (path, database) => {
      await runClient(database ? [database] : [], path);
    },
    async stop() {
      if (server.exitCode !== null || server.signalCode !== null) return;
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free loopback port'))));
    });
  });
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no error log)';
  }
}
