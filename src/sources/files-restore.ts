// Owns restoring one files artifact into a directory tree, safely (the files
// kind's `restore`; `restore files` and the files drill call it). The work is
// done by the modules beside it:
//   files-entry-guard.ts  which entries may be restored at all (verify runs the same guard)
//   files-extract.ts      tar bytes -> a tree in the staging directory (node-tar's Parser, our writes)
//   files-place.ts        the target, the staging directory beside it, moving the tree into place
//   files-restore-index.ts  what the entry index adds: hard links across --path, ACLs and xattrs
//
// How it stays safe:
//   - The artifact streams through the verified read (storage/verified-read.ts:
//     size, sha256, decoding) into the extraction; a size or sha256 that
//     differs from the manifest fails the restore even when every entry
//     extracted cleanly.
//   - Everything is extracted into a staging directory beside DIR (same
//     filesystem, 0700, opened and written through its descriptor) and only
//     moved into place once the whole archive has been read, verified and
//     extracted, with its owners, modes and mtimes applied: any failure
//     removes the staging directory, so DIR is never half-restored, and after
//     the move nothing is changed through a path someone else could swap.
//   - A single unsafe entry refuses the whole archive (files-entry-guard.ts).
//   - Before anything is written, the target's filesystem must have room for
//     what the backup recorded (and `keepFree` left over); if it fills up
//     anyway, the error names it.
//   - Staging directories of killed restores to the same target are removed
//     (only those whose process is gone).
//
// With `--path`, entries outside the selection are skipped; a selected hard
// link whose first link lies outside it gets that file extracted too (found in
// the entry index beforehand) and removed again once linked.

import { mkdir, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { describeSystemError, RestorableError } from '../core/errors.ts';
import type { ArtifactRecord, CompressionAlgorithm } from '../core/manifest.ts';
import { collectYoungGarbage } from '../stages/young-garbage.mjs';
import { filesystemSpace, reserveBytes } from '../storage/filesystem-space.ts';
import { judgeRead, readVerified } from '../storage/verified-read.ts';
import { TarExtraction } from './files-extract.ts';
import { inspectTarget, refuseForeignSymlinks, Staging } from './files-place.ts';
import { readIndexForSelection, restoreExtendedAttributes } from './files-restore-index.ts';
import { ensureRoomForRestore, recordedRestoreBytes, targetFullError } from './files-restore-space.ts';
import type { FilesRestored, FilesTarget, RestoreContext } from './source-restore.ts';

/**
 * Parsing makes many short-lived objects and buffers; the young generation is
 * collected after this much archive data, so that garbage does not pile up as
 * resident memory (see young-garbage.mjs).
 */
const BYTES_PER_COLLECTION = 8 * 1024 * 1024;

export async function restoreFiles(context: RestoreContext, request: FilesTarget): Promise<FilesRestored> {
  const { artifact, reader, log, signal } = context;
  const setId = context.manifest.setId;
  const selection = normalizeSelection(request.paths);
  const target = resolve(request.to);
  await refuseForeignSymlinks(target);
  const state = await inspectTarget(target, request.force);

  const what = selection.length > 0 ? `${selection.map((path) => `/${path}`).join(', ')} from ` : '';
  const how = state === 'non-empty' ? 'merging into the non-empty directory (--force: entries of the same name are replaced)' : state === 'empty' ? 'the empty directory' : 'a new directory';
  log.step(`restore target: ${target} (${how})`);
  log.step(`restoring ${what}${artifact.path} (source ${artifact.source}, set ${setId}, ${reader.describe()})`);

  const where = { source: artifact.source, path: target };
  const parent = dirname(target);
  // Created parents are ours to remove again if the restore fails; 0700 like every parent restore makes.
  const createdParent = await mkdir(parent, { recursive: true, mode: 0o700 });
  let staging: Staging | undefined;
  let extraction: TarExtraction | undefined;
  let neededBytes = recordedRestoreBytes(artifact);
  let placed = false;
  try {
    const indexFacts = selection.length > 0 ? await readIndexForSelection(reader, artifact, selection, log, signal) : undefined;
    if (indexFacts?.selectedBytes !== undefined) neededBytes = indexFacts.selectedBytes;
    if (selection.length === 0 || indexFacts?.selectedBytes !== undefined) {
      const reserve = request.keepFree ? reserveBytes(request.keepFree, (await filesystemSpace(parent)).totalBytes) : 0;
      await ensureRoomForRestore(parent, target, neededBytes, reserve);
    }

    const created = await Staging.create(target);
    staging = created.staging;
    for (const pid of created.swept) log.step(`removed the staging directory an interrupted restore (pid ${pid}) left beside ${target}`);

    const preserveOwners = process.getuid?.() === 0;
    let sinceCollection = 0;
    extraction = new TarExtraction({
      staging: staging.anchor,
      selection,
      linkTargets: indexFacts?.linkTargets ?? new Set(),
      preserveOwners,
      onWritten: (bytes) => {
        sinceCollection += bytes;
        if (sinceCollection >= BYTES_PER_COLLECTION) {
          sinceCollection = 0;
          collectYoungGarbage();
        }
      },
    });
    let read;
    try {
      read = await readVerified(reader, artifact, [extraction.sink], signal);
    } finally {
      // Nothing may still be writing into staging when it is judged or removed.
      await extraction.settled();
    }

    // judgeRead throws a missing zstd as it is: it says nothing about the artifact, but what to install.
    const verdict = judgeRead(artifact, read);
    const damage = verdict.damage[0]?.message;
    if (damage) {
      throw new RestorableError(`${artifact.path} of set ${setId} is damaged: ${damage}; the restore was refused and nothing was written to ${target}`, {
        code: 'RESTORE_ARTIFACT_DAMAGED',
        where,
        remedy: 'restore from another set (`restorable verify --all` shows which are intact) or from an offsite copy',
      });
    }
    const failure = extraction.failure ?? (verdict.consumerError as Error | undefined);
    if (failure) throw extractionError(failure, artifact, setId, target, staging.path);
    if (selection.length > 0 && extraction.selectedCount === 0) {
      throw new RestorableError(`nothing in ${artifact.path} of set ${setId} is at or under ${selection.map((path) => `/${path}`).join(', ')}`, {
        code: 'RESTORE_PATH_NOT_FOUND',
        where,
        remedy: `the archive holds what sources.${artifact.source}.paths named at backup time; list it with \`${tarByHand(artifact.compression, 't')}\` and give --path as a full path`,
      });
    }

    await extraction.finish();
    // After the modes are final (an access ACL sets the group bits to its mask), while the tree is still in 0700 staging.
    await restoreExtendedAttributes(reader, artifact, selection, staging.path, log, signal);
    const placement = await staging.placeAt(target, state, extraction.directories, preserveOwners);
    placed = true;
    const counts = extraction.counts;
    log.step(`restored ${counts.files} file(s), ${counts.dirs} director(ies), ${counts.symlinks} symlink(s), ${counts.hardlinks} hard link(s) into ${target}`);
    return { content: 'files', target, placement, paths: selection, entries: { ...counts }, sizeBytes: read.sizeBytes };
  } catch (error) {
    if (!placed) await staging?.remove();
    if (!placed && createdParent) await rm(createdParent, { recursive: true, force: true });
    if (!placed && isDiskFull(error)) {
      throw (await targetFullError(error, createdParent ? dirname(createdParent) : parent, target, neededBytes, extraction?.bytesWritten ?? 0)).locatedAt(where);
    }
    if (error instanceof RestorableError) throw error.locatedAt(where);
    if (signal?.aborted) {
      throw new RestorableError(`the restore into ${target} was interrupted; nothing was written to it`, {
        code: 'RESTORE_INTERRUPTED',
        where,
        remedy: 'run the restore again',
        cause: error,
      });
    }
    const system = describeSystemError(error, (error as NodeJS.ErrnoException).path ?? target);
    if (system) throw system.locatedAt(where);
    throw new RestorableError(`the restore into ${target} failed: ${(error as Error).message}${placed ? '' : '; nothing was written to it'}`, {
      code: 'RESTORE_FAILED',
      where,
      remedy: placed ? 'the files are in place but some directory modes or times may not be; run the restore again' : 'fix the cause and run the restore again',
      cause: error,
    });
  } finally {
    if (placed) await staging?.close().catch(() => {});
  }
}

/** `--path /var/www/x/` -> `var/www/x` (archive names have no leading `/`); `/` selects everything. */
export function normalizeSelection(paths: string[]): string[] {
  const selection: string[] = [];
  for (const path of paths) {
    const parts = path.split('/').filter((part) => part !== '' && part !== '.');
    if (parts.includes('..')) {
      throw new RestorableError(`--path ${path}: '..' is not allowed; give the full path as it was on the backed-up machine`, {
        code: 'USAGE',
        remedy: 'e.g. --path /var/www/app/storage/app/public',
      });
    }
    if (parts.length === 0) return []; // `/`: everything
    selection.push(parts.join('/'));
  }
  return [...new Set(selection)];
}

function extractionError(failure: Error, artifact: ArtifactRecord, setId: string, target: string, staging: string): RestorableError {
  const refused = `the restore was refused and nothing was written to ${target}`;
  if (failure instanceof RestorableError) {
    if (failure.code === 'RESTORE_UNSAFE_ARCHIVE') return unsafeArchive(failure.message, artifact, setId, refused);
    const remedy =
      failure.code === 'RESTORE_UNSUPPORTED_ENTRY'
        ? `restore with GNU tar instead (\`${tarByHand(artifact.compression, 'xp', ' -C DIR')}\`), or leave it out with --path`
        : failure.remedy;
    return new RestorableError(`${artifact.path} of set ${setId}: ${failure.message}; ${refused}`, { code: failure.code, remedy });
  }
  const system = describeSystemError(failure, (failure as NodeJS.ErrnoException).path ?? staging);
  if (system) return system;
  const tarCode = (failure as { tarCode?: string }).tarCode;
  const code = (failure as { code?: string }).code;
  if (tarCode === 'TAR_BAD_ARCHIVE' || code === 'TAR_BAD_ARCHIVE' || /checksum|truncated|invalid/i.test(failure.message)) {
    return new RestorableError(`${artifact.path} of set ${setId} is not a readable tar archive (${failure.message}); ${refused}`, {
      code: 'RESTORE_ARTIFACT_DAMAGED',
      remedy: 'its sha256 matches the manifest, so it was written this way: restore from another set, and run `restorable verify --all`',
      cause: failure,
    });
  }
  return new RestorableError(`extracting ${artifact.path} of set ${setId} failed: ${failure.message}; ${refused}`, {
    code: 'RESTORE_FAILED',
    remedy: 'fix the cause and run the restore again',
    cause: failure,
  });
}

/** ENOSPC or EDQUOT, raw or inside the error describing it. */
function isDiskFull(error: unknown): boolean {
  const codes = [(error as NodeJS.ErrnoException).code, (error as { cause?: NodeJS.ErrnoException }).cause?.code];
  return codes.includes('ENOSPC') || codes.includes('EDQUOT');
}

function unsafeArchive(reason: string, artifact: ArtifactRecord, setId: string, refused: string): RestorableError {
  return new RestorableError(`${artifact.path} of set ${setId} holds an unsafe entry: ${reason}; ${refused}`, {
    code: 'RESTORE_UNSAFE_ARCHIVE',
    remedy:
      'restorable never writes such entries, and the artifact matches its manifest, so both were made or changed together: ' +
      `treat the repository as tampered with, restore from another set, and inspect this one with \`${tarByHand(artifact.compression, 'tv')}\``,
  });
}

/** GNU tar on an artifact by hand, for hints: `tar -tzf <artifact>`, or `zstd -dc <artifact> | tar -tf -`. */
export function tarByHand(compression: CompressionAlgorithm, letters: string, after = ''): string {
  return compression === 'zstd' ? `zstd -dc <artifact> | tar -${letters}f -${after}` : `tar -${letters}zf <artifact>${after}`;
}
