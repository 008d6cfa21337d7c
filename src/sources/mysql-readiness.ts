// Owns the mysql answer to "could restore and drill run now?" (see
// source-readiness.ts): the restore pre-flight (mysql-restore-preflight.ts,
// the one `restore db` runs before its first statement) asked for the
// databases restore and drill would create — `<db>_restored_<set>` as the
// restore account (restore.mysql) and the drill's scratch database as the
// drill account (drill.mysql) — with the facts the newest set recorded (its
// objects, definers, largest statement). Nothing is created: the pre-flight
// only reads grants and server variables.

import { describeEndpoint, drillConnection, withAccountOverride } from './mysql-connection.ts';
import { scratchDatabaseName } from './mysql-drill.ts';
import { checkRestorePreflight, type RecordedDumpFacts } from './mysql-restore-preflight.ts';
import type { ResolvedMysqlSource } from './mysql.ts';
import type { ReadinessRequest, ReadinessResult } from './source-readiness.ts';

export async function mysqlReadiness(request: ReadinessRequest): Promise<ReadinessResult[]> {
  const settings = request.settings as ResolvedMysqlSource;
  const { loaded } = request;
  const facts = (request.details ?? {}) as RecordedDumpFacts;
  const digits = (request.setId ?? '').replace(/\D/g, '').slice(0, 14) || '00000000000000';
  const what = request.setId ? `set ${request.setId}` : 'a set of this source';
  const where = { job: loaded.config.app, source: request.sourceName };
  const targets = [
    {
      purpose: 'restore',
      connection: withAccountOverride(settings.connection, loaded.config.restore.mysql, loaded.directory, 'restore.mysql'),
      database: `${settings.connection.database}_restored_${digits}`,
    },
    {
      purpose: 'drill',
      connection: drillConnection(settings.connection, loaded),
      database: scratchDatabaseName(loaded.repositoryPath, request.setId ?? digits),
    },
  ];
  const results: ReadinessResult[] = [];
  for (const target of targets) {
    try {
      const preflight = await checkRestorePreflight({ connection: target.connection, database: target.database, targetExists: false, facts, what, where });
      results.push({
        purpose: target.purpose,
        found: `${preflight.account} may create ${target.database} at ${describeEndpoint(target.connection)} and load ${what} into it (${preflight.notes.slice(1).join('; ') || 'every privilege present'})`,
        warnings: preflight.warnings,
      });
    } catch (error) {
      results.push({ purpose: target.purpose, found: '', warnings: [], error });
    }
  }
  return results;
}
