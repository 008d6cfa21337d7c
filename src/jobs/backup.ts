// Owns one backup run (DESIGN.md "One run"): lock, sweep of dead runs'
// leftovers, pre-flight, sources in parallel (bounded), each streamed through
// the configured compression (gzip or zstd) and sha256 into a `.partial`, and — only when every source succeeded —
// publication of all artifacts and then the manifest. Any failure publishes
// nothing and leaves earlier sets untouched.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { asRestorableError, RestorableError } from '../core/errors.ts';
import { artifactPath, indexPath, nextFreeSetId } from '../core/naming.ts';
import { COMPRESSION_ALGORITHMS, MANIFEST_FORMAT, MANIFEST_VERSION, type ArtifactRecord, type Manifest, type SourceWarning } from '../core/manifest.ts';
import type { LoadedConfig } from '../config/load.ts';
import { prepareSource, type PreparedSource } from '../sources/registry.ts';
import type { ArtifactContent, SourceContext, SourceFacts } from '../sources/source.ts';
import { artifactExtension, checkCompressorAvailable, createCompressor } from '../stages/codec.ts';
import { COMPRESSION_LEVELS, type Config } from '../config/schema.ts';
import { ByteCounter } from '../stages/hash.ts';
import type { LocalRepository } from '../storage/local-repository.ts';
import { openRepository } from '../storage/open-repository.ts';
import { readyForBackup } from '../storage/repository-init.ts';
import type { DestinationWrappers } from '../storage/destination-wrappers.ts';
import { acquireJobLock } from '../storage/job-lock.ts';
import { appendRun, type RunRecord } from '../storage/state-store.ts';
import { openRunLog, type RunLog } from './run-log.ts';
import type { Clock, RunReporter } from '../core/ports.ts';
import { restorableVersion } from './version.ts';
import { formatBytes, formatSeconds } from '../core/units.ts';
import { ensureRoomForNextSet } from './disk-space.ts';
import { runPrune } from './prune.ts';

export interface BackupRequest {
  loaded: LoadedConfig;
  /** Source names to run; all when absent. */
  only?: string[];
  keep?: string; // `--keep NOTE`: pins the set; retention keeps it until `restorable unpin`
  clock: Clock;
  reporter: RunReporter;
  /** Aborted on SIGINT/SIGTERM: the run stops, cleans up, publishes nothing. */
  signal?: AbortSignal;
  /** Wrappers around the repository's destination (composeDestination); tests inject faults here. */
  destinationWrappers?: DestinationWrappers;
}

export interface SourceWarningLine extends SourceWarning {
  source: string;
}

export interface BackupOutcome {
  /** ok: exit 0; warning: published but degraded (exit 1); failed: nothing published (exit 2). */
  status: 'ok' | 'warning' | 'failed';
  setId?: string;
  manifest?: Manifest;
  warnings: SourceWarningLine[];
  /** Sets removed by retention after this run. */
  pruned?: string[];
  error?: RestorableError;
  durationMs: number;
  runLogPath?: string;
}

export async function runBackup(request: BackupRequest): Promise<BackupOutcome> {
  const { loaded, clock, reporter } = request;
  const { config } = loaded;
  const startedAt = clock.now();
  const started = performance.now();
  const warnings: SourceWarningLine[] = [];
  const sourceNames = selectSourceNames(request);
  const repository = openRepository(loaded, request.destinationWrappers);
  const refused = await readyForBackup(repository, { app: config.app, sourceNames, now: startedAt, note: (message) => reporter.warn(message) });
  if (refused) return { status: 'failed', error: refused, warnings, durationMs: Math.round(performance.now() - started) };

  const lock = await acquireJobLock(repository.root, 'backup', startedAt);
  let runLog: RunLog | undefined;
  let scratchDir: string | undefined;
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(request.signal?.reason);
  request.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let sources: PreparedSource[] = [];
  try {
    // Resolving reads .env files: a vanished one is a failed run (and an alert), not a usage error.
    sources = sourceNames.map((name) => prepareSource(name, config.sources[name]!, loaded.directory));
    const setId = await chooseSetId(repository, sources, startedAt);
    runLog = openRunLog(repository.root, 'backup', setId, { job: config.app, setId });
    const log = runLog;
    const step = (message: string, fields?: Record<string, unknown>) => {
      reporter.step(message);
      log.info(message, fields);
    };
    // Each warning once: a driver logs a warning as it happens AND returns it
    // in its facts (and pre-flight warnings come back with the artifact), so the
    // same text arrives here more than once.
    const printedWarnings = new Set<string>();
    const warn = (message: string, fields?: Record<string, unknown>) => {
      if (printedWarnings.has(message)) return;
      printedWarnings.add(message);
      reporter.warn(message);
      log.warn(message, fields);
    };
    const countedWarnings = new Set<string>();
    const noteWarning = (sourceName: string, warning: SourceWarning) => {
      const key = JSON.stringify([sourceName, warning.code, warning.path, warning.message]);
      if (!countedWarnings.has(key)) {
        countedWarnings.add(key);
        warnings.push({ ...warning, source: sourceName });
      }
      warn(`${sourceName}: ${warning.message}`, { code: warning.code, ...(warning.path ? { path: warning.path } : {}) });
    };
    if (lock.tookOverFrom) {
      warn(`took over the lock of a dead run (pid ${lock.tookOverFrom.pid}, started ${lock.tookOverFrom.startedAt})`);
    }
    const swept = await repository.sweepLeftovers(Object.keys(config.sources));
    if (swept.length > 0) warn(`removed ${swept.length} leftover(s) of an interrupted run: ${swept.slice(0, 5).join(', ')}${swept.length > 5 ? ', ...' : ''}`);

    scratchDir = await repository.createScratchDir(setId);
    const contextFor = (source: PreparedSource): SourceContext<unknown> => ({
      job: config.app,
      sourceName: source.name,
      config: source.settings,
      repositoryPath: repository.root,
      scratchDir: scratchDir!,
      signal: abort.signal,
      log: {
        info: (message, fields) => step(`${source.name}: ${message}`, { source: source.name, ...fields }),
        warn: (message, fields) => warn(`${source.name}: ${message}`, { source: source.name, ...fields }),
      },
    });

    step(`backup of ${config.app} started: set ${setId}, sources ${sources.map((source) => source.name).join(', ')}, repository ${repository.root}`);
    const compressorNote = await checkCompressorAvailable(config.compression.algorithm);
    if (compressorNote) step(`compression: ${compressorNote}`);
    await inParallel(sources, config.parallel, async (source) => {
      const report = await source.driver.preflight(contextFor(source));
      for (const note of report.notes) step(`${source.name}: ${note}`);
      for (const warning of report.warnings) noteWarning(source.name, warning);
    });

    await ensureRoomForNextSet(repository, config, startedAt, (deleted) => warn(`removed set ${deleted} to make space (retention.make_space)`));

    const written: string[] = [];
    const artifacts: ArtifactRecord[] = [];
    let firstFailure: RestorableError | undefined;
    await inParallel(sources, config.parallel, async (source) => {
      if (abort.signal.aborted) return;
      try {
        const record = await backUpSource(source, setId, repository, contextFor(source), config.compression, reporter, written, (reason) => {
          if (!firstFailure && !isAbortEcho(reason, abort.signal)) {
            firstFailure = asRestorableError(reason, 'SOURCE_FAILED').locatedAt({ job: config.app, source: source.name });
          }
          abort.abort(reason);
        });
        artifacts.push(record);
        for (const warning of record.warnings) noteWarning(source.name, warning);
        step(`${source.name}: ${formatBytes(record.rawSizeBytes)} -> ${record.path} (${formatBytes(record.sizeBytes)}) in ${formatSeconds(record.durationMs)}`);
      } catch (error) {
        const failure = asRestorableError(error, 'SOURCE_FAILED').locatedAt({ job: config.app, source: source.name });
        // The first failure is the cause; later ones are usually its echo (aborted siblings).
        // A storage failure (disk full) is the cause even when an echo of it came first.
        if ((!firstFailure || (isStorageFailure(error) && !isStorageFailure(firstFailure))) && !isAbortEcho(error, abort.signal)) firstFailure = failure;
        abort.abort(failure);
      }
    });

    if (abort.signal.aborted || firstFailure) {
      await Promise.all(written.map((path) => repository.discardPartial(path)));
      // When interrupted from outside, the children's deaths are echoes of that.
      throw request.signal?.aborted ? interruptedError(request.signal.reason) : (firstFailure ?? interruptedError(undefined));
    }

    artifacts.sort((a, b) => sources.findIndex((s) => s.name === a.source) - sources.findIndex((s) => s.name === b.source));
    const degraded = artifacts.some((artifact) => artifact.details.degraded === true);
    const finishedAt = clock.now();
    const manifest = composeManifest({ setId, job: config.app, startedAt, finishedAt, started, status: degraded ? 'warning' : 'ok', artifacts, pin: request.keep === undefined ? undefined : { note: request.keep, at: finishedAt.toISOString() } });
    await repository.publishSet(manifest, written);
    step(`set ${setId} complete: ${artifacts.length} artifact(s), manifest written`);

    // Retention runs only after a successful run, under the same lock. A failed
    // prune leaves more sets than wanted, never fewer: the backup stands, degraded.
    let status = manifest.status;
    let pruned: string[] = [];
    try {
      const outcome = await runPrune({ loaded, dryRun: false, clock, reporter: { ...reporter, step, warn }, lockHeld: true });
      pruned = outcome.remove.map((set) => set.setId);
    } catch (error) {
      status = 'warning';
      warn(`retention failed after the backup: ${(error as Error).message}; no further sets were removed`);
    }
    await recordRun(repository.root, {
      runId: manifest.runId,
      command: 'backup',
      status,
      startedAt: manifest.startedAt,
      finishedAt: manifest.finishedAt,
      durationMs: manifest.durationMs,
      setId,
      warnings: warnings.length,
      sources: Object.fromEntries(artifacts.map((a) => [a.source, { sizeBytes: a.sizeBytes, rawSizeBytes: a.rawSizeBytes, durationMs: a.durationMs }])),
    }, warn);
    return {
      status,
      pruned,
      setId,
      manifest,
      warnings,
      durationMs: manifest.durationMs,
      runLogPath: runLog.path,
    };
  } catch (error) {
    const failure = asRestorableError(error, 'BACKUP_FAILED').locatedAt({ job: config.app });
    runLog?.error(`backup failed: ${failure.message}`, { error: failure.toJSON() });
    await recordRun(repository.root, {
      runId: randomUUID(),
      command: 'backup',
      // Stopped from outside (Ctrl-C, the daemon's SIGTERM): proves nothing either way, like an aborted drill.
      status: request.signal?.aborted ? 'aborted' : 'failed',
      startedAt: startedAt.toISOString(),
      finishedAt: clock.now().toISOString(),
      durationMs: Math.round(performance.now() - started),
      warnings: warnings.length,
      error: { code: failure.code, message: failure.message, remedy: failure.remedy, source: failure.where.source },
    }, (message) => reporter.warn(message));
    return { status: 'failed', error: failure, warnings, durationMs: Math.round(performance.now() - started), runLogPath: runLog?.path };
  } finally {
    request.signal?.removeEventListener('abort', onOuterAbort);
    if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
    runLog?.close();
    await lock.release();
  }
}

/**
 * The compression stage of an artifact: parallel gzip members with
 * incompressible stretches stored, or the zstd program. Databases get their
 * own level (compression.database_level): their text is small next to the
 * uploads and pays for a higher one.
 */
function compressor(compression: Config['compression'], content: ArtifactContent) {
  return createCompressor({
    algorithm: compression.algorithm,
    level: content === 'database' ? compression.database_level : compression.level,
    workers: compression.workers,
    storeIncompressible: compression.store_incompressible,
    minSavings: compression.min_savings,
  });
}

/** The configured settings for gzip, whatever the algorithm: for files that are always gzip. */
function asGzip(compression: Config['compression']): Config['compression'] {
  if (compression.algorithm === 'gzip') return compression;
  return { ...compression, algorithm: 'gzip', level: COMPRESSION_LEVELS.gzip.default, database_level: COMPRESSION_LEVELS.gzip.databaseDefault };
}

/** The manifest of a set this process made (a backup's, or restore db's safety set): the facts that are not the caller's. */
export function composeManifest(facts: {
  setId: string;
  job: string;
  startedAt: Date;
  finishedAt: Date;
  /** performance.now() when the run started. */
  started: number;
  status: Manifest['status'];
  artifacts: ArtifactRecord[];
  safety?: Manifest['safety'];
  pin?: Manifest['pin'];
}): Manifest {
  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    setId: facts.setId,
    job: facts.job,
    runId: randomUUID(),
    host: hostname(),
    restorableVersion: restorableVersion(),
    startedAt: facts.startedAt.toISOString(),
    finishedAt: facts.finishedAt.toISOString(),
    durationMs: Math.round(performance.now() - facts.started),
    status: facts.status,
    artifacts: facts.artifacts,
    ...(facts.safety ? { safety: facts.safety } : {}),
    ...(facts.pin ? { pin: facts.pin } : {}),
  };
}

/** The history is for monitoring: failing to write it must not change the run's outcome. */
async function recordRun(root: string, record: RunRecord, warn: (message: string) => void): Promise<void> {
  try {
    await appendRun(root, record);
  } catch (error) {
    warn(`could not record the run in the history: ${(error as Error).message}`);
  }
}

/** One source: produce -> count -> compress -> sha256 -> .partial; then its index, if any. Also writes restore db's safety sets (restore-safety.ts). */
export async function backUpSource(
  source: PreparedSource,
  setId: string,
  repository: LocalRepository,
  context: SourceContext<unknown>,
  compression: Config['compression'],
  reporter: RunReporter,
  written: string[],
  abortRun: (reason: unknown) => void,
): Promise<ArtifactRecord> {
  const started = performance.now();
  const path = artifactPath(source.name, setId, `${source.driver.extension}.${artifactExtension(compression.algorithm)}`);
  const produced = await source.driver.produce(context);
  // Another source failing fast (zstd missing fails in milliseconds) aborts the
  // run, and the driver then destroys this stream with that failure, possibly
  // before writePartial has wired it into its pipeline. The failure is already
  // the run's; as an 'error' nobody listens to, it would crash the process.
  produced.stream.on('error', () => {});
  const rawCounter = new ByteCounter((bytes) => reporter.progress(source.name, bytes));
  written.push(path);
  const writing = repository.writePartial(path, produced.stream, [rawCounter, compressor(compression, source.driver.content)], context.signal);
  // Whichever side fails first aborts the run, which makes the driver stop its
  // producer: a dead consumer must not leave a child blocked on a full pipe.
  // Then wait for both sides to settle, so nothing outlives the run.
  let firstError: unknown;
  const failFirst = (error: unknown): never => {
    firstError ??= error;
    produced.stream.destroy();
    abortRun(error);
    throw error;
  };
  const [fileResult, factsResult] = await Promise.allSettled([writing.catch(failFirst), produced.completed.catch(failFirst)]);
  // A full disk (or an I/O error) on the write side is the root cause even when the
  // producer reported first: all it saw was its output closing under it.
  if (fileResult.status === 'rejected' && isStorageFailure(fileResult.reason)) throw explainStorageFailure(fileResult.reason);
  if (firstError !== undefined || fileResult.status === 'rejected' || factsResult.status === 'rejected') throw firstError;
  const file = fileResult.value;
  const facts = factsResult.value;
  const record: ArtifactRecord = {
    source: source.name,
    type: source.type,
    path,
    compression: compression.algorithm,
    sizeBytes: file.sizeBytes,
    sha256: file.sha256,
    rawSizeBytes: rawCounter.byteCount,
    durationMs: 0,
    warnings: facts.warnings,
    details: { ...facts.details, degraded: facts.degraded },
  };
  if (facts.indexFile) record.index = await writeIndex(source, setId, repository, facts, compression, written, context.signal);
  record.durationMs = Math.round(performance.now() - started);
  return record;
}

async function writeIndex(
  source: PreparedSource,
  setId: string,
  repository: LocalRepository,
  facts: SourceFacts,
  compression: Config['compression'],
  written: string[],
  signal: AbortSignal,
): Promise<ArtifactRecord['index']> {
  const path = indexPath(source.name, setId);
  written.push(path);
  // The index is ours and small: always gzip (`.jsonl.gz`), whatever the artifacts use.
  const file = await repository.writePartial(path, createReadStream(facts.indexFile!, { highWaterMark: 1024 * 1024 }), [compressor(asGzip(compression), 'files')], signal);
  await rm(facts.indexFile!, { force: true });
  return { path, sizeBytes: file.sizeBytes, sha256: file.sha256, entries: facts.indexEntries ?? 0 };
}

function selectSourceNames(request: BackupRequest): string[] {
  const { config } = request.loaded;
  const names = Object.keys(config.sources);
  const unknown = (request.only ?? []).filter((name) => !names.includes(name));
  if (unknown.length > 0) {
    throw new RestorableError(`--only names unknown source(s): ${unknown.join(', ')}`, {
      code: 'USAGE',
      remedy: `the configured sources are: ${names.join(', ')}`,
    });
  }
  return request.only?.length ? names.filter((name) => request.only!.includes(name)) : names;
}

/** The run's own second, or the next one no manifest or artifact (of either compression) uses. */
function chooseSetId(repository: LocalRepository, sources: PreparedSource[], startedAt: Date): Promise<string> {
  return nextFreeSetId(startedAt, (setId) =>
    repository.isSetIdFree(
      setId,
      sources.flatMap((source) => COMPRESSION_ALGORITHMS.map((algorithm) => artifactPath(source.name, setId, `${source.driver.extension}.${artifactExtension(algorithm)}`))),
    ),
  );
}

async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const errors: unknown[] = [];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      try {
        await work(item);
      } catch (error) {
        errors.push(error);
        queue.length = 0;
      }
    }
  });
  await Promise.all(workers);
  if (errors.length > 0) throw errors[0];
}

/** What only a filesystem being written says: it is full, over quota, read-only or failing. */
const STORAGE_ERROR_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EROFS', 'EIO']);
const WRITE_CALLS = new Set(['write', 'writev', 'fsync', 'fdatasync', 'close']);

/**
 * The filesystem refused a write (disk full, ...): a Node system error, or one
 * wrapped by describeSystemError. A source file that cannot be read (EIO on
 * `read`) is the source's failure, not this.
 */
function isStorageFailure(error: unknown): boolean {
  for (let current = error as { code?: unknown; syscall?: unknown; cause?: unknown } | undefined, depth = 0; current && depth < 3; current = current.cause as typeof current, depth++) {
    if (WRITE_CALLS.has(String(current.syscall)) && STORAGE_ERROR_CODES.has(String(current.code))) return true;
  }
  return false;
}

/** `check` shows the disk nearly empty after such a run: say why, so the two do not seem to contradict. */
function explainStorageFailure(error: unknown): unknown {
  if (!(error instanceof RestorableError) || error.code !== 'DISK_FULL') return error;
  return new RestorableError(`${error.message} (the unfinished file was removed again, so the disk now shows that space free: the set needs more than was free)`, {
    code: error.code,
    where: error.where,
    remedy: error.remedy,
    details: error.details,
    exitCode: error.exitCode,
    cause: error.cause,
  });
}

function isAbortEcho(error: unknown, signal: AbortSignal): boolean {
  if (!signal.aborted) return false;
  return (error as Error)?.name === 'AbortError' || (error as { code?: string })?.code === 'ABORT_ERR' || error === signal.reason;
}

function interruptedError(reason: unknown): RestorableError {
  const what = typeof reason === 'string' ? reason : 'interrupted';
  return new RestorableError(`the backup was ${what}; nothing was published`, {
    code: 'INTERRUPTED',
    remedy: 'run the backup again; earlier sets are untouched',
  });
}
