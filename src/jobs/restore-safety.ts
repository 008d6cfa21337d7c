// Owns the safety set: before `restore db` sends its first statement into a
// database that is not empty, the database as it is now is dumped into the
// repository with the backup's own machinery (the kind's driver, e.g. mysql's dump with
// its completeness checks, compression, sha256, `.partial` then publish,
// manifest last). So it is a normal, complete set — `restore db --set <id>
// --into <db> --yes` puts the database back — whose manifest carries a
// `safety` marker: it counts in no timeline, is never `latest`, and retention
// removes it once `restore.keep_safety` has passed.

import { rm } from 'node:fs/promises';
import { RestorableError } from '../core/errors.ts';
import { artifactPath, nextFreeSetId } from '../core/naming.ts';
import { COMPRESSION_ALGORITHMS, type ArtifactRecord, type Manifest } from '../core/manifest.ts';
import { parseDurationMs } from '../config/schema.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { PreparedSource } from '../sources/registry.ts';
import type { SourceContext } from '../sources/source.ts';
import { artifactExtension } from '../stages/codec.ts';
import { openRepository } from '../storage/open-repository.ts';
import { acquireJobLock } from '../storage/job-lock.ts';
import { backUpSource, composeManifest } from './backup.ts';
import type { Clock, RunReporter } from '../core/ports.ts';

export interface SafetySetRequest {
  loaded: LoadedConfig;
  /**
   * The database source of the set being restored, with the settings that
   * back up the target (its driver's, pointed at the target database): the
   * safety set holds the target under the source's name, so it restores the same way.
   */
  source: PreparedSource;
  /** The target's name (a database), recorded as what the safety set is of. */
  targetName: string;
  /** The set being restored over the target. */
  restoring: string;
  clock: Clock;
  reporter: RunReporter;
  signal?: AbortSignal;
}

/** Dumps the target into a new safety set; resolves with its manifest once published. */
export async function takeSafetySet(request: SafetySetRequest): Promise<Manifest> {
  const { loaded, clock, reporter } = request;
  const prepared = request.source;
  const sourceName = prepared.name;
  const repository = openRepository(loaded);
  await repository.prepare([sourceName]);
  const startedAt = clock.now();
  const started = performance.now();
  // Under the job lock: a backup or prune starting meanwhile would sweep our `.partial` as a dead run's leftover.
  const lock = await acquireJobLock(repository.root, 'restore db (safety set)', startedAt);
  const written: string[] = [];
  let scratchDir: string | undefined;
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(request.signal?.reason);
  request.signal?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    const extension = (algorithm: (typeof COMPRESSION_ALGORITHMS)[number]) => `${prepared.driver.extension}.${artifactExtension(algorithm)}`;
    const setId = await nextFreeSetId(startedAt, (candidate) =>
      repository.isSetIdFree(candidate, COMPRESSION_ALGORITHMS.map((algorithm) => artifactPath(sourceName, candidate, extension(algorithm)))),
    );
    scratchDir = await repository.createScratchDir(setId);
    const context: SourceContext<unknown> = {
      job: loaded.config.app,
      sourceName,
      config: prepared.settings,
      repositoryPath: repository.root,
      scratchDir,
      signal: abort.signal,
      log: {
        info: (message) => reporter.step(`safety set: ${message}`),
        warn: (message) => reporter.warn(`safety set: ${message}`),
      },
    };
    reporter.step(`taking safety set ${setId}: a dump of database ${request.targetName} as it is now, before the restore writes into it`);
    await prepared.driver.preflight(context);
    let failure: unknown;
    let record: ArtifactRecord;
    try {
      record = await backUpSource(prepared, setId, repository, context, loaded.config.compression, reporter, written, (reason) => {
        failure ??= reason;
        abort.abort(reason);
      });
    } catch (error) {
      throw failure ?? error;
    }
    const finishedAt = clock.now();
    const keepMs = parseDurationMs(loaded.config.restore.keep_safety);
    const manifest = composeManifest({
      setId,
      job: loaded.config.app,
      startedAt,
      finishedAt,
      started,
      status: record.warnings.length > 0 ? 'warning' : 'ok',
      artifacts: [record],
      safety: { of: request.targetName, restoring: request.restoring, expiresAt: new Date(finishedAt.getTime() + keepMs).toISOString() },
    });
    await repository.publishSet(manifest, written);
    reporter.step(`safety set ${setId} complete (kept until ${manifest.safety!.expiresAt})`);
    return manifest;
  } catch (error) {
    await Promise.all(written.map((path) => repository.discardPartial(path)));
    const cause = error instanceof RestorableError ? error : undefined;
    throw new RestorableError(`the safety dump of database ${request.targetName} failed, so the restore did not start; nothing was changed: ${(error as Error).message}`, {
      code: cause?.code === 'LOCKED' ? cause.code : 'RESTORE_SAFETY_FAILED',
      where: { source: sourceName },
      details: cause?.details ?? [],
      remedy: cause?.remedy ?? 'fix the cause above and restore again',
      cause: error,
    });
  } finally {
    request.signal?.removeEventListener('abort', onOuterAbort);
    if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
    await lock.release();
  }
}
