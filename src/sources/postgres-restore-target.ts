// Owns `restore db` for a postgres artifact: a fresh database by default
// (`<database>_restored_<set id>`, created by the restoring role, which then
// owns everything in it), or an existing one the operator confirmed. It
// restores as the source's account on the source's server. Before the first
// statement it refuses what would fail half-way: a role that may not create
// the database, an extension the server cannot install. A non-empty target is
// not written before the whole artifact proved intact and a safety set of it
// was taken (the job's backup machinery, through takeSafetySet); its schemas
// that the dump holds are then replaced whole. The load runs in one
// transaction (postgres-restore-load.ts), so a failed load leaves an existing
// target as it was, and a database this restore created is dropped again.
//
// Ownership: the dump carries no owners and no grants (--no-owner
// --no-privileges), so everything restored belongs to the restoring role; the
// roles that owned objects or held grants in the source are named in a note.

import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import type { Manifest } from '../core/manifest.ts';
import { protectNonEmptyTarget } from './database-target-safety.ts';
import { loadPlainScript, requirePsql } from './postgres-restore-load.ts';
import { recordedFactsOf, type RecordedPostgresFacts } from './postgres-restore-facts.ts';
import { createDatabase, describeExtensionProblems, dropDatabase, extensionProblems, inspectTargetDatabase, MAX_DATABASE_NAME_BYTES, readRestoreRole } from './postgres-restore-server.ts';
import { describePostgresEndpoint, quotePostgresIdentifier, type PostgresConnection, type ResolvedPostgresSource } from './postgres-settings.ts';
import { confirmOverwrite, type DatabaseRestored, type DatabaseTarget, type RestoreContext, type RestoreLog } from './source-restore.ts';

/** The source's settings now, or a usage error: a postgres artifact restores with its source's server and account. */
export function postgresSettingsOf(context: RestoreContext, remedy: string): ResolvedPostgresSource {
  const settings = context.settings() as ResolvedPostgresSource | undefined;
  if (!settings) throw new RestorableError(`source ${context.artifact.source} is not configured as a postgres source any more`, { code: 'USAGE', remedy });
  return settings;
}

/** `<database>_restored_<set id digits>`, cut to the 63 bytes PostgreSQL keeps of a name. */
export function defaultTargetName(database: string, setId: string): string {
  const suffix = `_restored_${setId.replace(/\D/g, '').slice(0, 14)}`;
  let base = database;
  while (Buffer.byteLength(base + suffix) > MAX_DATABASE_NAME_BYTES) base = base.slice(0, -1);
  return base + suffix;
}

export async function restorePostgres(context: RestoreContext, request: DatabaseTarget): Promise<DatabaseRestored> {
  const { manifest, artifact, log } = context;
  const settings = postgresSettingsOf(context, 'restore with the configuration the set was made with');
  if (request.defaultsFile) log.warn('--defaults-file is a MySQL option file: a postgres source restores as its own account');
  const connection = settings.connection;
  const where = { source: artifact.source };
  const recorded = recordedFactsOf(artifact.details);
  const into = request.into ?? defaultTargetName(recorded.database ?? connection.database, manifest.setId);
  const target = `database ${into} at ${describePostgresEndpoint(connection)}`;
  const existing = await inspectTargetDatabase(connection, into, where);
  const nonEmpty = existing.exists && existing.objectCount > 0;
  if (nonEmpty) await confirmOverwrite(request, into, `${target} is not empty (${existing.objectCount} tables, views, sequences, routines, extensions or large objects)`);
  // Before the first statement (and before a safety dump): would this role on this server get through the whole dump?
  const account = await checkRestorePreflight(connection, recorded, existing.exists, where);
  const safetySetId = nonEmpty
    ? await protectNonEmptyTarget(context, request, into, (): ResolvedPostgresSource => ({ config: { ...settings.config, database: into }, connection: { ...connection, database: into } }))
    : undefined;
  log.step(`restoring ${artifact.source} of set ${manifest.setId} into ${target}${existing.exists ? '' : ' (new)'} as ${account}`);
  noteRemappedRoles(recorded, account, log);
  if (!existing.exists) await createDatabase(connection, into, where, recorded.database);
  try {
    await loadPlainScript({
      connection,
      database: into,
      scratchDir: request.scratchDir,
      prologue: nonEmpty ? replaceSchemasPrologue(recorded) : undefined,
      reader: context.reader,
      artifact,
      where,
      signal: context.signal,
      onBytes: (bytes) => log.progress(artifact.source, bytes),
    });
    return { content: 'database', target, created: !existing.exists, rawBytes: artifact.rawSizeBytes, account, safetySetId };
  } catch (error) {
    if (!existing.exists) await dropDatabase(connection, into, where).catch(() => {});
    throw existing.exists ? sayTargetUnchanged(error, manifest, request, into, safetySetId) : error;
  }
}

/**
 * Refuses, before anything is written, what would stop the load half-way:
 * no psql, a role that may not create the new database, extensions the
 * server does not have or the role may not create. Resolves with the
 * restoring role's name.
 */
async function checkRestorePreflight(connection: PostgresConnection, recorded: RecordedPostgresFacts, targetExists: boolean, where: ErrorWhere): Promise<string> {
  await requirePsql(where);
  const role = await readRestoreRole(connection, where);
  if (!targetExists && !role.mayCreateDatabases) {
    throw new RestorableError(`${role.name} may not create databases at ${describePostgresEndpoint(connection)}, so the restore cannot make its target; nothing was changed`, {
      code: 'RESTORE_PREFLIGHT_FAILED',
      where,
      remedy: `ALTER ROLE ${quotePostgresIdentifier(role.name)} CREATEDB; or create the database for it and restore with --into that database`,
    });
  }
  // Also onto an existing target: its schemas the dump holds are dropped with their extensions, which the dump creates again.
  const refusal = describeExtensionProblems(await extensionProblems(connection, recorded.extensions, role, where), role, connection);
  if (refusal) throw new RestorableError(`${refusal.message}; nothing was changed`, { code: 'RESTORE_PREFLIGHT_FAILED', where, details: refusal.details, remedy: refusal.remedy });
  return role.name;
}

/** The roles that owned objects or held grants in the source: here everything belongs to the restoring role. */
function noteRemappedRoles(recorded: RecordedPostgresFacts, account: string, log: RestoreLog): void {
  const owners = recorded.roles.owners.filter((owner) => owner !== account);
  if (owners.length > 0) log.step(`ownership remapped: objects owned by ${owners.join(', ')} in the source are owned by ${account} here (the dump is made --no-owner)`);
  if (recorded.roles.grantees.length > 0) {
    log.step(`grants not restored: ${recorded.roles.grantees.join(', ')} held privileges in the source; grant them again if this copy is to serve them (the dump is made --no-privileges)`);
  }
}

/**
 * Onto a non-empty target the dump's own schemas are replaced whole, in the
 * load's transaction: a plain dump creates its objects without dropping
 * them first, so leftovers would fail the load. Other schemas stay.
 */
function replaceSchemasPrologue(recorded: RecordedPostgresFacts): string {
  const schemas = recorded.inventory?.schemas ?? ['public'];
  const statements = schemas.map((schema) => `DROP SCHEMA IF EXISTS ${schema} CASCADE;`);
  // pg_dump makes no CREATE SCHEMA for public (it is the database's own): put it back empty.
  if (schemas.includes('public')) statements.push('CREATE SCHEMA public;');
  statements.push('SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata;');
  return ['SET client_min_messages = warning;', ...statements].join('\n');
}

/** A failed load into an existing target rolled back: say the target is as it was, and how the safety set would put it back anyway. */
function sayTargetUnchanged(error: unknown, manifest: Manifest, request: DatabaseTarget, into: string, safetySetId: string | undefined): unknown {
  if (!(error instanceof RestorableError)) return error;
  const kept = safetySetId
    ? `; safety set ${safetySetId} holds it too: restorable -c ${request.loaded.path} restore db --set ${safetySetId}${request.source ? ` --source ${request.source}` : ''} --into ${into} --yes`
    : manifest.safety?.of === into
      ? `; restore safety set ${manifest.setId} again once the cause is fixed`
      : '';
  return new RestorableError(`${error.message}; the target was not changed (the load ran in one transaction, rolled back)${kept}`, {
    code: error.code,
    where: error.where,
    details: error.details,
    remedy: error.remedy,
    exitCode: error.exitCode,
    cause: error.cause,
  });
}
