// Owns the benchmark's view of its MariaDB server. The server itself is the
// tests' private one (test/support/mariadb.ts: its own data dir, socket and
// loopback port, no option files, never the machine's server on 3306), started
// with the 256 MB buffer pool the performance baseline used, so its figures
// stay comparable, and in its own process group so Ctrl-C reaches the bench.

import { startPrivateMariadb } from '../test/support/mariadb.ts';

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
  /** Clean shutdown (SIGTERM, SIGKILL after a minute); removes `baseDir`. */
  stop(): Promise<void>;
}

export async function startBenchMariadb(baseDir: string): Promise<BenchMariadb> {
  const server = await startPrivateMariadb({ baseDir, bufferPoolSize: '256M', detached: true });
  return {
    socket: server.socket,
    port: server.port,
    pid: server.pid(),
    clientArgs: server.clientArgs,
    query: (sql) => server.runClient(['--batch', '--skip-column-names', '-e', sql]),
    loadFile: async (path, database) => {
      await server.runClient([...(database ? [database] : [])], path);
    },
    stop: () => server.stop(),
  };
}
