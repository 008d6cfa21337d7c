// Owns `restore db`: a database source of a set back into a server (mysql) or
// a file (sqlite). Fresh target by default; a target that is not empty is
// refused and left unchanged unless the operator confirmed (`--yes`, or typed
// the database name on a TTY). The artifact's sha256 is checked as it streams
// (and before anything is written into an existing target); a failed restore
// into a database we created drops it again, so nothing half-restored stays.
// mysql: restores as --defaults-file's account, else restore.mysql's, else the
// source's; the pre-flight (mysql-restore-preflight.ts) refuses before the
// first statement what would fail half-way; a non-empty target is first
// dumped into a safety set (restore-safety.ts), and a load that fails after
// changing the target names the command that puts it back.

import { createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm, stat, open as openFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { integrityProblems, openSqlite } from '../sources/sqlite-database.ts';
import { RestorableError } from '../core/errors.ts';
import type { ArtifactRecord, Manifest } from '../core/manifest.ts';
import type { LoadedConfig } from '../config/load.ts';
import { resolveSetId, type SetReader } from '../storage/set-reader.ts';
import { HashingPassThrough, ByteCounter } from '../stages/hash.ts';
import { prepareSource } from '../sources/registry.ts';
import type { ResolvedMysqlSource } from '../sources/mysql.ts';
import type { ResolvedSqliteSource } from '../sources/sqlite.ts';
import { describeEndpoint, withAccountOverride, type MysqlConnection } from '../sources/mysql-connection.ts';
import { createDatabase, describeDisabledEvents, restoreFactsOf, dropDatabase, inspectTargetDatabase, loadCompressedDump } from '../sources/mysql-restore.ts';
import { checkRestorePreflight, type RecordedDumpFacts } from '../sources/mysql-restore-preflight.ts';
import { readClientOptionFile } from '../sources/mysql-option-file.ts';
import { takeSafetySet } from './restore-safety.ts';
import { ensurePrivateDir } from '../storage/local-repository.ts';
import { systemClock, type Clock, type RunReporter } from './ports.ts';
import { createDecompressor, decompressCommand, describeDecompressionError } from '../stages/codec.ts';

export const DATABASE_TYPES = ['mysql', 'sqlite'];

export interface RestoreDbRequest {
  loaded: LoadedConfig;
  reader: SetReader;
  set?: string;
  source?: string;
  /** mysql: a database name; sqlite: a file path. */
  into?: string;
  /** Restore onto a non-empty target without asking. */
  yes: boolean;
  /** On a TTY: asks the operator to type the target's name; undefined elsewhere. */
  confirm?: (question: string) => Promise<string>;
  reporter: RunReporter;
  signal?: AbortSignal;
  /** mysql: restore as the account of this MySQL option file's [client] section (wins over restore.mysql). */
  defaultsFile?: string;
  /** When the safety set is taken (its id and expiry); the system clock by default. */
  clock?: Clock;
}

export interface RestoreDbOutcome {
  setId: string;
  source: string;
  type: string;
  /** "database shop_restored at 127.0.0.1:3306" or "file /srv/app/database.sqlite". */
  target: string;
  created: boolean;
  rawBytes: number;
  durationMs: number;
  /** mysql: the account that restored (CURRENT_USER()). */
  account?: string;
  /** mysql: the safety set taken of the target before it was written over. */
  safetySetId?: string;
}

/** The database artifact of a set: the only one, or the one named. */
export function chooseDatabaseArtifact(manifest: Manifest, sourceName: string | undefined): ArtifactRecord {
  const candidates = manifest.artifacts.filter((artifact) => DATABASE_TYPES.includes(artifact.type));
  if (sourceName) {
    const named = manifest.artifacts.find((artifact) => artifact.source === sourceName);
    if (!named || !DATABASE_TYPES.includes(named.type)) {
      throw new RestorableError(`set ${manifest.setId} has no database source named ${sourceName}`, {
        code: 'USAGE',
        remedy: candidates.length ? `its database sources: ${candidates.map((artifact) => artifact.source).join(', ')}` : 'this set holds no database',
      });
    }
    return named;
  }
  if (candidates.length !== 1) {
    throw new RestorableError(candidates.length ? `set ${manifest.setId} has several database sources: say which with --source` : `set ${manifest.setId} holds no database`, {
      code: 'USAGE',
      remedy: candidates.length ? `one of: ${candidates.map((artifact) => artifact.source).join(', ')}` : 'restore files with `restorable restore files`',
    });
  }
  return candidates[0]!;
}

export async function restoreDatabase(request: RestoreDbRequest): Promise<RestoreDbOutcome> {
  const setId = await resolveSetId(request.reader, request.set);
  const manifest = await request.reader.readManifest(setId);
  const artifact = chooseDatabaseArtifact(manifest, request.source);
  const configured = request.loaded.config.sources[artifact.source];
  if (!configured || configured.type !== artifact.type) {
    throw new RestorableError(`source ${artifact.source} (${artifact.type}) of set ${setId} is not configured as a ${artifact.type} source any more`, {
      code: 'USAGE',
      remedy: `restore with the configuration the set was made with, or restore the artifact by hand (${restoreByHand(artifact)})`,
    });
  }
  const prepared = prepareSource(artifact.source, configured, request.loaded.directory);
  const started = performance.now();
  if (artifact.type === 'mysql') {
    return { ...(await restoreMysql(request, manifest, artifact, prepared.settings as ResolvedMysqlSource)), durationMs: Math.round(performance.now() - started) };
  }
  return { ...(await restoreSqlite(request, manifest, artifact, prepared.settings as ResolvedSqliteSource)), durationMs: Math.round(performance.now() - started) };
}

async function restoreMysql(request: RestoreDbRequest, manifest: Manifest, artifact: ArtifactRecord, settings: ResolvedMysqlSource): Promise<Omit<RestoreDbOutcome, 'durationMs'>> {
  const connection = restoreConnection(request, settings);
  const where = { source: artifact.source };
  const into = request.into ?? `${settings.connection.database}_restored_${manifest.setId.replace(/\D/g, '').slice(0, 14)}`;
  const target = `database ${into} at ${describeEndpoint(connection)}`;
  const existing = await inspectTargetDatabase(connection, into, where);
  const nonEmpty = existing.exists && existing.objectCount > 0;
  if (nonEmpty) await confirmOverwrite(request, into, `${target} is not empty (${existing.objectCount} tables, views, routines or events)`);
  // Before the first statement (and before a safety dump): would this account on this server get through the whole dump?
  const facts = artifact.details as RecordedDumpFacts;
  const preflight = await checkRestorePreflight({ connection, database: into, targetExists: existing.exists, facts, what: `set ${manifest.setId}`, where });
  preflight.notes.forEach((note) => request.reporter.step(note));
  preflight.warnings.forEach((warning) => request.reporter.warn(warning));
  let safety: Manifest | undefined;
  if (nonEmpty) {
    // Nothing goes into a live database before the whole artifact proved intact.
    await checkArtifactIntact(request.reader, artifact);
    if (manifest.safety?.of === into) {
      request.reporter.step(`set ${manifest.setId} is the safety set of ${into}: putting it back, without a new safety set`);
    } else {
      safety = await takeSafetySet({
        loaded: request.loaded,
        sourceName: artifact.source,
        source: settings,
        target: { ...connection, database: into },
        restoring: manifest.setId,
        clock: request.clock ?? systemClock,
        reporter: request.reporter,
        signal: request.signal,
      });
    }
  }
  request.reporter.step(`restoring ${artifact.source} of set ${manifest.setId} into ${target}${existing.exists ? '' : ' (new)'} as ${preflight.account}`);
  const recorded = restoreFactsOf(artifact.details);
  if (!existing.exists) await createDatabase(connection, into, where, recorded.defaults);
  const scratch = await mkdtemp(resolve(request.loaded.repositoryPath, '.restorable', 'restore-'));
  try {
    // Progress counts the artifact's bytes as read: the SQL goes from the
    // decompressor through the portability rewriter to the client (loadCompressedDump).
    const counter = new ByteCounter((bytes) => request.reporter.progress(artifact.source, bytes));
    const hash = new HashingPassThrough();
    const input = await request.reader.openArtifact(artifact.path);
    const compressed = input.pipe(counter).pipe(hash);
    input.on('error', (error) => compressed.destroy(error));
    counter.on('error', (error) => compressed.destroy(error));
    const loaded = await loadCompressedDump({
      connection,
      database: into,
      source: recorded.sourceDatabase === undefined ? undefined : { database: recorded.sourceDatabase, objectNames: recorded.objectNames },
      compressed,
      compression: artifact.compression,
      scratchDir: scratch,
      where,
      signal: request.signal,
      largestStatementBytes: typeof facts.maxStatementBytes === 'number' ? facts.maxStatementBytes : undefined,
    });
    assertHash(artifact, hash);
    if (loaded.disabledEvents.length > 0) request.reporter.step(describeDisabledEvents(loaded.disabledEvents, into));
    // The decompressor checked the length it promised (gzip ISIZE and CRC, zstd's checksum) and the sha256 matches: the raw size is the recorded one.
    return { setId: manifest.setId, source: artifact.source, type: artifact.type, target, created: !existing.exists, rawBytes: artifact.rawSizeBytes, account: preflight.account, safetySetId: safety?.setId };
  } catch (error) {
    if (!existing.exists) await dropDatabase(connection, into, where).catch(() => {});
    const explained = await explainStreamFailure(request.reader, artifact, error);
    throw existing.exists ? sayWhatBecameOfTheTarget(explained, request, into, nonEmpty, safety, manifest) : explained;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The server and account to restore as: --defaults-file, else restore.mysql, else the source's own. */
function restoreConnection(request: RestoreDbRequest, settings: ResolvedMysqlSource): MysqlConnection {
  if (request.defaultsFile) return withAccountOverride(settings.connection, readClientOptionFile(request.defaultsFile), process.cwd(), '--defaults-file');
  return withAccountOverride(settings.connection, request.loaded.config.restore.mysql, request.loaded.directory, 'restore.mysql');
}

/**
 * A load into an existing database failed after statements went in: the
 * operator must know the target was changed and how to put it back.
 */
function sayWhatBecameOfTheTarget(error: unknown, request: RestoreDbRequest, into: string, wasNonEmpty: boolean, safety: Manifest | undefined, manifest: Manifest): unknown {
  if (!(error instanceof RestorableError)) return error;
  // No client, no statement: the target is as it was (the safety set stays until it expires).
  if (error.code === 'CLIENT_TOOL_MISSING') return new RestorableError(`${error.message}; the target was not touched`, { code: error.code, where: error.where, details: error.details, remedy: error.remedy, exitCode: error.exitCode, cause: error.cause });
  const config = `-c ${request.loaded.path} `;
  let state: string;
  let remedy: string;
  if (safety) {
    const command = `restorable ${config}restore db --set ${safety.setId}${request.source ? ` --source ${request.source}` : ''} --into ${into} --yes`;
    state = `the target was changed; it is restorable from safety set ${safety.setId}: ${command}`;
    remedy = `${error.remedy ? `${error.remedy}; ` : ''}to put ${into} back as it was: ${command}`;
  } else if (manifest.safety?.of === into) {
    state = `the target was changed; restore safety set ${manifest.setId} again once the cause is fixed`;
    remedy = error.remedy ?? 'fix the cause and restore again';
  } else {
    state = wasNonEmpty ? 'the target was changed' : `the target was changed (it was empty before: DROP DATABASE ${into} or restore again)`;
    remedy = error.remedy ?? 'fix the cause and restore again';
  }
  return new RestorableError(`${error.message}; ${state}`, { code: error.code, where: error.where, details: error.details, remedy, exitCode: error.exitCode, cause: error.cause });
}

async function restoreSqlite(request: RestoreDbRequest, manifest: Manifest, artifact: ArtifactRecord, settings: ResolvedSqliteSource): Promise<Omit<RestoreDbOutcome, 'durationMs'>> {
  const into = resolve(request.into ?? `${settings.databasePath}.restored-${manifest.setId}`);
  const target = `file ${into}`;
  const existingSize = await stat(into).then((info) => info.size, () => undefined);
  if (existingSize !== undefined && existingSize > 0) await confirmOverwrite(request, into, `${target} exists and is not empty`);
  request.reporter.step(`restoring ${artifact.source} of set ${manifest.setId} into ${target}`);
  await ensurePrivateDir(dirname(into)).catch(() => {});
  const partial = `${into}.partial`;
  const counter = new ByteCounter((bytes) => request.reporter.progress(artifact.source, bytes));
  const hash = new HashingPassThrough();
  try {
    await pipeline(await request.reader.openArtifact(artifact.path), hash, createDecompressor(artifact.compression), counter, createWriteStream(partial, { mode: 0o600 }), { signal: request.signal });
    assertHash(artifact, hash);
    const handle = await openFile(partial, 'r');
    await handle.sync();
    await handle.close();
    const copy = openSqlite(partial, { readonly: true });
    try {
      const problems = integrityProblems(copy);
      if (problems.length) throw new RestorableError('the restored SQLite database fails its integrity check', { code: 'RESTORE_FAILED', details: problems.slice(0, 10) });
    } finally {
      copy.close();
    }
    // Atomic: the target is either the old file or the complete restored one.
    await rename(partial, into);
  } catch (error) {
    await rm(partial, { force: true });
    throw await explainStreamFailure(request.reader, artifact, error);
  }
  return { setId: manifest.setId, source: artifact.source, type: artifact.type, target, created: existingSize === undefined, rawBytes: counter.byteCount };
}

async function confirmOverwrite(request: RestoreDbRequest, name: string, problem: string): Promise<void> {
  if (request.yes) return;
  if (request.confirm) {
    const typed = await request.confirm(`${problem}. Restoring will change it. Type its name (${name}) to go on: `);
    if (typed.trim() === name) return;
  }
  throw new RestorableError(`${problem}; nothing was changed`, {
    code: 'RESTORE_REFUSED',
    remedy: 'restore into a new database with --into NEW (the default), or pass --yes to restore onto it',
  });
}

/**
 * When a restore stream fails, a damaged artifact is the likelier cause than
 * whatever broke downstream: check the stored file, and report its damage if
 * it has any; otherwise the original error stands.
 */
async function explainStreamFailure(reader: SetReader, artifact: ArtifactRecord, error: unknown): Promise<unknown> {
  if (error instanceof RestorableError && error.code === 'ARTIFACT_DAMAGED') return error;
  try {
    await checkArtifactIntact(reader, artifact);
  } catch (damage) {
    if (damage instanceof RestorableError) return damage;
    const problem = describeDecompressionError(damage);
    if (problem) {
      return new RestorableError(`${artifact.path} is damaged: ${problem}`, {
        code: 'ARTIFACT_DAMAGED',
        where: { source: artifact.source, path: artifact.path },
        remedy: 'restore from another set (`restorable list`) or an offsite copy; run `restorable verify --all`',
      });
    }
  }
  return error;
}

async function checkArtifactIntact(reader: SetReader, artifact: ArtifactRecord): Promise<void> {
  const hash = new HashingPassThrough();
  // Hash to the end first: a flipped byte is "sha256 differs", not an echo in the decompressor.
  await pipeline(await reader.openArtifact(artifact.path), hash, async function* drain(source: AsyncIterable<Buffer>) {
    for await (const _chunk of source) {
      // reading is the check
    }
  });
  assertHash(artifact, hash);
  await pipeline(await reader.openArtifact(artifact.path), createDecompressor(artifact.compression), async function* drain(source: AsyncIterable<Buffer>) {
    for await (const _chunk of source) {
      // decompressing to the end checks gzip's CRC and length, or zstd's content checksum
    }
  });
}

/** The stock commands that restore the artifact without restorable. */
function restoreByHand(artifact: ArtifactRecord): string {
  const decompress = decompressCommand(artifact.compression, 'artifact');
  return artifact.type === 'sqlite' ? `${decompress} > database.sqlite` : `${decompress} | mysql DB`;
}

function assertHash(artifact: ArtifactRecord, hash: HashingPassThrough): void {
  const actual = hash.digestHex();
  if (actual !== artifact.sha256 || hash.byteCount !== artifact.sizeBytes) {
    throw new RestorableError(`${artifact.path} is damaged: its sha256 differs from the manifest's`, {
      code: 'ARTIFACT_DAMAGED',
      where: { source: artifact.source, path: artifact.path },
      details: [`expected ${artifact.sha256} (${artifact.sizeBytes} bytes)`, `got      ${actual} (${hash.byteCount} bytes)`],
      remedy: 'restore from another set (`restorable list`) or an offsite copy; run `restorable verify --all`',
    });
  }
}

