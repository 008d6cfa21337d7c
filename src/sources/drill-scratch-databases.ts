// Owns the names of the scratch databases drills make on a database server,
// and the sweep of those killed drills left, for every kind that drills into
// a server (mysql, postgres):
// `restorable_drill_<first 8 hex of sha256(real path of the repository)>_`
// then the set id's digits and the pid of the drill. The repository hash
// keeps drills of two applications on one server apart, and the pid lets
// the next drill of the same repository tell a dead drill's leftover from a
// live one's.

import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { isProcessAlive } from '../process/pid-alive.ts';
import type { DrillSweepContext } from './source-restore.ts';

/** Every scratch database a drill makes starts with this, then the repository's hash. */
export const SCRATCH_DATABASE_PREFIX = 'restorable_drill_';

/** The prefix of this repository's scratch databases: its sweep drops only those. */
export function scratchPrefixFor(repositoryRoot: string): string {
  let path = repositoryRoot;
  try {
    path = realpathSync(repositoryRoot);
  } catch {
    // Not there (yet): the path as configured still tells repositories apart.
  }
  return `${SCRATCH_DATABASE_PREFIX}${createHash('sha256').update(path).digest('hex').slice(0, 8)}_`;
}

/** `<prefix><set id digits>_<pid>`, cut to the server's longest name (`maxLength`, in ASCII characters). */
export function scratchDatabaseName(repositoryRoot: string, setId: string, maxLength: number, pid = process.pid): string {
  const prefix = scratchPrefixFor(repositoryRoot);
  const suffix = `_${pid}`;
  return `${prefix}${setId.replace(/\D/g, '').slice(0, maxLength - prefix.length - suffix.length)}${suffix}`;
}

/** How a kind reaches the servers its artifacts live on, for the sweep. */
export interface ScratchServers<Connection> {
  /** The connection a drill of this source uses, or undefined when it is not configured (any more). */
  connectionOf(settings: unknown): Connection | undefined;
  /** One key per server, so each is asked once however many sources live on it. */
  serverKey(connection: Connection): string;
  list(connection: Connection, prefix: string, where: { source: string }): Promise<string[]>;
  drop(connection: Connection, database: string, where: { source: string }): Promise<void>;
}

/**
 * Drops the scratch databases killed drills of THIS repository left: only
 * names with this repository's prefix, and only when the drill that made them
 * (the pid the name ends with) is gone. A database that cannot be dropped is
 * a warning, never a failed drill. Returns the names dropped.
 */
export async function sweepScratchDatabases<Connection>(context: DrillSweepContext, servers: ScratchServers<Connection>): Promise<string[]> {
  const swept: string[] = [];
  const seen = new Set<string>();
  const prefix = scratchPrefixFor(context.loaded.repositoryPath);
  for (const { artifact, settings } of context.artifacts) {
    let connection: Connection | undefined;
    try {
      connection = servers.connectionOf(settings());
    } catch {
      continue;
    }
    if (connection === undefined || seen.has(servers.serverKey(connection))) continue;
    seen.add(servers.serverKey(connection));
    const where = { source: artifact.source };
    for (const database of await servers.list(connection, prefix, where).catch(() => [])) {
      const pid = Number(/_(\d+)$/.exec(database)?.[1]);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isProcessAlive(pid)) {
        context.log.warn(`left the scratch database ${database} alone: the drill that made it (pid ${pid}) still runs`);
        continue;
      }
      try {
        await servers.drop(connection, database, where);
      } catch (error) {
        context.log.warn(`could not drop the scratch database ${database} an interrupted drill left behind: ${(error as Error).message}`);
        continue;
      }
      context.log.warn(`dropped the scratch database ${database} an interrupted drill left behind`);
      swept.push(database);
    }
  }
  return swept;
}
