// Owns the drill of a postgres artifact: the dump is loaded into a scratch
// database on the source's server, as the source's role (which needs
// CREATEDB), exactly as `restore db` loads it (one transaction, from the one
// verified read), then compared with the manifest's facts
// (postgres-drill-compare.ts). The scratch database is always dropped.
//
// Scratch database names (drill-scratch-databases.ts) carry a hash of the
// repository's real path and the pid of the drill that made them: the next
// drill of the same repository drops those whose drill is gone
// (sweepPostgresScratchDatabases), never another repository's.

import { RestorableError } from '../core/errors.ts';
import { SCRATCH_DATABASE_PREFIX, scratchDatabaseName, sweepScratchDatabases } from './drill-scratch-databases.ts';
import { compareRestoredCopy } from './postgres-drill-compare.ts';
import { loadPlainScript, requirePsql } from './postgres-restore-load.ts';
import { recordedFactsOf } from './postgres-restore-facts.ts';
import { createDatabase, databasesWithPrefix, describeExtensionProblems, dropDatabase, extensionProblems, MAX_DATABASE_NAME_BYTES, readRestoreRole, withDatabaseClient } from './postgres-restore-server.ts';
import { postgresSettingsOf } from './postgres-restore-target.ts';
import { describePostgresEndpoint, quotePostgresIdentifier, type PostgresConnection, type ResolvedPostgresSource } from './postgres-settings.ts';
import type { DrillContext, DrillMeasurement, DrillSweepContext } from './source-restore.ts';

const DRILL_REMEDY = 'drill with the configuration the set was made with';

export async function drillPostgres(context: DrillContext): Promise<DrillMeasurement> {
  const { loaded, artifact, stopwatch } = context;
  const source = postgresSettingsOf(context, DRILL_REMEDY);
  const connection = source.connection;
  const where = { source: artifact.source };
  const recorded = recordedFactsOf(artifact.details);
  const scratch = scratchDatabaseName(loaded.repositoryPath, context.manifest.setId, MAX_DATABASE_NAME_BYTES);
  await checkDrillPreflight(connection, recorded.extensions, where);
  stopwatch.start();
  await createDatabase(connection, scratch, where, recorded.database);
  try {
    await loadPlainScript({ connection, database: scratch, scratchDir: context.scratchDir, reader: context.reader, artifact, where, signal: context.signal });
    const restoreMs = stopwatch.stop();
    const compareStarted = performance.now();
    let comparison;
    try {
      comparison = await withDatabaseClient(connection, scratch, where, (client) => compareRestoredCopy(client, recorded, loaded.config.drill, artifact.source));
    } catch (error) {
      context.signal?.throwIfAborted();
      throw new RestorableError(`reading the restored copy ${scratch} at ${describePostgresEndpoint(connection)} back, to compare it, failed: ${(error as Error).message}`, {
        code: 'DRILL_COMPARE_FAILED',
        where,
        remedy: `the restore itself worked; make sure ${connection.user} may read what it restored and run the drill again`,
        cause: error,
      });
    }
    return {
      ok: comparison.differences.length === 0,
      restoreMs,
      compareMs: Math.round(performance.now() - compareStarted),
      compared: comparison.compared,
      differences: comparison.differences,
      notes: comparison.notes,
    };
  } finally {
    await dropDatabase(connection, scratch, where).catch((error: Error) => context.log.warn(`could not drop the scratch database ${scratch}: ${error.message}`));
  }
}

/** No psql, a role that may not create the scratch database, or an extension it cannot create there: fails before anything is made. */
async function checkDrillPreflight(connection: PostgresConnection, extensions: string[], where: { source: string }): Promise<void> {
  await requirePsql(where);
  const role = await readRestoreRole(connection, where);
  if (!role.mayCreateDatabases) {
    throw new RestorableError(`the account of sources.${where.source} (${role.name}) may not create databases, which a drill needs for its scratch copy`, {
      code: 'DRILL_PRIVILEGES_MISSING',
      where,
      remedy: `ALTER ROLE ${quotePostgresIdentifier(role.name)} CREATEDB; (a drill creates and drops databases named ${SCRATCH_DATABASE_PREFIX}*)`,
    });
  }
  const refusal = describeExtensionProblems(await extensionProblems(connection, extensions, role, where), role, connection);
  if (refusal) throw new RestorableError(refusal.message, { code: 'DRILL_PRIVILEGES_MISSING', where, details: refusal.details, remedy: refusal.remedy });
}

/** Drops the scratch databases killed drills of this repository left on the servers of its postgres sources. */
export function sweepPostgresScratchDatabases(context: DrillSweepContext): Promise<string[]> {
  return sweepScratchDatabases(context, {
    connectionOf: (settings) => (settings as ResolvedPostgresSource | undefined)?.connection,
    serverKey: (connection: PostgresConnection) => `${connection.host}:${connection.port}`,
    list: databasesWithPrefix,
    drop: dropDatabase,
  });
}
