// Owns `restore files`: one files artifact of a set -> a directory tree under
// DIR, safely (research notes F8, V8, V9; libraries-vetted §3). The job flow
// lives here; the work is done by three modules of sources/:
//   files-entry-guard.ts  which entries may be restored at all (verify runs the same guard)
//   files-extract.ts      tar bytes -> a tree in the staging directory (node-tar's Parser, our writes)
//   files-place.ts        the target, the staging directory beside it, moving the tree into place
//
// How it stays safe:
//   - The artifact streams from the SetReader through its decompressor (gzip
//     or zstd, as its manifest record says) into the extraction, hashed as it
//     flows; a size or sha256 that differs from the manifest fails the
//     restore even when every entry extracted cleanly.
//   - Everything is extracted into a staging directory beside DIR (same
//     filesystem, 0700, opened and written through its descriptor) and only
//     moved into place once the whole archive has been read, verified and
//     extracted, with its owners, modes and mtimes applied: any failure
//     removes the staging directory, so DIR is never half-restored, and after
//     the move nothing is changed through a path someone else could swap.
//   - A single unsafe entry refuses the whole archive (files-entry-guard.ts).
//   - Before anything is written, the target's filesystem must have room for
//     what the backup recorded; if it fills up anyway, the error names it.
//   - Staging directories of killed restores to the same target are removed
//     (only those whose process is gone).
//
// With `--path`, entries outside the selection are skipped; a selected hard
// link whose first link lies outside it gets that file extracted too (found in
// the entry index beforehand) and removed again once linked.

import { lstat, mkdir, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { describeSystemError, RestorableError } from '../core/errors.ts';
import type { ArtifactRecord, CompressionAlgorithm } from '../core/manifest.ts';
import { describeDecompressionError, isCompressorMissing } from '../stages/codec.ts';
import { collectYoungGarbage } from '../stages/young-garbage.mjs';
import { isSelected, TarExtraction } from '../sources/files-extract.ts';
import { applyExtendedAttributes, type AttributeTarget } from '../sources/files-xattrs.ts';
import { inspectTarget, refuseForeignSymlinks, Staging } from '../sources/files-place.ts';
import { ensureRoomForRestore, recordedRestoreBytes, targetFullError } from '../sources/files-restore-space.ts';
import { resolveSetId, type SetReader } from '../storage/set-reader.ts';
import { filesystemSpace, reserveBytes } from './disk-space.ts';
import type { RunReporter } from './ports.ts';
import { JsonLinesReader, streamStoredFile } from './verify.ts';

export interface RestoreFilesRequest {
  reader: SetReader;
  /** A set id or `latest` (the default). */
  set?: string;
  /** The source whose artifact to restore; required when the set has several files artifacts. */
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

export interface RestoredCounts {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
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

/**
 * Parsing makes many short-lived objects and buffers; the young generation is
 * collected after this much archive data, so that garbage does not pile up as
 * resident memory (see young-garbage.mjs).
 */
const BYTES_PER_COLLECTION = 8 * 1024 * 1024;

export async function runRestoreFiles(request: RestoreFilesRequest): Promise<RestoreFilesOutcome> {
  const started = performance.now();
  const { reader, reporter } = request;
  const setId = await resolveSetId(reader, request.set);
  const manifest = await reader.readManifest(setId);
  const artifact = chooseFilesArtifact(manifest.artifacts, request.source, setId);
  const selection = normalizeSelection(request.paths ?? []);
  const target = resolve(request.to);
  await refuseForeignSymlinks(target);
  const state = await inspectTarget(target, request.force === true);

  const what = selection.length > 0 ? `${selection.map((path) => `/${path}`).join(', ')} from ` : '';
  const how = state === 'non-empty' ? 'merging into the non-empty directory (--force: entries of the same name are replaced)' : state === 'empty' ? 'the empty directory' : 'a new directory';
  reporter.step(`restore target: ${target} (${how})`);
  reporter.step(`restoring ${what}${artifact.path} (source ${artifact.source}, set ${setId}, ${reader.describe()})`);

  const where = { source: artifact.source, path: target };
  const parent = dirname(target);
  // Created parents are ours to remove again if the restore fails; 0700 like every parent restore makes.
  const createdParent = await mkdir(parent, { recursive: true, mode: 0o700 });
  let staging: Staging | undefined;
  let extraction: TarExtraction | undefined;
  let neededBytes = recordedRestoreBytes(artifact);
  let placed = false;
  try {
    const indexFacts = selection.length > 0 ? await readIndexForSelection(reader, artifact, selection, reporter, request.signal) : undefined;
    if (indexFacts?.selectedBytes !== undefined) neededBytes = indexFacts.selectedBytes;
    if (selection.length === 0 || indexFacts?.selectedBytes !== undefined) {
      const reserve = request.keepFree ? reserveBytes(request.keepFree, (await filesystemSpace(parent)).totalBytes) : 0;
      await ensureRoomForRestore(parent, target, neededBytes, reserve);
    }

    const created = await Staging.create(target);
    staging = created.staging;
    for (const pid of created.swept) reporter.step(`removed the staging directory an interrupted restore (pid ${pid}) left beside ${target}`);

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
    const source = await reader.openArtifact(artifact.path);
    let streamed;
    try {
      streamed = await streamStoredFile(source, artifact.compression, [extraction.sink], request.signal);
    } finally {
      // Nothing may still be writing into staging when it is judged or removed.
      await extraction.settled();
    }

    // A missing zstd says nothing about the artifact: say what to install.
    if (isCompressorMissing(streamed.decodeError)) throw streamed.decodeError;
    const damage =
      streamed.sizeBytes !== artifact.sizeBytes
        ? `size differs from the manifest (expected ${artifact.sizeBytes} bytes, got ${streamed.sizeBytes})`
        : streamed.sha256 !== artifact.sha256
          ? `sha256 differs from the manifest (expected ${artifact.sha256}, got ${streamed.sha256})`
          : describeDecompressionError(streamed.decodeError);
    if (damage) {
      throw new RestorableError(`${artifact.path} of set ${setId} is damaged: ${damage}; the restore was refused and nothing was written to ${target}`, {
        code: 'RESTORE_ARTIFACT_DAMAGED',
        where,
        remedy: 'restore from another set (`restorable verify --all` shows which are intact) or from an offsite copy',
      });
    }
    const failure = extraction.failure ?? (streamed.decodeError as Error | undefined);
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
    await restoreExtendedAttributes(reader, artifact, selection, staging.path, reporter, request.signal);
    const placement = await staging.placeAt(target, state, extraction.directories, preserveOwners);
    placed = true;
    const counts = extraction.counts;
    reporter.step(`restored ${counts.files} file(s), ${counts.dirs} director(ies), ${counts.symlinks} symlink(s), ${counts.hardlinks} hard link(s) into ${target}`);
    return {
      setId,
      source: artifact.source,
      artifact: artifact.path,
      target,
      placement,
      paths: selection,
      entries: { ...counts },
      sizeBytes: streamed.sizeBytes,
      durationMs: Math.round(performance.now() - started),
    };
  } catch (error) {
    if (!placed) await staging?.remove();
    if (!placed && createdParent) await rm(createdParent, { recursive: true, force: true });
    if (!placed && isDiskFull(error)) {
      throw (await targetFullError(error, createdParent ? dirname(createdParent) : parent, target, neededBytes, extraction?.bytesWritten ?? 0)).locatedAt(where);
    }
    if (error instanceof RestorableError) throw error.locatedAt(where);
    if (request.signal?.aborted) {
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

// ---------------------------------------------------------------------------
// Choosing what to restore and where

/** `--source`, or the set's only files artifact; several without `--source` is a usage error listing them. */
export function chooseFilesArtifact(artifacts: ArtifactRecord[], source: string | undefined, setId: string): ArtifactRecord {
  const files = artifacts.filter((artifact) => artifact.type === 'files');
  const names = files.map((artifact) => artifact.source);
  if (source !== undefined) {
    const chosen = artifacts.find((artifact) => artifact.source === source);
    if (chosen?.type === 'files') return chosen;
    throw new RestorableError(
      chosen ? `source ${source} of set ${setId} is a ${chosen.type} artifact, not files` : `set ${setId} has no artifact of a source named ${source}`,
      {
        code: 'USAGE',
        remedy: names.length > 0 ? `the files sources of set ${setId} are: ${names.join(', ')}` : `set ${setId} holds no files artifact`,
      },
    );
  }
  if (files.length === 1) return files[0]!;
  if (files.length === 0) {
    throw new RestorableError(`set ${setId} holds no files artifact`, {
      code: 'USAGE',
      remedy: `its artifacts are: ${artifacts.map((artifact) => `${artifact.source} (${artifact.type})`).join(', ') || 'none'}; databases restore with \`restorable restore db\``,
    });
  }
  throw new RestorableError(`set ${setId} has ${files.length} files artifacts: say which one with --source (${names.join(', ')})`, {
    code: 'USAGE',
    remedy: `e.g. \`restorable restore files --source ${names[0]} --to DIR\``,
  });
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

// ---------------------------------------------------------------------------
// Hard links across the selection

interface SelectionFacts {
  /** Names outside the selection that selected hard links point to. */
  linkTargets: Set<string>;
  /** Bytes of the selected files (undefined when the index could not be read). */
  selectedBytes: number | undefined;
}

/**
 * With `--path`, a selected hard link may point at a first link outside the
 * selection, whose content comes earlier in the archive. The entry index says
 * which: those files are extracted too, and removed once linked. The same
 * read sums the selected files' sizes, for the free-space check. An index
 * that cannot be read is only a warning: such links then fail the restore by
 * name, and the space is not checked beforehand.
 */
async function readIndexForSelection(
  reader: SetReader,
  artifact: ArtifactRecord,
  selection: string[],
  reporter: RunReporter,
  signal?: AbortSignal,
): Promise<SelectionFacts> {
  const index = artifact.index;
  if (!index) return { linkTargets: new Set(), selectedBytes: undefined };
  const targets = new Set<string>();
  let selectedBytes = 0;
  const lines = new JsonLinesReader((value) => {
    const entry = value as { path: string; type: string; size?: unknown; linkTarget?: unknown };
    const name = archiveName(entry.path);
    if (entry.type === 'file' && typeof entry.size === 'number' && isSelected(name, selection)) selectedBytes += entry.size;
    if (entry.type !== 'hardlink' || typeof entry.linkTarget !== 'string') return;
    const linkName = archiveName(entry.linkTarget);
    if (isSelected(name, selection) && !isSelected(linkName, selection)) targets.add(linkName);
  });
  try {
    const streamed = await streamStoredFile(await reader.openArtifact(index.path), 'gzip', [lines], signal);
    const problem =
      streamed.sha256 !== index.sha256
        ? 'its sha256 differs from the manifest'
        : (describeDecompressionError(streamed.decodeError) ?? lines.failure ?? (streamed.decodeError as Error | undefined)?.message);
    if (problem) throw new Error(problem);
  } catch (error) {
    if (signal?.aborted) throw error;
    reporter.warn(`the entry index ${index.path} cannot be used (${(error as Error).message}); a hard link under --path whose first link is outside it will fail the restore`);
    return { linkTargets: new Set(), selectedBytes: undefined };
  }
  return { linkTargets: targets, selectedBytes };
}

// ---------------------------------------------------------------------------
// ACLs and extended attributes

/**
 * Sets the ACLs and extended attributes the entry index recorded (the archive
 * carries them as GNU tar does, but node-tar's parser decodes pax values as
 * UTF-8, which breaks binary ones). Only read when the backup counted any.
 * A failure is a warning, not a failed restore: without its ACL an entry is
 * narrower than it was (the archive's mode never widens), never wider.
 */
async function restoreExtendedAttributes(
  reader: SetReader,
  artifact: ArtifactRecord,
  selection: string[],
  stagingPath: string,
  reporter: RunReporter,
  signal?: AbortSignal,
): Promise<void> {
  const recorded = (artifact.details as { withAttributes?: unknown }).withAttributes;
  if (!artifact.index || typeof recorded !== 'number' || recorded <= 0) return;
  const named: Array<{ name: string; xattrs: Record<string, string> }> = [];
  let refused = 0;
  const lines = new JsonLinesReader((value) => {
    const entry = value as { path?: unknown; type?: unknown; xattrs?: unknown };
    if (typeof entry.path !== 'string' || entry.type === 'symlink' || typeof entry.xattrs !== 'object' || entry.xattrs === null) return;
    const name = archiveName(entry.path);
    if (name === '.' || name.split('/').includes('..') || !isSelected(name, selection)) return;
    // The index is repository content: an attribute name with a newline would inject lines into setfattr's input.
    const xattrs = Object.fromEntries(Object.entries(entry.xattrs).filter(([key, base64]) => isAttributeName(key) && typeof base64 === 'string' && BASE64.test(base64)));
    if (Object.keys(xattrs).length !== Object.keys(entry.xattrs).length) refused++;
    if (Object.keys(xattrs).length > 0) named.push({ name, xattrs });
  });
  try {
    const streamed = await streamStoredFile(await reader.openArtifact(artifact.index.path), 'gzip', [lines], signal);
    const problem =
      streamed.sha256 !== artifact.index.sha256
        ? 'its sha256 differs from the manifest'
        : (describeDecompressionError(streamed.decodeError) ?? lines.failure ?? (streamed.decodeError as Error | undefined)?.message);
    if (problem) throw new Error(`the entry index ${artifact.index.path} cannot be used: ${problem}`);
    // An index entry below a symlink the archive made would set attributes (an ACL granting access) on what
    // the link points to, outside the target: only entries reached without a link get them.
    const targets: AttributeTarget[] = [];
    for (const { name, xattrs } of named) {
      if (await reachedWithoutLink(stagingPath, name)) targets.push({ path: `${stagingPath}/${name}`, xattrs });
      else refused++;
    }
    if (refused > 0) reporter.warn(`${refused} entr${refused === 1 ? 'y' : 'ies'} of the entry index named attributes or paths that were not applied (not an attribute name, or not reached without a symlink)`);
    await applyExtendedAttributes(targets, signal);
    if (targets.length > 0) reporter.step(`restored ACLs and extended attributes of ${targets.length} entr${targets.length === 1 ? 'y' : 'ies'}`);
  } catch (error) {
    if (signal?.aborted) throw error;
    const remedy = error instanceof RestorableError && error.remedy ? ` (${error.remedy})` : '';
    reporter.warn(`ACLs and extended attributes were not restored: ${(error as Error).message}${remedy}; the entries keep the archive's modes, which never grant more than the originals`);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** `user.x`, `security.selinux`, `system.posix_acl_access`: a namespace and printable ASCII without spaces or `=`. */
function isAttributeName(name: string): boolean {
  return /^(user|security|system|trusted)\.[\x21-\x3c\x3e-\x7e]{1,250}$/.test(name);
}

/** Every component of `name` below the staging directory exists and none is a symlink (staging is root's, 0700: no race). */
async function reachedWithoutLink(stagingPath: string, name: string): Promise<boolean> {
  let path = stagingPath;
  for (const component of name.split('/')) {
    path = `${path}/${component}`;
    const info = await lstat(path).catch(() => undefined);
    if (!info || info.isSymbolicLink()) return false;
  }
  return true;
}

function archiveName(absolutePath: string): string {
  return absolutePath.split('/').filter((part) => part !== '' && part !== '.').join('/') || '.';
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
function tarByHand(compression: CompressionAlgorithm, letters: string, after = ''): string {
  return compression === 'zstd' ? `zstd -dc <artifact> | tar -${letters}f -${after}` : `tar -${letters}zf <artifact>${after}`;
}

