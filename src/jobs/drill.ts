// Owns the restore drill: prove a set restorable by restoring it for real and
// comparing with the facts recorded at backup time. Each database goes into a
// scratch database (mysql) or scratch file (sqlite) and is compared table by
// table (row counts, checksums, object inventory) and with the configured smoke
// queries; each file source is restored into a scratch directory and every
// entry compared with the set's index (type, mode, size, sha256, link target).
// The time each restore took is the measured RTO. Scratch databases and
// directories are always removed — after failures and interrupts too — and
// the next drill sweeps any a killed drill left. The result is recorded in the
// run history, which `list`, `check` and the report read.

import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { lstat, readlink, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
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
import { SecretValue, type MysqlConnection } from '../sources/mysql-connection.ts';
import { MysqlSession, readInventory } from '../sources/mysql-inventory.ts';
import { createDatabase, databasesWithPrefix, dropDatabase, loadCompressedDump, quoteIdentifier } from '../sources/mysql-restore.ts';
import { HashingPassThrough } from '../stages/hash.ts';
import { createDecompressor, describeDecompressionError } from '../stages/codec.ts';
import { runRestoreFiles } from './restore-files.ts';
import { silentReporter, type Clock, type RunReporter } from './ports.ts';

/** Every scratch database a drill makes starts with this; the next drill drops leftovers by it. */
export const SCRATCH_DATABASE_PREFIX = 'restorable_drill_';
const MAX_DIFFERENCES = 50;

export interface SourceDrillResult {
  source: string;
  type: string;
  ok: boolean;
  /** How long the restore alone took: the measured RTO of this source. */
  restoreMs: number;
  /** How long the comparison took. */
  compareMs: number;
  /** What was compared, e.g. "3 tables, 2 checksums, 5 objects, 1 query" or "1204 entries". */
  compared: string;
  differences: string[];
}

export interface DrillOutcome {
  setId: string;
  status: 'ok' | 'failed';
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
      reporter.step(
        `${artifact.source}: ${result.ok ? 'restorable' : 'FAILED'} — restored in ${(result.restoreMs / 1000).toFixed(1)} s, compared ${result.compared}` +
          (result.ok ? '' : `; ${result.differences.length} difference(s)`),
      );
      for (const difference of result.differences.slice(0, 10)) reporter.warn(`${artifact.source}: ${difference}`);
    }
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
    const failure = request.signal?.aborted
      ? new RestorableError(`the drill was ${String(request.signal.reason ?? 'interrupted')}; its scratch databases and directories were removed`, { code: 'INTERRUPTED', remedy: 'run the drill again' })
      : asRestorableError(error, 'DRILL_FAILED');
    const outcome: DrillOutcome = { setId, status: 'failed', startedAt: startedAt.toISOString(), durationMs: Math.round(performance.now() - started), results, swept, error: failure };
    await record(root, outcome, request.clock).catch(() => {});
    return outcome;
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
    await lock.release();
  }
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
  try {
    switch (artifact.type) {
      case 'mysql':
        return { ...base, ...(await drillMysql(request, manifest, artifact, scratchDir)) };
      case 'sqlite':
        return { ...base, ...(await drillSqlite(request, artifact, scratchDir)) };
      case 'files':
        return { ...base, ...(await drillFiles(request, manifest, artifact, scratchDir)) };
      default:
        return { ...base, ok: false, restoreMs: 0, compareMs: 0, compared: 'nothing', differences: [`no drill for sources of type ${artifact.type}`] };
    }
  } catch (error) {
    if (request.signal?.aborted) throw error;
    const damage = describeDecompressionError(error);
    const failure = asRestorableError(error);
    const message = damage ?? failure.message;
    return {
      ...base,
      ok: false,
      restoreMs: 0,
      compareMs: 0,
      compared: 'nothing (the restore failed)',
      differences: [`the restore of ${artifact.path} failed: ${message}${failure.remedy && !damage ? ` (next: ${failure.remedy})` : ''}`],
    };
  }
}

type Measured = Omit<SourceDrillResult, 'source' | 'type'>;

// ---- mysql -------------------------------------------------------------------

function drillConnection(loaded: LoadedConfig, source: ResolvedMysqlSource, drill: DrillConfig): MysqlConnection {
  const override = drill.mysql;
  if (!override) return source.connection;
  const password = override.password_file
    ? readFileSync(resolve(loaded.directory, override.password_file), 'utf8').split('\n')[0]
    : override.password_env
      ? process.env[override.password_env]
      : undefined;
  return {
    ...source.connection,
    host: override.host ?? source.connection.host,
    port: override.port ?? source.connection.port,
    socket: override.socket ?? (override.host ? undefined : source.connection.socket),
    user: override.user ?? source.connection.user,
    password: override.user ? (password === undefined ? undefined : new SecretValue(password)) : source.connection.password,
    passwordEnvName: override.password_env ?? source.connection.passwordEnvName,
  };
}

function mysqlSourceOf(loaded: LoadedConfig, artifact: ArtifactRecord): ResolvedMysqlSource {
  const configured = loaded.config.sources[artifact.source];
  if (!configured || configured.type !== 'mysql') {
    throw new RestorableError(`source ${artifact.source} is not configured as a mysql source any more`, { code: 'USAGE', remedy: 'drill with the configuration the set was made with' });
  }
  return prepareSource(artifact.source, configured, loaded.directory).settings as ResolvedMysqlSource;
}

async function drillMysql(request: DrillRequest, manifest: Manifest, artifact: ArtifactRecord, scratchDir: string): Promise<Measured> {
  const { loaded } = request;
  const connection = drillConnection(loaded, mysqlSourceOf(loaded, artifact), loaded.config.drill);
  const where = { source: artifact.source };
  const scratch = `${SCRATCH_DATABASE_PREFIX}${manifest.setId.replace(/\D/g, '')}_${process.pid}`;
  await createDatabase(connection, scratch, where);
  try {
    request.signal?.throwIfAborted();
    const restoreStarted = performance.now();
    const hash = new HashingPassThrough();
    const input = await request.reader.openArtifact(artifact.path);
    const compressed = input.pipe(hash);
    input.on('error', (error) => compressed.destroy(error));
    await loadCompressedDump({ connection, database: scratch, compressed, compression: artifact.compression, scratchDir, where, signal: request.signal });
    const restoreMs = Math.round(performance.now() - restoreStarted);
    const differences: string[] = [];
    if (hash.digestHex() !== artifact.sha256) differences.push(`${artifact.path}: sha256 differs from the manifest`);

    const compareStarted = performance.now();
    const session = await MysqlSession.open(connection, where);
    let tables = 0;
    let checksums = 0;
    let objects = 0;
    let queries = 0;
    try {
      const recorded = artifact.details as { tables?: Record<string, { rows: number | null; checksum?: number | string | null }>; inventory?: Record<string, string[]> };
      for (const [table, facts] of Object.entries(recorded.tables ?? {})) {
        tables++;
        const qualified = `${quoteIdentifier(scratch)}.${quoteIdentifier(table)}`;
        const counted = await session.query<{ n: number } & import('mysql2').RowDataPacket>(`SELECT COUNT(*) AS n FROM ${qualified}`).catch(() => undefined);
        if (!counted) {
          differences.push(`table ${table} is missing after the restore`);
          continue;
        }
        const rows = Number(counted[0]!.n);
        if (facts.rows !== null && facts.rows !== undefined && rows !== facts.rows) differences.push(`table ${table}: ${rows} rows restored, ${facts.rows} recorded at backup time`);
        if (facts.checksum !== undefined && facts.checksum !== null) {
          checksums++;
          const [sum] = await session.query<{ Checksum: number | string | null } & import('mysql2').RowDataPacket>(`CHECKSUM TABLE ${qualified}`);
          if (String(sum?.Checksum) !== String(facts.checksum)) differences.push(`table ${table}: checksum ${sum?.Checksum} after the restore, ${facts.checksum} at backup time`);
        }
      }
      const inventory = await readInventory(session, scratch);
      for (const [kind, names] of Object.entries(recorded.inventory ?? {})) {
        const restored = new Set((inventory as unknown as Record<string, string[]>)[kind] ?? []);
        for (const name of names) {
          objects++;
          if (!restored.has(name)) differences.push(`${kind.replace(/s$/, '')} ${name} is missing after the restore`);
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
      compared: `${tables} table(s), ${checksums} checksum(s), ${objects} object(s), ${queries} query(ies)`,
      differences,
    };
  } finally {
    await dropDatabase(connection, scratch, where).catch((error: Error) => request.reporter.warn(`could not drop the scratch database ${scratch}: ${error.message}`));
  }
}

/** Drops scratch databases a killed drill left behind (we hold the job lock, so none is in use). */
async function sweepScratchLeftovers(loaded: LoadedConfig, manifest: Manifest, reporter: RunReporter): Promise<string[]> {
  const swept: string[] = [];
  const seen = new Set<string>();
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
    for (const database of await databasesWithPrefix(connection, SCRATCH_DATABASE_PREFIX, { source: artifact.source }).catch(() => [])) {
      await dropDatabase(connection, database, { source: artifact.source });
      reporter.warn(`dropped the scratch database ${database} an interrupted drill left behind`);
      swept.push(database);
    }
  }
  return swept;
}

// ---- sqlite ------------------------------------------------------------------

async function drillSqlite(request: DrillRequest, artifact: ArtifactRecord, scratchDir: string): Promise<Measured> {
  const path = join(scratchDir, `${artifact.source}.sqlite`);
  const restoreStarted = performance.now();
  const hash = new HashingPassThrough();
  await pipeline(await request.reader.openArtifact(artifact.path), hash, createDecompressor(artifact.compression), createWriteStream(path, { mode: 0o600 }), { signal: request.signal });
  const restoreMs = Math.round(performance.now() - restoreStarted);
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
  return { ok: differences.length === 0, restoreMs, compareMs: Math.round(performance.now() - compareStarted), compared: `integrity, ${tables} table(s), ${queries} query(ies)`, differences };
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

async function drillFiles(request: DrillRequest, manifest: Manifest, artifact: ArtifactRecord, scratchDir: string): Promise<Measured> {
  const target = join(scratchDir, artifact.source);
  const restoreStarted = performance.now();
  await runRestoreFiles({ reader: request.reader, set: manifest.setId, source: artifact.source, to: target, reporter: silentReporter, signal: request.signal });
  const restoreMs = Math.round(performance.now() - restoreStarted);
  const compareStarted = performance.now();
  const differences: string[] = [];
  let entries = 0;
  if (!artifact.index) {
    differences.push('the set has no entry index for this source: nothing to compare with');
  } else {
    // The entry index is always gzip, whatever the artifact's compression.
    const lines = createInterface({ input: (await request.reader.openArtifact(artifact.index.path)).pipe(createDecompressor('gzip')), crlfDelay: Infinity });
    for await (const text of lines) {
      if (!text.trim()) continue;
      request.signal?.throwIfAborted();
      entries++;
      const entry = JSON.parse(text) as IndexLine;
      const difference = await compareEntry(join(target, entry.path), entry);
      if (difference && differences.length < MAX_DIFFERENCES) differences.push(difference);
      else if (difference && differences.length === MAX_DIFFERENCES) differences.push('… more differences not listed');
    }
    if (entries !== artifact.index.entries) differences.push(`the index lists ${entries} entries, the manifest says ${artifact.index.entries}`);
  }
  await rm(target, { recursive: true, force: true });
  return { ok: differences.length === 0, restoreMs, compareMs: Math.round(performance.now() - compareStarted), compared: `${entries} entr${entries === 1 ? 'y' : 'ies'}`, differences };
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
