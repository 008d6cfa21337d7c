// Owns the drill of a mysql artifact: the dump is loaded into a scratch
// database on the source's server (as `drill.mysql`'s account when set), read
// back by a second dump and compared table by table with the manifest's row
// counts and digests (mysql-drill-compare.ts), its object inventory checked,
// and the smoke queries run in it. The scratch database is always dropped.
//
// Scratch database names carry a hash of the repository's real path, so drills
// of two applications on one server never touch each other's, and the pid of
// the drill that made them: the next drill of the same repository drops those
// whose drill is gone (sweepScratchDatabases).

import type { RowDataPacket } from 'mysql2';
import { asRestorableError, RestorableError } from '../core/errors.ts';
import { describeDecompressionError } from '../stages/codec.ts';
import { describeEndpoint, drillConnection, type MysqlConnection } from './mysql-connection.ts';
import { MysqlSession, readInventory } from './mysql-inventory.ts';
import { createDatabase, databasesWithPrefix, dropDatabase, loadCompressedDump, quoteIdentifier, restoreFactsOf } from './mysql-restore.ts';
import { compareTables, redumpDatabase, type RecordedTableFacts } from './mysql-drill-compare.ts';
import { mysqlSettingsOf } from './mysql-restore-target.ts';
import { openHashed } from '../storage/verified-read.ts';
import { isProcessAlive } from '../process/pid-alive.ts';
import { judgeQuery, queriesFor } from './drill-queries.ts';
import type { ResolvedMysqlSource } from './mysql.ts';
import { scratchDatabaseName as scratchDatabaseNameWithin, scratchPrefixFor } from './drill-scratch-databases.ts';
import type { DrillContext, DrillMeasurement, DrillSweepContext } from './source-restore.ts';

/** MySQL and MariaDB refuse database names longer than this. */
const MAX_IDENTIFIER_LENGTH = 64;

/** `<repository prefix><set id digits>_<pid>`: 48 characters for a set id of 14 digits, under the 64 allowed. */
export function scratchDatabaseName(repositoryRoot: string, setId: string, pid = process.pid): string {
  return scratchDatabaseNameWithin(repositoryRoot, setId, MAX_IDENTIFIER_LENGTH, pid);
}

const DRILL_REMEDY = 'drill with the configuration the set was made with';

export async function drillMysql(context: DrillContext): Promise<DrillMeasurement> {
  try {
    return await restoreAndCompare(context);
  } catch (error) {
    throw privilegeFailure(error, context) ?? error;
  }
}

async function restoreAndCompare(context: DrillContext): Promise<DrillMeasurement> {
  const { loaded, artifact, stopwatch } = context;
  const source = mysqlSettingsOf(context, DRILL_REMEDY);
  const connection = drillConnection(source.connection, loaded);
  const where = { source: artifact.source };
  const scratch = scratchDatabaseName(loaded.repositoryPath, context.manifest.setId);
  await checkDrillLogin(context, connection, where);
  stopwatch.start();
  // The scratch copy gets the source's charset and collation; its events are created DISABLED, and names of the source database are taken out.
  const restoreFacts = restoreFactsOf(artifact.details);
  await createDatabase(connection, scratch, where, restoreFacts.defaults);
  try {
    context.signal?.throwIfAborted();
    const stored = await openHashed(context.reader, artifact);
    const recorded = artifact.details as { tables?: Record<string, RecordedTableFacts>; inventory?: Record<string, string[]>; maxStatementBytes?: number; historyDumped?: boolean };
    await loadCompressedDump({
      connection,
      database: scratch,
      source: restoreFacts.sourceDatabase === undefined ? undefined : { database: restoreFacts.sourceDatabase, objectNames: restoreFacts.objectNames },
      compressed: stored.stream,
      compression: artifact.compression,
      scratchDir: context.scratchDir,
      where,
      signal: context.signal,
      largestStatementBytes: typeof recorded.maxStatementBytes === 'number' ? recorded.maxStatementBytes : undefined,
    });
    const restoreMs = stopwatch.stop();
    const differences: string[] = [];
    const notes: string[] = [];
    if (stored.read().sha256 !== artifact.sha256) differences.push(`${artifact.path}: sha256 differs from the manifest`);

    const compareStarted = performance.now();
    const restored = await redumpDatabase({ connection, database: scratch, config: source.config, sourceName: artifact.source, scratchDir: context.scratchDir, where, signal: context.signal, dumpHistory: recorded.historyDumped });
    const session = await MysqlSession.open(connection, where);
    let objects = 0;
    let queries = 0;
    let tables;
    try {
      tables = await compareTables(recorded.tables ?? {}, restored, session, scratch);
      differences.push(...tables.differences);
      notes.push(...tables.notes);
      const inventory = await readInventory(session, scratch);
      for (const [kind, names] of Object.entries(recorded.inventory ?? {})) {
        const present = new Set((inventory as unknown as Record<string, string[]>)[kind] ?? []);
        for (const name of names) {
          objects++;
          if (!present.has(name)) differences.push(`${kind.replace(/s$/, '')} ${name} is missing after the restore`);
        }
      }
      await session.query(`USE ${quoteIdentifier(scratch)}`);
      for (const query of queriesFor(loaded.config.drill, artifact.source)) {
        queries++;
        const rows = await session.query<RowDataPacket>(query.sql).catch((error: Error) => error);
        differences.push(...judgeQuery(query, rows instanceof Error ? rows : firstNumber(rows)));
      }
    } finally {
      await session.close();
    }
    return {
      ok: differences.length === 0,
      restoreMs,
      compareMs: Math.round(performance.now() - compareStarted),
      compared: `${tables.tables} table(s), ${tables.digests} row digest(s), ${objects} object(s), ${queries} query(ies)`,
      differences,
      notes,
    };
  } finally {
    await dropDatabase(connection, scratch, where).catch((error: Error) => context.log.warn(`could not drop the scratch database ${scratch}: ${error.message}`));
  }
}

function firstNumber(rows: RowDataPacket[]): number {
  const first = rows[0];
  return first ? Number(Object.values(first)[0]) : Number.NaN;
}

/**
 * Logs in once before anything else, so a refused login names the account
 * that was refused: with `drill.mysql` set, that is the drill's own account,
 * not `sources.<name>` (whose credentials the drill does not use then).
 */
async function checkDrillLogin(context: DrillContext, connection: MysqlConnection, where: { source: string }): Promise<void> {
  const override = context.loaded.config.drill.mysql;
  let session: MysqlSession;
  try {
    session = await MysqlSession.open(connection, where);
  } catch (error) {
    const failure = asRestorableError(error);
    if (!override || (failure.code !== 'MYSQL_ACCESS_DENIED' && failure.code !== 'MYSQL_UNREACHABLE')) throw error;
    const refused = failure.code === 'MYSQL_ACCESS_DENIED';
    throw new RestorableError(
      refused
        ? `the drill account (drill.mysql) ${connection.user} was refused by the server at ${describeEndpoint(connection)}: ${failure.message}`
        : `the drill's server (drill.mysql) at ${describeEndpoint(connection)} cannot be reached: ${failure.message}`,
      {
        code: refused ? 'DRILL_LOGIN_REFUSED' : 'MYSQL_UNREACHABLE',
        where,
        remedy: refused
          ? `check drill.mysql.user and drill.mysql.password_file / drill.mysql.password_env, and that ${connection.user} may connect from ${connection.socket ? 'localhost (socket)' : 'this host'}`
          : 'check drill.mysql.host, drill.mysql.port or drill.mysql.socket, and that the server runs',
      },
    );
  }
  await session.close();
}

/**
 * A restore the server refused for want of a privilege, said as such: which
 * account lacks it and what a drill needs. Damage, a refused login and a
 * failed comparison say what they are themselves (undefined).
 */
function privilegeFailure(error: unknown, context: DrillContext): RestorableError | undefined {
  if (describeDecompressionError(error)) return undefined;
  const failure = asRestorableError(error);
  if (failure.code === 'DRILL_COMPARE_FAILED' || failure.code === 'DRILL_LOGIN_REFUSED') return undefined;
  const text = [failure.message, ...(failure.details ?? [])].join('\n');
  const privilege = /\bERROR (1044|1142|1143|1227|1370|1410)\b|Access denied|command denied/i.test(text) || failure.code === 'MYSQL_PRIVILEGES_MISSING' || failure.code === 'MYSQL_ACCESS_DENIED';
  if (!privilege) return undefined;
  const account = context.loaded.config.drill.mysql ? 'the drill account (drill.mysql)' : `the account of sources.${context.artifact.source}`;
  return new RestorableError(`${account} lacks a privilege the restore needs: ${failure.message}`, {
    code: 'DRILL_PRIVILEGES_MISSING',
    where: failure.where,
    remedy:
      // The restore's own remedy holds the runnable GRANT (the account as the server sees it, the scratch-name pattern).
      (failure.remedy?.includes('GRANT ') ? `${failure.remedy}; ` : '') +
      'grant it what the message names: a drill creates and drops databases named restorable_drill_*, and recreates views, routines, triggers ' +
      'and events with their DEFINER, which takes SET USER (MariaDB) or SET_USER_ID/SYSTEM_USER (MySQL) when the definer is another account; ' +
      'or point drill.mysql at an account that has them',
    cause: error,
  });
}

/**
 * Drops scratch databases a killed drill of THIS repository left behind: only
 * names with this repository's hash, and only when the drill that made them
 * is gone (the job holds its lock, so another live one is not ours to judge).
 * Each server is asked once, however many sources live on it.
 */
export async function sweepScratchDatabases(context: DrillSweepContext): Promise<string[]> {
  const swept: string[] = [];
  const seen = new Set<string>();
  const prefix = scratchPrefixFor(context.loaded.repositoryPath);
  for (const { artifact, settings } of context.artifacts) {
    let connection: MysqlConnection;
    try {
      const source = settings() as ResolvedMysqlSource | undefined;
      if (!source) continue;
      connection = drillConnection(source.connection, context.loaded);
    } catch {
      continue;
    }
    const key = `${connection.socket ?? `${connection.host}:${connection.port}`}`;
    if (seen.has(key)) continue;
    seen.add(key);
    for (const database of await databasesWithPrefix(connection, prefix, { source: artifact.source }).catch(() => [])) {
      const pid = Number(/_(\d+)$/.exec(database)?.[1]);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isProcessAlive(pid)) {
        context.log.warn(`left the scratch database ${database} alone: the drill that made it (pid ${pid}) still runs`);
        continue;
      }
      await dropDatabase(connection, database, { source: artifact.source });
      context.log.warn(`dropped the scratch database ${database} an interrupted drill left behind`);
      swept.push(database);
    }
  }
  return swept;
}
