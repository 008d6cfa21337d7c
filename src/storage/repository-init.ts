// Owns whether a repository is there to be used: created by `restorable init`
// (layout 0700 + the marker, repository-marker.ts), and checked before a
// backup writes into it. A backup never creates a repository: a path that
// does not exist (an unmounted disk, a typo) or has no marker is refused,
// naming `restorable init`, and so is one that cannot be written (read-only
// filesystem, permissions), reported as such rather than as a bug.
//
// Upgrade path: a repository made by an earlier restorable (its layout and at
// least one complete set, but no marker) is adopted by the backup: the marker
// is written once, with a note, so nightly runs keep working after an upgrade.
//
// A backup refused before it starts is still recorded in the run history
// when the repository exists at all, so `check` (last-run) sees the failure.

import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { asRestorableError, describeSystemError, RestorableError } from '../core/errors.ts';
import type { LocalRepository } from './local-repository.ts';
import { MARKER_PATH, newMarker, readRepositoryMarker, writeRepositoryMarker, type RepositoryMarker } from './repository-marker.ts';
import { checkLayoutDirectory, STATE_DIR } from './repository-paths.ts';
import { exists } from './private-files.ts';
import { requireRepositoryRoot } from './repository-root.ts';
import { appendStateLines, type RunRecord } from './state-store.ts';

/**
 * Why the repository cannot be written by this process (a read-only
 * filesystem, no write permission), or undefined when it can. `root` exists.
 */
export async function repositoryWriteProblem(root: string): Promise<RestorableError | undefined> {
  for (const path of [root, `${root}/${STATE_DIR}`]) {
    try {
      await access(path, fsConstants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      if (code === 'EROFS') {
        return new RestorableError(`the repository ${root} is on a read-only filesystem`, {
          code: 'REPOSITORY_READ_ONLY',
          where: { path },
          remedy: 'remount the backup filesystem read-write (`mount -o remount,rw`), or point `repository` at a writable one',
          cause: error,
        });
      }
      if (code === 'EACCES' || code === 'EPERM') {
        return new RestorableError(`the repository ${root} is not writable by this user (uid ${process.getuid?.() ?? '?'}): ${path}`, {
          code: 'REPOSITORY_NOT_WRITABLE',
          where: { path },
          remedy: 'run restorable as the user that owns the repository (usually root), or fix its owner (`chown -R`); it must stay 0700',
          cause: error,
        });
      }
      throw error;
    }
  }
  return undefined;
}

export interface InitOutcome {
  /** False when the repository was initialised already: nothing was changed. */
  created: boolean;
  marker: RepositoryMarker;
}

/**
 * Creates the repository `restorable init` asks for: the root and its layout
 * (0700, sources' directories included) and the marker. A repository that
 * has its marker already is left exactly as it is.
 */
export async function initialiseRepository(repository: LocalRepository, request: { app: string; sourceNames: string[]; now: Date; createdBy?: string }): Promise<InitOutcome> {
  const root = repository.root;
  const rethrow = (error: unknown): never => {
    throw repositoryError(root, error);
  };
  const existing = (await exists(root)) ? await readRepositoryMarker(root).catch(rethrow) : undefined;
  if (existing) return { created: false, marker: existing };
  if (await exists(root)) {
    const problem = await repositoryWriteProblem(root);
    if (problem) throw problem;
  }
  try {
    await repository.prepare(request.sourceNames);
    const marker = await writeRepositoryMarker(root, newMarker(request.app, request.now, { createdBy: request.createdBy }));
    return { created: true, marker };
  } catch (error) {
    throw repositoryError(root, error);
  }
}

/**
 * Makes the repository ready for a backup of `sourceNames`, or returns why it
 * is not (after recording the refused run where `check` sees it). Adopts a
 * repository of an earlier version (see the header), telling `note`.
 */
export async function readyForBackup(
  repository: LocalRepository,
  request: { app: string; sourceNames: string[]; now: Date; note: (message: string) => void },
): Promise<RestorableError | undefined> {
  const root = repository.root;
  try {
    await requireRepositoryRoot(root);
    let marker = await readRepositoryMarker(root);
    const problem = await repositoryWriteProblem(root);
    if (problem) throw problem;
    if (!marker) {
      if (!(await madeByEarlierVersion(repository))) throw notInitialised(root);
      await repository.prepare(request.sourceNames);
      marker = await writeRepositoryMarker(root, newMarker(request.app, request.now, { adopted: true }));
      request.note(`the repository ${root} was made by an earlier restorable version: wrote its marker ${MARKER_PATH} (once; see docs/operations.md)`);
    }
    if (marker.app !== request.app) throw otherApp(root, marker, request.app);
    await repository.prepare(request.sourceNames);
    return undefined;
  } catch (error) {
    const refusal = asRestorableError(repositoryError(root, error), 'BACKUP_FAILED').locatedAt({ job: request.app });
    await recordRefusedRun(root, refusal, request.now).catch((failure: unknown) => request.note(`could not record the run in the history: ${(failure as Error).message}`));
    return refusal;
  }
}

/** A marker-less repository with restorable's layout and at least one complete set: made by an earlier version. */
async function madeByEarlierVersion(repository: LocalRepository): Promise<boolean> {
  if (!(await checkLayoutDirectory(repository.root, 'manifests'))) return false;
  return (await repository.listSets()).length > 0;
}

function notInitialised(root: string): RestorableError {
  return new RestorableError(`the repository ${root} is not initialised (it has no ${MARKER_PATH})`, {
    code: 'REPOSITORY_NOT_INITIALISED',
    where: { path: root },
    remedy: `if this directory is meant to hold the backups, initialise it with \`restorable init\` (with the same -c or $RESTORABLE_CONFIG); if not (a disk not mounted, a typo), fix \`repository\` in the config`,
  });
}

function otherApp(root: string, marker: RepositoryMarker, app: string): RestorableError {
  return new RestorableError(`the repository ${root} belongs to app ${JSON.stringify(marker.app)}, not ${JSON.stringify(app)}`, {
    code: 'REPOSITORY_OTHER_APP',
    where: { path: root },
    remedy: `give each app its own repository (two apps' retention would delete each other's sets); if the app was renamed, set "app" in ${root}/${MARKER_PATH} to ${JSON.stringify(app)}`,
  });
}

/** Permission and read-only failures named as such (not "unexpected failure"); other errors unchanged. */
function repositoryError(root: string, error: unknown): unknown {
  if (error instanceof RestorableError) return error;
  return describeSystemError(error, root) ?? error;
}

/**
 * A run refused before it started, in the run history: only inside a
 * repository that exists (never creating one), and never through a planted
 * link (an unsafe repository is refused, not written into).
 */
async function recordRefusedRun(root: string, refusal: RestorableError, now: Date): Promise<void> {
  if (!(await exists(root)) || refusal.code === 'REPOSITORY_READ_ONLY' || refusal.code === 'REPOSITORY_UNSAFE') return;
  await checkLayoutDirectory(root, STATE_DIR); // throws on a link: nothing appended through it
  const record: RunRecord = {
    runId: randomUUID(),
    command: 'backup',
    status: 'failed',
    startedAt: now.toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: 0,
    warnings: 0,
    error: { code: refusal.code, message: refusal.message, remedy: refusal.remedy },
  };
  await appendStateLines(root, 'runs.jsonl', [record]);
}
