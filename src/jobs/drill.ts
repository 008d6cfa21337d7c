// Owns the restore drill: prove a set restorable by restoring it for real and
// comparing with the facts recorded at backup time. Each artifact is drilled
// by the driver of its kind (sources/*: a mysql dump into a scratch database
// compared table by table, an SQLite file into a scratch file, a files archive
// into a scratch directory compared entry by entry with its index); this job
// holds the lock, makes and removes the scratch directory, lets each kind
// sweep what killed drills left (scratch databases), times each restore (the
// measured RTO, also when it failed: the time it ran until then), reports,
// and records the result in the run history, which `list`, `check` and the
// report read. An interrupted drill is recorded as `aborted`, which proves
// nothing either way.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { asRestorableError, RestorableError } from '../core/errors.ts';
import type { ArtifactRecord, Manifest } from '../core/manifest.ts';
import type { LoadedConfig } from '../config/load.ts';
import { resolveSetId, type SetReader } from '../storage/set-reader.ts';
import { ensurePrivateDir, STATE_DIR } from '../storage/local-repository.ts';
import { acquireJobLock } from '../storage/job-lock.ts';
import { appendRun } from '../storage/state-store.ts';
import { driverForKind, prepareSource } from '../sources/registry.ts';
import { MAX_LISTED_DIFFERENCES, type DrillMeasurement, type DrillSweepContext, type RestoreSide, type RestoreStopwatch } from '../sources/source-restore.ts';
import { describeDecompressionError } from '../stages/codec.ts';
import { notifierForJob } from './job-notifier.ts';
import type { Clock, RunReporter } from '../core/ports.ts';

/** One source's drill: what its kind's drill measured (sources/source-restore.ts), or why the restore failed. */
export interface SourceDrillResult extends DrillMeasurement {
  source: string;
  type: string;
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
    swept.push(...(await sweepLeftovers(loaded, manifest, reporter)));
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
      // A failed restore or comparison is the FAILED line above; its one "difference" would print it again.
      if (result.restoreFailure) reporter.step(`${artifact.source}: artifact ${artifact.path}${result.restoreFailure.remedy ? `; next: ${result.restoreFailure.remedy}` : ''}`);
      for (const difference of (result.restoreFailure ? [] : result.differences).slice(0, 10)) reporter.warn(`${artifact.source}: ${difference}`);
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
      results: outcome.results.map((result) => ({ ...result, differences: result.differences.slice(0, MAX_LISTED_DIFFERENCES) })),
    },
  });
}

async function drillArtifact(request: DrillRequest, manifest: Manifest, artifact: ArtifactRecord, scratchDir: string): Promise<SourceDrillResult> {
  const base = { source: artifact.source, type: artifact.type };
  const stopwatch = new RestoreTimer();
  const driver = driverForKind(artifact.type);
  if (!driver) return { ...base, ok: false, restoreMs: 0, compareMs: 0, compared: 'nothing', differences: [`no drill for sources of type ${artifact.type}`], notes: [] };
  try {
    const { loaded, reader, reporter, signal } = request;
    return { ...base, ...(await driver.drill({ manifest, artifact, reader, loaded, settings: settingsFor(loaded, artifact), scratchDir, stopwatch, log: reporter, signal })) };
  } catch (error) {
    if (request.signal?.aborted) throw error;
    const restoreMs = stopwatch.elapsedMs();
    const restoreFailure = describeRestoreFailure(error);
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

/** The artifact's source as configured now, resolved by the registry when asked; undefined when it is not configured as that kind. */
function settingsFor(loaded: LoadedConfig, artifact: ArtifactRecord): () => unknown {
  return () => {
    const configured = loaded.config.sources[artifact.source];
    if (!configured || configured.type !== artifact.type) return undefined;
    return prepareSource(artifact.source, configured, loaded.directory).settings;
  };
}

/**
 * Lets every kind of the set remove what drills of this repository that were
 * killed left outside the scratch directory (scratch databases); each kind is
 * asked once, with all its artifacts.
 */
async function sweepLeftovers(loaded: LoadedConfig, manifest: Manifest, reporter: RunReporter): Promise<string[]> {
  const byKind = new Map<RestoreSide, DrillSweepContext['artifacts']>();
  for (const artifact of manifest.artifacts) {
    const driver = driverForKind(artifact.type);
    if (!driver?.sweepDrillLeftovers) continue;
    byKind.set(driver, [...(byKind.get(driver) ?? []), { artifact, settings: settingsFor(loaded, artifact) }]);
  }
  const swept: string[] = [];
  for (const [driver, artifacts] of byKind) swept.push(...(await driver.sweepDrillLeftovers!({ loaded, artifacts, log: reporter })));
  return swept;
}

/** Times the restore alone; what it reads when the restore fails is the time spent until then. */
class RestoreTimer implements RestoreStopwatch {
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

/** What happened, in a phrase for the drill's summary: damage, or the error itself (a kind words its own: a refused login, a missing privilege). */
function describeRestoreFailure(error: unknown): NonNullable<SourceDrillResult['restoreFailure']> {
  const damage = describeDecompressionError(error);
  if (damage) return { code: 'ARTIFACT_DAMAGED', summary: `the artifact is damaged: ${damage}` };
  const failure = asRestorableError(error);
  if (failure.code === 'DRILL_COMPARE_FAILED') return { code: failure.code, summary: failure.message, remedy: failure.remedy, stage: 'compare' };
  return { code: failure.code, summary: failure.message, remedy: failure.remedy };
}
