// Owns the restore drill: prove a set restorable by restoring it for real and
// comparing with the facts recorded at backup time. Each database goes into a
// scratch database (mysql) or scratch file (sqlite) and is compared table by
// table (row counts and row digests of a re-dump, object inventory) and with the configured smoke
// queries; each file source is restored into a scratch directory and every
// entry compared with the set's index (type, mode, size, sha256, link target).
// The time each restore took is the measured RTO (also when it failed: the
// time it ran until then). Scratch databases and directories are always
// removed — after failures and interrupts too — and the next drill sweeps any
// a killed drill left. Scratch database names carry a hash of the repository's
// real path, so drills of two applications on one server never touch each
// other's. The result is recorded in the run history, which `list`, `check`
// and the report read; an interrupted drill is recorded as `aborted`, which
// proves nothing either way.

import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { createReadStream, createWriteStream, realpathSync } from 'node:fs';
import { lstat, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { countRows, integrityProblems, openSqlite } from '../sources/sqlite-database.ts';
import { asRestorableError, RestorableError } from '../core/errors.ts';
import type { ArtifactRecord, Manifest } from '../core/manifest.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { DrillConfig } from '../config/schema.ts';
import { resolveSetId, type SetReader } from '../storage/set-reader.ts';
import { ensurePrivateDir, STATE_DIR } from '../storage/local-repository.ts';
import { acquireJobLock } from '../storage/job-lock.ts';
import { appendRun } from '../storage/run-history.ts';
import { prepareSource } from '../sources/registry.ts';
import type { ResolvedMysqlSource } from '../sources/mysql.ts';
import { describeEndpoint, withAccountOverride, type MysqlConnection } from '../sources/mysql-connection.ts';
import { MysqlSession, readInventory } from '../sources/mysql-inventory.ts';
import { createDatabase, databasesWithPrefix, dropDatabase, loadCompressedDump, quoteIdentifier, restoreFactsOf } from '../sources/mysql-restore.ts';
import { compareTables, redumpDatabase, type RecordedTableFacts } from '../sources/mysql-drill-compare.ts';
import { HashingPassThrough } from '../stages/hash.ts';
import { createDecompressor, describeDecompressionError } from '../stages/codec.ts';
import { readBoundedLines } from '../storage/bounded-lines.ts';
import { runRestoreFiles } from './restore-files.ts';
import { notifierForJob } from './job-notifier.ts';
import { silentReporter, type Clock, type RunReporter } from './ports.ts';

/** Every scratch database a drill makes starts with this, then the repository's hash. */
export const SCRATCH_DATABASE_PREFIX = 'restorable_drill_';
/** MySQL and MariaDB refuse database names longer than this. */
const MAX_IDENTIFIER_LENGTH = 64;
const MAX_DIFFERENCES = 50;

/**
 * `restorable_drill_<first 8 hex of sha256(real path of the repository)>_`:
 * the names of this repository's scratch databases start with it, and its
 * sweep drops only those. Another application drilling on the same server
 * has another repository, so another prefix.
 */
export function scratchPrefixFor(repositoryRoot: string): string {
  let path = repositoryRoot;
  try {
    path = realpathSync(repositoryRoot);
  } catch {
    // Not there (yet): the path as configured still tells repositories apart.
  }
  return `${SCRATCH_DATABASE_PREFIX}${createHash('sha256').update(path).digest('hex').slice(0, 8)}_`;
}

/** `<prefix><set id digits>_<pid>`: 48 characters for a set id of 14 digits, under the 64 allowed. */
export function scratchDatabaseName(repositoryRoot: string, setId: string, pid = process.pid): string {
  const prefix = scratchPrefixFor(repositoryRoot);
  const suffix = `_${pid}`;
  return `${prefix}${setId.replace(/\D/g, '').slice(0, MAX_IDENTIFIER_LENGTH - prefix.length - suffix.length)}${suffix}`;
}

export interface SourceDrillResult {
  source: string;
  type: string;
  ok: boolean;
  /** How long the restore alone took: the measured RTO of this source. */
  restoreMs: number;
  /** How long the comparison took. */
  compareMs: number;
  /** What was compared, e.g. "3 table(s), 3 row digest(s), 5 object(s), 1 query" or "1204 entries". */
  compared: string;
  differences: string[];
  /** What was not compared and why, or what differed without being a failure. */
  notes: string[];
  /** Set when the restore itself failed (nothing could be compared): what happened, in a phrase. */
  restoreFailure?: {
    code: string;
    summary: string;
    remedy?: string;
    /** `compare`: the restore worked, but the restored copy could not be read back to compare it. */
    stage?: 'compare';
  };
}

export interface DrillOutcome {
  setId: string;
  /** `aborted`: interrupted (Ctrl-C, SIGTERM); proves nothing, announces nothing. */
  status: 'ok' | 'failed' | 'aborted';
  startedAt: string;
  durationMs: number;
  results: SourceDrillResult[];
  /** Scratch leftovers of an earlier, interrupted drill that were removed. */
  swept: string[];
  error?: RestorableError;
}

export interface DrillRequest {
  loaded: LoadedConfig;
  reader: SetReader;
  set?: string;
  clock: Clock;
  reporter: RunReporter;
  signal?: AbortSignal;
}

export async function runDrill(request: DrillRequest): Promise<DrillOutcome> {
  const { loaded, reader, reporter } = request;
  const startedAt = request.clock.now();
  const started = performance.now();
  const root = loaded.repositoryPath;
  // One drill or backup at a time: they share the scratch names and the server.
  const lock = await acquireJobLock(root, 'drill', startedAt);
  const scratchDir = join(root, STATE_DIR, `drill-${process.pid}-${randomUUID().slice(0, 8)}`);
  const results: SourceDrillResult[] = [];
  const swept: string[] = [];
  let setId = request.set ?? 'latest';
  try {
    if (lock.tookOverFrom) reporter.warn(`took over the lock of a dead run (pid ${lock.tookOverFrom.pid}, started ${lock.tookOverFrom.startedAt})`);
    setId = await resolveSetId(reader, request.set);
    const manifest = await reader.readManifest(setId);
    swept.push(...(await sweepScratchLeftovers(loaded, manifest, reporter)));
    await ensurePrivateDir(scratchDir);
    reporter.step(`drill of set ${setId} (${reader.describe()}): ${manifest.artifacts.length} source(s)`);
    for (const artifact of manifest.artifacts) {
      request.signal?.throwIfAborted();
      const result = await drillArtifact(request, manifest, artifact, scratchDir);
      results.push(result);
      const seconds = (result.restoreMs / 1000).toFixed(1);
      reporter.step(
        result.restoreFailure?.stage === 'compare'
          ? `${artifact.source}: FAILED — restored in ${seconds} s, but the comparison failed: ${result.restoreFailure.summary}`
          : result.restoreFailure
          ? `${artifact.source}: FAILED — the restore failed after ${seconds} s: ${result.restoreFailure.summary}`
          : `${artifact.source}: ${result.ok ? 'restorable' : 'FAILED'} — restored in ${seconds} s, compared ${result.compared}` +
              (result.ok ? '' : `; ${result.differences.length} difference(s)`),
      );
      for (const difference of result.differences.slice(0, 10)) reporter.warn(`${artifact.source}: ${difference}`);
      for (const note of result.notes.slice(0, 10)) reporter.step(`${artifact.source}: note: ${note}`);
    }
    // An interrupt that came while the last source finished is still an interrupt.
    request.signal?.throwIfAborted();
    const outcome: DrillOutcome = {
      setId,
      status: results.every((result) => result.ok) ? 'ok' : 'failed',
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - started),
      results,
      swept,
    };
    await record(root, outcome, request.clock);
    return outcome;
  } catch (error) {
    const aborted = request.signal?.aborted === true;
    const failure = aborted
      ? new RestorableError(`the drill was ${String(request.signal!.reason ?? 'interrupted')}; its scratch databases and directories were removed`, {
          code: 'INTERRUPTED',
          remedy: 'run the drill again; an interrupted drill is recorded as aborted and changes neither `check` nor `list`',
        })
      : asRestorableError(error, 'DRILL_FAILED');
    const outcome: DrillOutcome = { setId, status: aborted ? 'aborted' : 'failed', startedAt: startedAt.toISOString(), durationMs: Math.round(performance.now() - started), results, swept, error: failure };
    await record(root, outcome, request.clock).catch(() => {});
    return outcome;
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
    await lock.release();
  }
}

/**
 * Announces a failed drill (`drill_failed`) through the job's channels. Only
 * for `failed`: an aborted drill was stopped by someone, which nobody needs
 * to be paged for. `onProblem` hears about channels that failed.
 */
export async function announceDrillFailure(loaded: LoadedConfig, outcome: DrillOutcome, clock: Clock, onProblem: (message: string) => void): Promise<void> {
  if (outcome.status !== 'failed') return;
  const notifier = notifierForJob(loaded, clock, onProblem);
  await notifier.send({
    kind: 'drill_failed',
    job: loaded.config.app,
    host: hostname(),
    at: clock.now().toISOString(),
    setId: outcome.setId,
    differences: outcome.results.flatMap((result) => result.differences.map((difference) => `${result.source}: ${difference}`)),
    ...(outcome.error ? { error: { message: outcome.error.message, code: outcome.error.code, where: outcome.error.where, remedy: outcome.error.remedy, details: outcome.error.details } } : {}),
  } as Parameters<typeof notifier.send>[0]);
}

async function record(root: string, outcome: DrillOutcome, clock: Clock): Promise<void> {
  await appendRun(root, {
    runId: randomUUID(),
    command: 'drill',
    status: outcome.status,
    startedAt: outcome.startedAt,
    finishedAt: clock.now().toISOString(),
    durationMs: outcome.durationMs,
    setId: outcome.setId,
    ...(outcome.error ? { error: { code: outcome.error.code, message: outcome.error.message, remedy: outcome.error.remedy, source: outcome.error.where.source } } : {}),
    details: {
      restoreSeconds: Object.fromEntries(outcome.results.map((result) => [result.source, result.restoreMs / 1000])),
      results: outcome.results.map((result) => ({ ...result, differences: result.differences.slice(0, MAX_DIFFERENCES) })),
    },
  });
}

async function drillArtifact(request: DrillRequest, manifest: Manifest, artifact: ArtifactRecord, scratchDir: string): Promise<SourceDrillResult> {
  const base = { source: artifact.source, type: artifact.type };
  const restoreTimer = new RestoreTimer();
  try {
    switch (artifact.type) {
      case 'mysql':
        return { ...base, ...(await drillMysql(request, manifest, artifact, scratchDir, restoreTimer)) };
      case 'sqlite':
        return { ...base, ...(await drillSqlite(request, artifact, scratchDir, restoreTimer)) };
      case 'files':
        return { ...base, ...(await drillFiles(request, manifest, artifact, scratchDir, restoreTimer)) };
      default:
        return { ...base, ok: false, restoreMs: 0, compareMs: 0, compared: 'nothing', differences: [`no drill for sources of type ${artifact.type}`], notes: [] };
    }
  } catch (error) {
    if (request.signal?.aborted) throw error;
    const restoreMs = restoreTimer.elapsedMs();
    const restoreFailure = describeRestoreFailure(error, request.loaded, artifact);
    if (restoreFailure.stage === 'compare') {
      return { ...base, ok: false, restoreMs, compareMs: 0, compared: 'nothing (the comparison failed)', differences: [`${restoreFailure.summary}${restoreFailure.remedy ? ` (next: ${restoreFailure.remedy})` : ''}`], notes: [], restoreFailure };
    }
    return {
      ...base,
      ok: false,
      restoreMs,
      compareMs: 0,
      compared: 'nothing (the restore failed)',
      differences: [
        `the restore of ${artifact.path} failed after ${(restoreMs / 1000).toFixed(1)} s: ${restoreFailure.summary}${restoreFailure.remedy ? ` (next: ${restoreFailure.remedy})` : ''}`,
      ],
      notes: [],
      restoreFailure,
    };
  }
}

/** Times the restore alone; what it reads when the restore fails is the time spent until then. */
class RestoreTimer {
  #startedAt: number | undefined;
  #stoppedAt: number | undefined;

  start(): void {
    this.#startedAt = performance.now();
  }

  stop(): number {
    this.#stoppedAt = performance.now();
    return this.elapsedMs();
  }

  elapsedMs(): number {
    if (this.#startedAt === undefined) return 0;
    return Math.round((this.#stoppedAt ?? performance.now()) - this.#startedAt);
  }
}

/** What happened, in a phrase for the drill's summary: damage, a login refused, a missing privilege, or the error itself. */
function describeRestoreFailure(error: unknown, loaded: LoadedConfig, artifact: ArtifactRecord): NonNullable<SourceDrillResult['restoreFailure']> {
  const damage = describeDecompressionError(error);
  if (damage) return { code: 'ARTIFACT_DAMAGED', summary: `the artifact is damaged: ${damage}` };
  const failure = asRestorableError(error);
  const remedy = failure.remedy;
  if (failure.code === 'DRILL_COMPARE_FAILED') return { code: failure.code, summary: failure.message, remedy, stage: 'compare' };
  if (failure.code === 'DRILL_LOGIN_REFUSED') return { code: failure.code, summary: failure.message, remedy };
  const text = [failure.message, ...(failure.details ?? [])].join('\n');
  const privilege = /\bERROR (1044|1142|1143|1227|1370|1410)\b|Access denied|command denied/i.test(text) || failure.code === 'MYSQL_PRIVILEGES_MISSING' || failure.code === 'MYSQL_ACCESS_DENIED';
  if (artifact.type === 'mysql' && privilege) {
    const account = loaded.config.drill.mysql ? 'the drill account (drill.mysql)' : `the account of sources.${artifact.source}`;
    return {
      code: 'DRILL_PRIVILEGES_MISSING',
      summary: `${account} lacks a privilege the restore needs: ${failure.message}`,
      remedy:
        // The restore's own remedy holds the runnable GRANT (the account as the server sees it, the scratch-name pattern).
        (failure.remedy?.includes('GRANT ') ? `${failure.remedy}; ` : '') +
        'grant it what the message names: a drill creates and drops databases named restorable_drill_*, and recreates views, routines, triggers ' +
        'and events with their DEFINER, which takes SET USER (MariaDB) or SET_USER_ID/SYSTEM_USER (MySQL) when the definer is another account; ' +
        'or point drill.mysql at an account that has them',
    };
  }
  return { code: failure.code, summary: failure.message, remedy };
}

type Measured = Omit<SourceDrillResult, 'source' | 'type'>;

// ---- mysql -------------------------------------------------------------------

/** The account and server scratch databases are made with: `drill.mysql` over the source's own. */
function drillConnection(loaded: LoadedConfig, source: ResolvedMysqlSource, drill: DrillConfig): MysqlConnection {
  return withAccountOverride(source.connection, drill.mysql, loaded.directory, 'drill.mysql');
}

function mysqlSourceOf(loaded: LoadedConfig, artifact: ArtifactRecord): ResolvedMysqlSource {
  const configured = loaded.config.sources[artifact.source];
  if (!configured || configured.type !== 'mysql') {
    throw new RestorableError(`source ${artifact.source} is not configured as a mysql source any more`, { code: 'USAGE', remedy: 'drill with the configuration the set was made with' });
  }
  return prepareSource(artifact.source, configured, loaded.directory).settings as ResolvedMysqlSource;
}

/**
 * Logs in once before anything else, so a refused login names the account
 * that was refused: with `drill.mysql` set, that is the drill's own account,
 * not `sources.<name>` (whose credentials the drill does not use then).
 */
async function checkDrillLogin(loaded: LoadedConfig, connection: MysqlConnection, where: { source: string }): Promise<void> {
  const override = loaded.config.drill.mysql;
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

async function drillMysql(request: DrillRequest, manifest: Manifest, artifact: ArtifactRecord, scratchDir: string, restoreTimer: RestoreTimer): Promise<Measured> {
  const { loaded } = request;
  const source = mysqlSourceOf(loaded, artifact);
  const connection = drillConnection(loaded, source, loaded.config.drill);
  const where = { source: artifact.source };
  const scratch = scratchDatabaseName(loaded.repositoryPath, manifest.setId);
  await checkDrillLogin(loaded, connection, where);
  restoreTimer.start();
  // The scratch copy gets the source's charset and collation; its events are created DISABLED, and names of the source database are taken out.
  const restoreFacts = restoreFactsOf(artifact.details);
  await createDatabase(connection, scratch, where, restoreFacts.defaults);
  try {
    request.signal?.throwIfAborted();
    const hash = new HashingPassThrough();
    const input = await request.reader.openArtifact(artifact.path);
    const compressed = input.pipe(hash);
    input.on('error', (error) => compressed.destroy(error));
    const recorded = artifact.details as { tables?: Record<string, RecordedTableFacts>; inventory?: Record<string, string[]>; maxStatementBytes?: number };
    await loadCompressedDump({
      connection,
      database: scratch,
      source: restoreFacts.sourceDatabase === undefined ? undefined : { database: restoreFacts.sourceDatabase, objectNames: restoreFacts.objectNames },
      compressed,
      compression: artifact.compression,
      scratchDir,
      where,
      signal: request.signal,
      largestStatementBytes: typeof recorded.maxStatementBytes === 'number' ? recorded.maxStatementBytes : undefined,
    });
    const restoreMs = restoreTimer.stop();
    const differences: string[] = [];
    const notes: string[] = [];
    if (hash.digestHex() !== artifact.sha256) differences.push(`${artifact.path}: sha256 differs from the manifest`);

    const compareStarted = performance.now();
    const restored = await redumpDatabase({
      connection,
      database: scratch,
      config: source.config,
      sourceName: artifact.source,
      scratchDir,
      where,
      signal: request.signal,
      dumpHistory: (artifact.details as { historyDumped?: boolean }).historyDumped,
    });
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
        const rows = await session.query<import('mysql2').RowDataPacket>(query.sql).catch((error: Error) => error);
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
    await dropDatabase(connection, scratch, where).catch((error: Error) => request.reporter.warn(`could not drop the scratch database ${scratch}: ${error.message}`));
  }
}

/** True when a process with this pid runs on this host (EPERM: it runs, as another user). */
function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Drops scratch databases a killed drill of THIS repository left behind: only
 * names with this repository's hash, and only when the drill that made them
 * is gone (we hold the job lock, so another live one is not ours to judge).
 */
async function sweepScratchLeftovers(loaded: LoadedConfig, manifest: Manifest, reporter: RunReporter): Promise<string[]> {
  const swept: string[] = [];
  const seen = new Set<string>();
  const prefix = scratchPrefixFor(loaded.repositoryPath);
  for (const artifact of manifest.artifacts.filter((entry) => entry.type === 'mysql')) {
    let connection: MysqlConnection;
    try {
      connection = drillConnection(loaded, mysqlSourceOf(loaded, artifact), loaded.config.drill);
    } catch {
      continue;
    }
    const key = `${connection.socket ?? `${connection.host}:${connection.port}`}`;
    if (seen.has(key)) continue;
    seen.add(key);
    for (const database of await databasesWithPrefix(connection, prefix, { source: artifact.source }).catch(() => [])) {
      const pid = Number(/_(\d+)$/.exec(database)?.[1]);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processIsAlive(pid)) {
        reporter.warn(`left the scratch database ${database} alone: the drill that made it (pid ${pid}) still runs`);
        continue;
      }
      await dropDatabase(connection, database, { source: artifact.source });
      reporter.warn(`dropped the scratch database ${database} an interrupted drill left behind`);
      swept.push(database);
    }
  }
  return swept;
}

// ---- sqlite ------------------------------------------------------------------

async function drillSqlite(request: DrillRequest, artifact: ArtifactRecord, scratchDir: string, restoreTimer: RestoreTimer): Promise<Measured> {
  const path = join(scratchDir, `${artifact.source}.sqlite`);
  restoreTimer.start();
  const hash = new HashingPassThrough();
  await pipeline(await request.reader.openArtifact(artifact.path), hash, createDecompressor(artifact.compression), createWriteStream(path, { mode: 0o600 }), { signal: request.signal });
  const restoreMs = restoreTimer.stop();
  const differences: string[] = [];
  if (hash.digestHex() !== artifact.sha256) differences.push(`${artifact.path}: sha256 differs from the manifest`);
  const compareStarted = performance.now();
  const database = openSqlite(path, { readonly: true });
  let tables = 0;
  let queries = 0;
  try {
    const problems = integrityProblems(database);
    differences.push(...problems.slice(0, 10).map((problem) => `integrity check: ${problem}`));
    const rowCounts = (artifact.details.rowCounts ?? {}) as Record<string, number>;
    for (const [table, recorded] of Object.entries(rowCounts)) {
      tables++;
      const rows = countRows(database, table);
      if (rows === undefined) differences.push(`table ${table} is missing after the restore`);
      else if (rows !== recorded) differences.push(`table ${table}: ${rows} rows restored, ${recorded} recorded at backup time`);
    }
    for (const query of queriesFor(request.loaded.config.drill, artifact.source)) {
      queries++;
      let value: number | Error;
      try {
        value = Number(database.firstValue(query.sql));
      } catch (error) {
        value = error as Error;
      }
      differences.push(...judgeQuery(query, value));
    }
  } finally {
    database.close();
    await rm(path, { force: true });
  }
  return { ok: differences.length === 0, restoreMs, compareMs: Math.round(performance.now() - compareStarted), compared: `integrity, ${tables} table(s), ${queries} query(ies)`, differences, notes: [] };
}

// ---- files -------------------------------------------------------------------

interface IndexLine {
  path: string;
  type: string;
  mode: number;
  size: number;
  sha256?: string;
  linkTarget?: string;
}

async function drillFiles(request: DrillRequest, manifest: Manifest, artifact: ArtifactRecord, scratchDir: string, restoreTimer: RestoreTimer): Promise<Measured> {
  const target = join(scratchDir, artifact.source);
  restoreTimer.start();
  await runRestoreFiles({ reader: request.reader, set: manifest.setId, source: artifact.source, to: target, reporter: silentReporter, signal: request.signal, keepFree: request.loaded.config.monitor.min_free });
  const restoreMs = restoreTimer.stop();
  const compareStarted = performance.now();
  const differences: string[] = [];
  let entries = 0;
  if (!artifact.index) {
    differences.push('the set has no entry index for this source: nothing to compare with');
  } else {
    // The entry index is always gzip, whatever the artifact's compression.
    // Lines are bounded (an index that inflates to one endless line is damage, not a crash).
    const stored = await request.reader.openArtifact(artifact.index.path);
    try {
      for await (const text of readBoundedLines(stored.pipe(createDecompressor('gzip')))) {
        if (!text.trim()) continue;
        request.signal?.throwIfAborted();
        entries++;
        const entry = JSON.parse(text) as IndexLine;
        // Compared paths stay inside the scratch target: an index is read from the (untrusted) repository.
        if (typeof entry?.path !== 'string' || !entry.path.startsWith('/') || entry.path.split('/').includes('..')) throw new Error(`index line ${entries} is not an entry under an absolute path`);
        const difference = await compareEntry(join(target, entry.path), entry);
        if (difference && differences.length < MAX_DIFFERENCES) differences.push(difference);
        else if (difference && differences.length === MAX_DIFFERENCES) differences.push('… more differences not listed');
      }
    } finally {
      stored.destroy();
    }
    if (entries !== artifact.index.entries) differences.push(`the index lists ${entries} entries, the manifest says ${artifact.index.entries}`);
  }
  await rm(target, { recursive: true, force: true });
  return { ok: differences.length === 0, restoreMs, compareMs: Math.round(performance.now() - compareStarted), compared: `${entries} entr${entries === 1 ? 'y' : 'ies'}`, differences, notes: [] };
}

async function compareEntry(path: string, entry: IndexLine): Promise<string | undefined> {
  let info;
  try {
    info = await lstat(path);
  } catch {
    return `${entry.path} is missing after the restore`;
  }
  const type = info.isSymbolicLink() ? 'symlink' : info.isDirectory() ? 'dir' : info.isFile() ? 'file' : 'other';
  const expectedType = entry.type === 'hardlink' ? 'file' : entry.type;
  if (type !== expectedType) return `${entry.path} is a ${type} after the restore, a ${expectedType} at backup time`;
  if (type === 'symlink') {
    const target = await readlink(path);
    return target === entry.linkTarget ? undefined : `${entry.path} points to ${target} after the restore, to ${entry.linkTarget} at backup time`;
  }
  if ((info.mode & 0o7777) !== (entry.mode & 0o7777)) return `${entry.path} has mode ${(info.mode & 0o7777).toString(8)} after the restore, ${(entry.mode & 0o7777).toString(8)} at backup time`;
  if (type === 'file') {
    if (info.size !== entry.size) return `${entry.path} has ${info.size} bytes after the restore, ${entry.size} at backup time`;
    if (entry.sha256) {
      const hash = createHash('sha256');
      await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), hash);
      if (hash.digest('hex') !== entry.sha256) return `${entry.path}: content differs from backup time (sha256)`;
    }
  }
  return undefined;
}

// ---- smoke queries -------------------------------------------------------------

type DrillQuery = DrillConfig['queries'][number];

function queriesFor(drill: DrillConfig, source: string): DrillQuery[] {
  return drill.queries.filter((query) => query.source === undefined || query.source === source);
}

function firstNumber(rows: import('mysql2').RowDataPacket[]): number {
  const first = rows[0];
  return first ? Number(Object.values(first)[0]) : Number.NaN;
}

function judgeQuery(query: DrillQuery, value: number | Error): string[] {
  if (value instanceof Error) return [`query "${query.sql}" failed: ${value.message}`];
  if (Number.isNaN(value)) return [`query "${query.sql}" returned no number`];
  if (query.min !== undefined && value < query.min) return [`query "${query.sql}" returned ${value}, expected at least ${query.min}`];
  if (query.max !== undefined && value > query.max) return [`query "${query.sql}" returned ${value}, expected at most ${query.max}`];
  return [];
}
