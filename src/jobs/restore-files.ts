// Owns `restore files`: the files artifacts of a set -> a directory tree under
// DIR. The job resolves the set, chooses the artifacts (the kinds whose
// content is 'files'; --source, or every one of the set, one after another
// into the same DIR) and times the restore; the files driver does the restore
// itself, safely (sources/files-restore.ts: verified read, entry guard,
// staging beside DIR, placement once complete).
// Several sources: DIR must be new or empty (unless --force) before the
// first; each later one merges into what the earlier ones placed. With
// --path, a source holding nothing at those paths is skipped, as long as one
// holds something.

import type { ArtifactRecord, Manifest } from '../core/manifest.ts';
import { RestorableError } from '../core/errors.ts';
import { resolveSetId, type SetReader } from '../storage/set-reader.ts';
import { driverForKind } from '../sources/registry.ts';
import { restoreInto, type RestoredCounts } from '../sources/source-restore.ts';
import type { RunReporter } from '../core/ports.ts';

export interface RestoreFilesRequest {
  reader: SetReader;
  /** A set id or `latest` (the default). */
  set?: string;
  /** The source whose artifact to restore; every files source of the set when absent. */
  source?: string;
  /** The target directory; it must not exist, or be empty, unless `force`. */
  to: string;
  /** Restore only entries equal to or under these paths (absolute on the backed-up machine, with or without the leading `/`). */
  paths?: string[];
  /** Merge into a non-empty target, replacing entries of the same name. */
  force?: boolean;
  reporter: RunReporter;
  signal?: AbortSignal;
  /**
   * Space that must stay free on the target's filesystem (`monitor.min_free`
   * syntax: "10%" or "5GB"): a drill restores into the repository's
   * filesystem and must leave the backups their room.
   */
  keepFree?: string;
}

export interface RestoreFilesOutcome {
  setId: string;
  source: string;
  artifact: string;
  /** Absolute path of the target directory. */
  target: string;
  /** `created`: the target was new or empty; `merged`: --force into a non-empty target. */
  placement: 'created' | 'merged';
  /** The selection, as archive names (no leading `/`); empty for everything. */
  paths: string[];
  entries: RestoredCounts;
  /** Compressed bytes read (equal to the manifest's size). */
  sizeBytes: number;
  durationMs: number;
}

/** `restore files`: the files artifact --source names, or every one of the set, one after another into one target. */
export async function runRestoreFilesOfSet(request: RestoreFilesRequest): Promise<RestoreFilesOutcome[]> {
  const setId = await resolveSetId(request.reader, request.set);
  const manifest = await request.reader.readManifest(setId);
  const chosen = chooseFilesArtifacts(manifest.artifacts, request.source, setId);
  const outcomes: RestoreFilesOutcome[] = [];
  let notFound: unknown;
  for (const artifact of chosen) {
    try {
      // The first placement checked that DIR was new or empty; the others merge into it.
      outcomes.push(await restoreFilesArtifact(manifest, artifact, request, request.force === true || outcomes.length > 0));
    } catch (error) {
      if (chosen.length < 2 || !(error instanceof RestorableError && error.code === 'RESTORE_PATH_NOT_FOUND')) throw error;
      notFound = error;
    }
  }
  if (outcomes.length === 0) throw notFound;
  return outcomes;
}

async function restoreFilesArtifact(manifest: Manifest, artifact: ArtifactRecord, request: RestoreFilesRequest, force: boolean): Promise<RestoreFilesOutcome> {
  const started = performance.now();
  const restored = await restoreInto(
    driverForKind(artifact.type)!,
    // `restore files` needs no source settings: the archive says everything.
    { manifest, artifact, reader: request.reader, settings: () => undefined, log: request.reporter, signal: request.signal },
    { content: 'files', to: request.to, paths: request.paths ?? [], force, keepFree: request.keepFree },
  );
  return {
    setId: manifest.setId,
    source: artifact.source,
    artifact: artifact.path,
    target: restored.target,
    placement: restored.placement,
    paths: restored.paths,
    entries: restored.entries,
    sizeBytes: restored.sizeBytes,
    durationMs: Math.round(performance.now() - started),
  };
}

function isFiles(artifact: ArtifactRecord): boolean {
  return driverForKind(artifact.type)?.content === 'files';
}

/** The one `--source` names, else every files artifact of the set; none is a usage error. */
function chooseFilesArtifacts(artifacts: ArtifactRecord[], source: string | undefined, setId: string): ArtifactRecord[] {
  const files = artifacts.filter(isFiles);
  const names = files.map((artifact) => artifact.source);
  if (source !== undefined) {
    const chosen = artifacts.find((artifact) => artifact.source === source);
    if (chosen && isFiles(chosen)) return [chosen];
    throw new RestorableError(
      chosen ? `source ${source} of set ${setId} is a ${chosen.type} artifact, not files` : `set ${setId} has no artifact of a source named ${source}`,
      {
        code: 'USAGE',
        remedy: names.length > 0 ? `the files sources of set ${setId} are: ${names.join(', ')}` : `set ${setId} holds no files artifact`,
      },
    );
  }
  if (files.length === 0) {
    throw new RestorableError(`set ${setId} holds no files artifact`, {
      code: 'USAGE',
      remedy: `its artifacts are: ${artifacts.map((artifact) => `${artifact.source} (${artifact.type})`).join(', ') || 'none'}; databases restore with \`restorable restore db\``,
    });
  }
  return files;
}
