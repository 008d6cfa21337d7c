// Owns `restore db`: a database source of a set back into its target, through
// the driver of its kind (the kinds whose content is 'database': a server
// for mysql, a file for sqlite; sources/*-restore*.ts). The job resolves the
// set, chooses the artifact, checks the source is still configured as that
// kind, gives the restore a private scratch directory and the port that takes
// a safety set (restore-safety.ts) before a non-empty target is written over,
// and times it. Fresh target by default; a target that is not empty is
// refused and left unchanged unless the operator confirmed (`--yes`, or typed
// its name on a TTY); the artifact's sha256 is checked as it streams.

import { mkdtemp, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { RestorableError } from '../core/errors.ts';
import type { ArtifactRecord, Manifest } from '../core/manifest.ts';
import type { LoadedConfig } from '../config/load.ts';
import { resolveSetId, type SetReader } from '../storage/set-reader.ts';
import { driverForKind, prepareSource } from '../sources/registry.ts';
import { restoreInto } from '../sources/source-restore.ts';
import { takeSafetySet } from './restore-safety.ts';
import { systemClock, type Clock, type RunReporter } from '../core/ports.ts';

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
  /** The safety set taken of the target before it was written over. */
  safetySetId?: string;
}

function isDatabase(artifact: ArtifactRecord): boolean {
  return driverForKind(artifact.type)?.content === 'database';
}

/** The database artifact of a set: the only one, or the one named. */
export function chooseDatabaseArtifact(manifest: Manifest, sourceName: string | undefined): ArtifactRecord {
  const candidates = manifest.artifacts.filter(isDatabase);
  if (sourceName) {
    const named = manifest.artifacts.find((artifact) => artifact.source === sourceName);
    if (!named || !isDatabase(named)) {
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
  const { loaded, reporter } = request;
  const setId = await resolveSetId(request.reader, request.set);
  const manifest = await request.reader.readManifest(setId);
  const artifact = chooseDatabaseArtifact(manifest, request.source);
  const driver = driverForKind(artifact.type)!;
  const configured = loaded.config.sources[artifact.source];
  if (!configured || configured.type !== artifact.type) {
    throw new RestorableError(`source ${artifact.source} (${artifact.type}) of set ${setId} is not configured as a ${artifact.type} source any more`, {
      code: 'USAGE',
      remedy: `restore with the configuration the set was made with, or restore the artifact by hand (${driver.restoreByHand(artifact)})`,
    });
  }
  const prepared = prepareSource(artifact.source, configured, loaded.directory);
  const started = performance.now();
  const scratchDir = await mkdtemp(resolve(loaded.repositoryPath, '.restorable', 'restore-'));
  try {
    const restored = await restoreInto(
      driver,
      { manifest, artifact, reader: request.reader, settings: () => prepared.settings, log: reporter, signal: request.signal },
      {
        content: 'database',
        loaded,
        scratchDir,
        into: request.into,
        yes: request.yes,
        confirm: request.confirm,
        defaultsFile: request.defaultsFile,
        source: request.source,
        takeSafetySet: async (settings, targetName) =>
          (
            await takeSafetySet({
              loaded,
              source: { ...prepared, settings },
              targetName,
              restoring: setId,
              clock: request.clock ?? systemClock,
              reporter,
              signal: request.signal,
            })
          ).setId,
      },
    );
    const { content: _content, ...outcome } = restored;
    return { setId, source: artifact.source, type: artifact.type, ...outcome, durationMs: Math.round(performance.now() - started) };
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
}
