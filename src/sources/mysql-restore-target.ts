// Owns `restore db` for a mysql artifact: a fresh database by default
// (`<database>_restored_<set id>`), or an existing one the operator confirmed.
// It restores as --defaults-file's account, else restore.mysql's, else the
// source's; the pre-flight (mysql-restore-preflight.ts) refuses before the
// first statement what would fail half-way. A non-empty target is not
// written before the whole artifact proved intact and a safety set of it was
// taken (the job's backup machinery, through the target's takeSafetySet);
// a load that fails after changing the target names the command that puts
// it back, and a database this restore created is dropped again.

import { RestorableError } from '../core/errors.ts';
import type { Manifest } from '../core/manifest.ts';
import { describeEndpoint, withAccountOverride, type MysqlConnection } from './mysql-connection.ts';
import { readClientOptionFile } from './mysql-option-file.ts';
import { createDatabase, describeDisabledEvents, dropDatabase, inspectTargetDatabase, loadCompressedDump, restoreFactsOf } from './mysql-restore.ts';
import { checkRestorePreflight, type RecordedDumpFacts } from './mysql-restore-preflight.ts';
import type { ResolvedMysqlSource } from './mysql.ts';
import { assertReadSound, checkIntact, explainReadFailure, openHashed } from '../storage/verified-read.ts';
import { confirmOverwrite, type DatabaseRestored, type DatabaseTarget, type RestoreContext } from './source-restore.ts';

/** The source's settings now, or a usage error: a mysql artifact restores with its source's server and account. */
export function mysqlSettingsOf(context: RestoreContext, remedy: string): ResolvedMysqlSource {
  const settings = context.settings() as ResolvedMysqlSource | undefined;
  if (!settings) throw new RestorableError(`source ${context.artifact.source} is not configured as a mysql source any more`, { code: 'USAGE', remedy });
  return settings;
}

export async function restoreMysql(context: RestoreContext, request: DatabaseTarget): Promise<DatabaseRestored> {
  const { manifest, artifact, log } = context;
  const settings = mysqlSettingsOf(context, 'restore with the configuration the set was made with');
  const connection = restoreConnection(settings.connection, request);
  const where = { source: artifact.source };
  const into = request.into ?? `${settings.connection.database}_restored_${manifest.setId.replace(/\D/g, '').slice(0, 14)}`;
  const target = `database ${into} at ${describeEndpoint(connection)}`;
  const existing = await inspectTargetDatabase(connection, into, where);
  const nonEmpty = existing.exists && existing.objectCount > 0;
  if (nonEmpty) await confirmOverwrite(request, into, `${target} is not empty (${existing.objectCount} tables, views, routines or events)`);
  // Before the first statement (and before a safety dump): would this account on this server get through the whole dump?
  const facts = artifact.details as RecordedDumpFacts;
  const preflight = await checkRestorePreflight({ connection, database: into, targetExists: existing.exists, facts, what: `set ${manifest.setId}`, where });
  preflight.notes.forEach((note) => log.step(note));
  preflight.warnings.forEach((warning) => log.warn(warning));
  let safetySetId: string | undefined;
  if (nonEmpty) {
    // Nothing goes into a live database before the whole artifact proved intact.
    await checkIntact(context.reader, artifact, context.signal);
    if (manifest.safety?.of === into) {
      log.step(`set ${manifest.setId} is the safety set of ${into}: putting it back, without a new safety set`);
    } else {
      const targetConnection = { ...connection, database: into };
      const targetSettings: ResolvedMysqlSource = { config: { ...settings.config, database: into }, connection: targetConnection };
      safetySetId = await request.takeSafetySet(targetSettings, into);
    }
  }
  log.step(`restoring ${artifact.source} of set ${manifest.setId} into ${target}${existing.exists ? '' : ' (new)'} as ${preflight.account}`);
  const recorded = restoreFactsOf(artifact.details);
  if (!existing.exists) await createDatabase(connection, into, where, recorded.defaults);
  try {
    // Progress counts the artifact's bytes as read: the SQL goes from the
    // decompressor through the portability rewriter to the client (loadCompressedDump).
    const stored = await openHashed(context.reader, artifact, (bytes) => log.progress(artifact.source, bytes));
    const loaded = await loadCompressedDump({
      connection,
      database: into,
      source: recorded.sourceDatabase === undefined ? undefined : { database: recorded.sourceDatabase, objectNames: recorded.objectNames },
      compressed: stored.stream,
      compression: artifact.compression,
      scratchDir: request.scratchDir,
      where,
      signal: context.signal,
      largestStatementBytes: typeof facts.maxStatementBytes === 'number' ? facts.maxStatementBytes : undefined,
    });
    assertReadSound(artifact, stored.read());
    if (loaded.disabledEvents.length > 0) log.step(describeDisabledEvents(loaded.disabledEvents, into));
    // The decompressor checked the length it promised (gzip ISIZE and CRC, zstd's checksum) and the sha256 matches: the raw size is the recorded one.
    return { content: 'database', target, created: !existing.exists, rawBytes: artifact.rawSizeBytes, account: preflight.account, safetySetId };
  } catch (error) {
    if (!existing.exists) await dropDatabase(connection, into, where).catch(() => {});
    const explained = await explainReadFailure(context.reader, artifact, error);
    throw existing.exists ? sayWhatBecameOfTheTarget(explained, { context, request, into, wasNonEmpty: nonEmpty, safetySetId }) : explained;
  }
}

/** The server and account to restore as: --defaults-file, else restore.mysql, else the source's own. */
function restoreConnection(source: MysqlConnection, request: DatabaseTarget): MysqlConnection {
  if (request.defaultsFile) return withAccountOverride(source, readClientOptionFile(request.defaultsFile), process.cwd(), '--defaults-file');
  return withAccountOverride(source, request.loaded.config.restore.mysql, request.loaded.directory, 'restore.mysql');
}

interface TargetFate {
  context: RestoreContext;
  request: DatabaseTarget;
  into: string;
  wasNonEmpty: boolean;
  safetySetId: string | undefined;
}

/**
 * A load into an existing database failed after statements went in: the
 * operator must know the target was changed and how to put it back.
 */
function sayWhatBecameOfTheTarget(error: unknown, fate: TargetFate): unknown {
  if (!(error instanceof RestorableError)) return error;
  const { context, request, into, safetySetId } = fate;
  const manifest: Manifest = context.manifest;
  // No client, no statement: the target is as it was (the safety set stays until it expires).
  if (error.code === 'CLIENT_TOOL_MISSING') return new RestorableError(`${error.message}; the target was not touched`, { code: error.code, where: error.where, details: error.details, remedy: error.remedy, exitCode: error.exitCode, cause: error.cause });
  let state: string;
  let remedy: string;
  if (safetySetId) {
    const command = `restorable -c ${request.loaded.path} restore db --set ${safetySetId}${request.source ? ` --source ${request.source}` : ''} --into ${into} --yes`;
    state = `the target was changed; it is restorable from safety set ${safetySetId}: ${command}`;
    remedy = `${error.remedy ? `${error.remedy}; ` : ''}to put ${into} back as it was: ${command}`;
  } else if (manifest.safety?.of === into) {
    state = `the target was changed; restore safety set ${manifest.setId} again once the cause is fixed`;
    remedy = error.remedy ?? 'fix the cause and restore again';
  } else {
    state = fate.wasNonEmpty ? 'the target was changed' : `the target was changed (it was empty before: DROP DATABASE ${into} or restore again)`;
    remedy = error.remedy ?? 'fix the cause and restore again';
  }
  return new RestorableError(`${error.message}; ${state}`, { code: error.code, where: error.where, details: error.details, remedy, exitCode: error.exitCode, cause: error.cause });
}
