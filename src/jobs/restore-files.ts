// Owns `restore files`: one files artifact of a set -> a directory tree under
// DIR, safely (research notes F8, V8, V9; libraries-vetted §3).
//
// How it stays safe:
//   - The artifact streams from the SetReader through its decompressor (gzip
//     or zstd, as its manifest record says) into node-tar's
//     Unpack, hashed as it flows; a size or sha256 that differs from the
//     manifest fails the restore even when every entry extracted cleanly.
//   - Everything is extracted into a staging directory beside DIR (same
//     filesystem) and only moved into place once the whole archive has been
//     read, verified and extracted: any failure removes the staging directory,
//     so DIR is never half-restored.
//   - Every entry name is checked before node-tar sees it (no `..`, no absolute
//     names, nothing below a name the archive makes a symlink, hard links only
//     to checked names inside the archive); a single unsafe entry refuses the
//     whole archive. node-tar then runs with `strict: true`: any warning of
//     it is a failure, since node-tar otherwise skips bad entries and
//     resolves (V9). It runs with `preservePaths: true`, which only means
//     "trust the names": they were checked above, and the staging directory
//     holds no symlink while node-tar writes (ours come last). Without it,
//     node-tar 7 walks every path component of every file with mkdir + lstat
//     (no cache since 7.5): 215,807 mkdir calls, 209,278 of them EEXIST, for
//     the 10,256 files of the reference set, and 20 s instead of 7.5 s.
//   - Symlinks are not given to node-tar at all: they are created after every
//     other entry, from the archive headers, with their targets exactly as
//     stored (node-tar would strip the leading `/` of an absolute target, and
//     with `strict` refuse the archive). As nothing is extracted after them,
//     nothing can be written through them.
//
// Fidelity: modes (node-tar's open() is subject to the umask and root's chown
// clears setuid bits, so such files are chmod-ed again), mtimes (directories
// last, deepest first, once nothing is added to them any more; symlinks with
// lutimes), owners when run as root (preserveOwner, lchown for symlinks), hard
// links, empty directories. Memory holds the directories, the symlinks and the
// few files whose mode needs a fix, never every entry.
//
// With `--path`, entries outside the selection are skipped; a selected hard
// link whose first link lies outside it gets that file extracted too (found in
// the entry index beforehand) and removed again once linked.

import { lstat, lchown, lutimes, mkdir, readdir, realpath, rename, rm, rmdir, stat, symlink, unlink, chmod, chown, utimes } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { Unpack, type ReadEntry } from 'tar';
import { describeSystemError, RestorableError } from '../core/errors.ts';
import type { ArtifactRecord, CompressionAlgorithm } from '../core/manifest.ts';
import { describeDecompressionError, isCompressorMissing } from '../stages/codec.ts';
import { collectYoungGarbage } from '../stages/young-garbage.mjs';
import { resolveSetId, type SetReader } from '../storage/set-reader.ts';
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

type TargetState = 'absent' | 'empty' | 'non-empty';

const STAGING_MARK = '.restorable-staging-';
/** How long to wait for node-tar's pending writes to settle after a failure before cleaning up anyway. */
const SETTLE_TIMEOUT_MS = 30_000;

export async function runRestoreFiles(request: RestoreFilesRequest): Promise<RestoreFilesOutcome> {
  const started = performance.now();
  const { reader, reporter } = request;
  const setId = await resolveSetId(reader, request.set);
  const manifest = await reader.readManifest(setId);
  const artifact = chooseFilesArtifact(manifest.artifacts, request.source, setId);
  const selection = normalizeSelection(request.paths ?? []);
  const target = resolve(request.to);
  const state = await inspectTarget(target, request.force === true);

  const what = selection.length > 0 ? `${selection.map((path) => `/${path}`).join(', ')} from ` : '';
  const how = state === 'non-empty' ? 'merging into the non-empty directory (--force: entries of the same name are replaced)' : state === 'empty' ? 'the empty directory' : 'a new directory';
  reporter.step(`restore target: ${target} (${how})`);
  reporter.step(`restoring ${what}${artifact.path} (source ${artifact.source}, set ${setId}, ${reader.describe()})`);

  // Created parents are ours to remove again if the restore fails.
  const createdParent = await mkdir(dirname(target), { recursive: true, mode: 0o700 });
  const staging = `${target}${STAGING_MARK}${process.pid}`;
  await rm(staging, { recursive: true, force: true }); // a leftover of a killed run with our pid
  await mkdir(staging, { mode: 0o700 });
  const where = { source: artifact.source, path: target };
  let placed = false;
  try {
    const linkTargets = selection.length > 0 ? await linkTargetsOutsideSelection(reader, artifact, selection, reporter, request.signal) : new Set<string>();
    const guard = new ExtractionGuard(selection, linkTargets, process.umask(), artifact.compression);
    const extraction = new Extraction(staging, guard);
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
    const failure = guard.failure ?? extraction.failure ?? (streamed.decodeError as Error | undefined);
    if (failure) throw extractionError(failure, artifact, setId, target, staging);
    if (selection.length > 0 && guard.selectedCount === 0) {
      throw new RestorableError(`nothing in ${artifact.path} of set ${setId} is at or under ${selection.map((path) => `/${path}`).join(', ')}`, {
        code: 'RESTORE_PATH_NOT_FOUND',
        where,
        remedy: `the archive holds what sources.${artifact.source}.paths named at backup time; list it with \`${tarByHand(artifact.compression, 't')}\` and give --path as a full path`,
      });
    }

    await completeInStaging(staging, guard);
    const placement = await place(staging, target, state);
    placed = true;
    await applyDirectoryMetadata(target, guard.directories);
    reporter.step(
      `restored ${guard.counts.files} file(s), ${guard.counts.dirs} director(ies), ${guard.counts.symlinks} symlink(s), ${guard.counts.hardlinks} hard link(s) into ${target}`,
    );
    return {
      setId,
      source: artifact.source,
      artifact: artifact.path,
      target,
      placement,
      paths: selection,
      entries: { ...guard.counts },
      sizeBytes: streamed.sizeBytes,
      durationMs: Math.round(performance.now() - started),
    };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    if (!placed && createdParent) await rm(createdParent, { recursive: true, force: true });
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

function isSelected(name: string, selection: string[]): boolean {
  return selection.length === 0 || selection.some((path) => name === path || name.startsWith(`${path}/`));
}

async function inspectTarget(target: string, force: boolean): Promise<TargetState> {
  let info;
  try {
    info = await lstat(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw error;
  }
  if (!info.isDirectory()) {
    throw new RestorableError(`the restore target ${target} exists and is not a directory${info.isSymbolicLink() ? ' (it is a symlink)' : ''}`, {
      code: 'RESTORE_REFUSED',
      where: { path: target },
      remedy: info.isSymbolicLink() ? `give the directory it points to: --to ${await realpath(target).catch(() => '<its target>')}` : 'choose a new or empty directory',
    });
  }
  const names = await readdir(target);
  if (names.length === 0) return 'empty';
  if (!force) {
    throw new RestorableError(`the restore target ${target} is not empty (${names.length} entr${names.length === 1 ? 'y' : 'ies'}); nothing was changed`, {
      code: 'RESTORE_REFUSED',
      where: { path: target },
      remedy: 'restore into a new or empty directory and copy what you need from there, or add --force to merge into it (entries of the same name are replaced)',
    });
  }
  return 'non-empty';
}

// ---------------------------------------------------------------------------
// Hard links across the selection

/**
 * With `--path`, a selected hard link may point at a first link outside the
 * selection, whose content comes earlier in the archive. The entry index says
 * which: those files are extracted too, and removed once linked. An index that
 * cannot be read is only a warning: such links then fail the restore by name.
 */
async function linkTargetsOutsideSelection(
  reader: SetReader,
  artifact: ArtifactRecord,
  selection: string[],
  reporter: RunReporter,
  signal?: AbortSignal,
): Promise<Set<string>> {
  const index = artifact.index;
  if (!index) return new Set();
  const targets = new Set<string>();
  const lines = new JsonLinesReader((value) => {
    const entry = value as { path: string; type: string; linkTarget?: unknown };
    if (entry.type !== 'hardlink' || typeof entry.linkTarget !== 'string') return;
    const name = archiveName(entry.path);
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
    return new Set();
  }
  return targets;
}

function archiveName(absolutePath: string): string {
  return absolutePath.split('/').filter((part) => part !== '' && part !== '.').join('/') || '.';
}

// ---------------------------------------------------------------------------
// The guard: every entry name is judged before node-tar sees it

interface DirectoryMetadata {
  name: string;
  mode: number | undefined;
  uid: number | undefined;
  gid: number | undefined;
  mtime: Date | undefined;
}

interface SymlinkToCreate {
  target: string;
  uid: number | undefined;
  gid: number | undefined;
  mtime: Date | undefined;
}

class ExtractionGuard {
  failure: RestorableError | undefined;
  readonly counts: RestoredCounts = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0 };
  selectedCount = 0;
  readonly directories: DirectoryMetadata[] = [];
  /** Selected symlinks, created after extraction. */
  readonly symlinks = new Map<string, SymlinkToCreate>();
  /** Files whose mode node-tar cannot set (umask, setuid cleared by chown). */
  readonly modesToFix: Array<{ name: string; mode: number }> = [];
  /** Link targets outside the selection that were extracted only to be linked. */
  readonly extractedLinkTargets = new Set<string>();
  /** Every symlink name the archive has (selected or not): nothing may go below one. */
  private readonly symlinkNames = new Set<string>();

  constructor(
    private readonly selection: string[],
    private readonly linkTargets: Set<string>,
    private readonly umask: number,
    private readonly compression: CompressionAlgorithm,
  ) {}

  /** node-tar's filter: true to extract the entry. Records a refusal in `failure` instead of throwing. */
  admit(rawName: string, entry: ReadEntry): boolean {
    if (this.failure) return false;
    const name = this.checkedName(rawName, 'entry');
    if (name === undefined) return false;
    const linkAbove = this.symlinkAbove(name);
    if (linkAbove) return this.refuse(`entry ${rawName} lies below ${linkAbove}, which the archive makes a symlink: extracting it would write through the link`);
    if (name === '.' && entry.type !== 'Directory' && entry.type !== 'GNUDumpDir') return this.refuse(`entry ${rawName} (${entry.type}) would replace the target directory itself`);

    const selected = isSelected(name, this.selection);
    const neededAsLinkTarget = !selected && this.linkTargets.has(name);
    if (entry.type !== 'SymbolicLink') {
      // A later entry of the same name replaces an earlier symlink (tar semantics).
      this.symlinkNames.delete(name);
      this.symlinks.delete(name);
    }
    if (!selected && !neededAsLinkTarget) {
      if (entry.type === 'SymbolicLink') this.symlinkNames.add(name);
      return false;
    }
    const times = { uid: entry.uid, gid: entry.gid, mtime: entry.mtime };
    switch (entry.type) {
      case 'SymbolicLink':
        this.symlinkNames.add(name);
        if (!entry.linkpath) return this.refuse(`symlink ${rawName} has no target`);
        this.symlinks.set(name, { target: entry.linkpath, ...times });
        this.counted('symlinks');
        return false; // created after every other entry
      case 'Link': {
        const linkName = this.checkedName(entry.linkpath ?? '', `hard link ${rawName} ->`);
        if (linkName === undefined) return false;
        const through = this.symlinkNames.has(linkName) ? linkName : this.symlinkAbove(linkName);
        if (through) return this.refuse(`hard link ${rawName} -> ${entry.linkpath} goes through the symlink ${through}`);
        if (!isSelected(linkName, this.selection) && !this.linkTargets.has(linkName)) {
          this.failure = new RestorableError(`/${name} is a hard link to /${linkName}, which is outside --path and could not be located in the entry index`, {
            code: 'RESTORE_LINK_OUTSIDE_SELECTION',
            remedy: `add --path /${linkName}, or restore without --path`,
          });
          return false;
        }
        this.counted('hardlinks');
        return true;
      }
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        if (neededAsLinkTarget) this.extractedLinkTargets.add(name);
        else this.counted('files');
        if (typeof entry.mode === 'number' && ((entry.mode & 0o7000) !== 0 || (entry.mode & this.umask) !== 0)) this.modesToFix.push({ name, mode: entry.mode & 0o7777 });
        return true;
      case 'Directory':
      case 'GNUDumpDir':
        if (neededAsLinkTarget) return false;
        this.counted('dirs');
        this.directories.push({ name, mode: entry.mode, ...times });
        return true;
      default:
        // FIFOs, devices and unknown types: node-tar would skip them (some silently).
        this.failure = new RestorableError(`entry ${rawName} is a ${entry.type}, which restore files does not create`, {
          code: 'RESTORE_UNSUPPORTED_ENTRY',
          remedy: `restore with GNU tar instead (\`${tarByHand(this.compression, 'xp', ' -C DIR')}\`), or leave it out with --path`,
        });
        return false;
    }
  }

  private counted(kind: keyof RestoredCounts): void {
    this.counts[kind]++;
    this.selectedCount++;
  }

  /** The name relative to the target, or undefined (and a refusal) when it would leave it. */
  private checkedName(raw: string, what: string): string | undefined {
    if (raw === '') {
      this.refuse(`${what} has an empty name`);
      return undefined;
    }
    if (raw.startsWith('/')) {
      this.refuse(`${what} ${raw} is an absolute path`);
      return undefined;
    }
    const parts = raw.split('/').filter((part) => part !== '' && part !== '.');
    if (parts.includes('..')) {
      this.refuse(`${what} ${raw} climbs out with '..'`);
      return undefined;
    }
    return parts.length > 0 ? parts.join('/') : '.';
  }

  private symlinkAbove(name: string): string | undefined {
    if (this.symlinkNames.size === 0) return undefined;
    for (let slash = name.indexOf('/'); slash !== -1; slash = name.indexOf('/', slash + 1)) {
      const ancestor = name.slice(0, slash);
      if (this.symlinkNames.has(ancestor)) return ancestor;
    }
    return undefined;
  }

  private refuse(reason: string): false {
    this.failure ??= new RestorableError(reason, { code: 'RESTORE_UNSAFE_ARCHIVE' });
    return false;
  }
}

// ---------------------------------------------------------------------------
// node-tar's Unpack as a Writable, and waiting for it to be quiet

/**
 * node-tar 7.5 keeps every job it ever scheduled: PathReservations#clear
 * never deletes the job from its #reservations map, and each job is a closure
 * holding its ReadEntry. On the reference tree (10,256 files) that was 16,132
 * retained contexts and ~80 MB of heap by the end of the archive. Each job is
 * wrapped so that, once it has run, the map holds only the empty wrapper (and
 * the job's path list), and the entry can be collected. Where node-tar has no
 * `reservations.reserve` (another version), nothing is changed.
 */
function forgetFinishedJobs(unpack: Unpack): void {
  const reservations = (unpack as { reservations?: { reserve?: (paths: string[], job: (done: () => void) => void) => boolean } }).reservations;
  const reserve = reservations?.reserve;
  if (!reservations || typeof reserve !== 'function') return;
  reservations.reserve = (paths, job) => {
    let pending: ((done: () => void) => void) | undefined = job;
    return reserve.call(reservations, paths, (done) => {
      const run = pending!;
      pending = undefined;
      run(done);
    });
  };
}

/**
 * node-tar turns every entry into many short-lived objects and buffers; the
 * young generation is collected after this much archive data, so that
 * garbage does not pile up as resident memory (see young-garbage.mjs).
 */
const BYTES_PER_COLLECTION = 8 * 1024 * 1024;

class Extraction {
  failure: Error | undefined;
  readonly sink: Writable;
  private readonly unpack: Unpack;
  private ended = false;
  private readonly endedPromise: Promise<void>;
  private endRequested = false;
  private readonly failedPromise: Promise<void>;
  private markFailed!: () => void;

  constructor(staging: string, guard: ExtractionGuard) {
    this.failedPromise = new Promise<void>((resolve) => (this.markFailed = resolve));
    const isRoot = process.getuid?.() === 0;
    this.unpack = new Unpack({
      cwd: staging,
      strict: true,
      preservePaths: true,
      preserveOwner: isRoot,
      // The bytes are already decompressed: no sniffing for other formats.
      brotli: false,
      zstd: false,
      filter: (path: string, entry: unknown) => guard.admit(path, entry as ReadEntry),
      // With strict, node-tar raises warnings as errors; any that still arrives fails the restore too.
      onwarn: (code: string, message: string | Error) => {
        this.failure ??= new Error(`${code}: ${message instanceof Error ? message.message : message}`);
        this.markFailed();
      },
    });
    forgetFinishedJobs(this.unpack);
    let waitingForDrain: (() => void) | undefined;
    const release = (): void => {
      const callback = waitingForDrain;
      waitingForDrain = undefined;
      callback?.();
    };
    this.unpack.on('error', (error: Error) => {
      this.failure ??= error;
      this.markFailed();
      release();
    });
    this.unpack.on('drain', release);
    this.endedPromise = new Promise<void>((resolve) => {
      this.unpack.on('end', () => {
        this.ended = true;
        resolve();
      });
    });
    const problem = (): Error | undefined => {
      const found = guard.failure ?? this.failure;
      if (found) this.markFailed();
      return found;
    };
    let sinceCollection = 0;
    this.sink = new Writable({
      highWaterMark: 256 * 1024,
      write: (chunk: Buffer, _encoding, callback) => {
        if (problem()) return callback(problem());
        sinceCollection += chunk.length;
        if (sinceCollection >= BYTES_PER_COLLECTION) {
          sinceCollection = 0;
          collectYoungGarbage();
        }
        const more = this.unpack.write(chunk);
        if (problem()) return callback(problem());
        if (more) return callback();
        waitingForDrain = () => callback(problem());
      },
      final: (callback) => {
        void this.settled().then(() => callback(problem()));
      },
    });
  }

  /**
   * Resolves once node-tar has finished every pending write. After a failure
   * it may never end (its cwd gone): then it gets SETTLE_TIMEOUT_MS at most.
   */
  async settled(): Promise<void> {
    if (this.ended) return;
    if (!this.endRequested) {
      this.endRequested = true;
      this.unpack.end();
    }
    let timer: NodeJS.Timeout | undefined;
    const givingUp = this.failedPromise.then(() => new Promise<void>((resolve) => (timer = setTimeout(resolve, SETTLE_TIMEOUT_MS))));
    await Promise.race([this.endedPromise, givingUp]);
    clearTimeout(timer);
  }
}

function extractionError(failure: Error, artifact: ArtifactRecord, setId: string, target: string, staging: string): RestorableError {
  const refused = `the restore was refused and nothing was written to ${target}`;
  if (failure instanceof RestorableError) {
    if (failure.code === 'RESTORE_UNSAFE_ARCHIVE') return unsafeArchive(failure.message, artifact, setId, refused);
    return new RestorableError(`${artifact.path} of set ${setId}: ${failure.message}; ${refused}`, { code: failure.code, remedy: failure.remedy });
  }
  const system = describeSystemError(failure, (failure as NodeJS.ErrnoException).path ?? staging);
  if (system) return system;
  const tarCode = (failure as { tarCode?: string }).tarCode;
  const code = (failure as { code?: string }).code;
  if (code === 'TAR_SYMLINK_ERROR' || /'\.\.'|escape|absolute|stripping|symbolic link/i.test(failure.message)) {
    return unsafeArchive(failure.message, artifact, setId, refused);
  }
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

// ---------------------------------------------------------------------------
// After extraction: staging -> final tree

/** Modes node-tar could not set, link targets extracted only for linking, then the symlinks. */
async function completeInStaging(staging: string, guard: ExtractionGuard): Promise<void> {
  for (const { name, mode } of guard.modesToFix) await chmod(join(staging, name), mode);

  for (const name of guard.extractedLinkTargets) {
    await unlink(join(staging, name));
    // Remove the directories node-tar made only for it; rmdir stops at the first non-empty one.
    for (let parent = dirname(name); parent !== '.'; parent = dirname(parent)) {
      try {
        await rmdir(join(staging, parent));
      } catch {
        break;
      }
    }
  }

  const realStaging = await realpath(staging);
  const isRoot = process.getuid?.() === 0;
  for (const [name, link] of guard.symlinks) {
    const path = join(staging, name);
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    // Belt and braces: the guard allows no entry below a symlink, so no parent can be one.
    if ((await realpath(dirname(path))) !== join(realStaging, dirname(name))) {
      throw unsafeInStaging(`the parent of symlink ${name} resolves outside the target`);
    }
    const existing = await lstat(path).catch(() => undefined);
    if (existing?.isDirectory()) throw unsafeInStaging(`the archive holds both a directory and a symlink named ${name}`);
    if (existing) await unlink(path);
    await symlink(link.target, path);
    if (isRoot && typeof link.uid === 'number' && typeof link.gid === 'number') await lchown(path, link.uid, link.gid);
    if (link.mtime) await lutimes(path, link.mtime, link.mtime);
  }
}

function unsafeInStaging(reason: string): RestorableError {
  return new RestorableError(reason, { code: 'RESTORE_UNSAFE_ARCHIVE', remedy: 'inspect the archive with `tar -tvzf`; restore from another set' });
}

/** Moves the staging tree into place: a rename when the target is new or empty, an entry-by-entry merge with --force. */
async function place(staging: string, target: string, state: TargetState): Promise<'created' | 'merged'> {
  if (state === 'absent') {
    await rename(staging, target);
    return 'created';
  }
  if (state === 'empty') {
    // rename() replaces an empty directory; keep the one the operator made (its owner and mode).
    const before = await stat(target);
    await rename(staging, target);
    await chmod(target, before.mode & 0o7777);
    if (process.getuid?.() === 0) await chown(target, before.uid, before.gid);
    return 'created';
  }
  await mergeInto(staging, target);
  await rm(staging, { recursive: true, force: true });
  return 'merged';
}

/**
 * Moves every entry of `from` into `into`: directories that exist on both
 * sides (real directories, not symlinks) are merged, anything else in the way
 * is replaced. Never follows a symlink found in the target.
 */
async function mergeInto(from: string, into: string): Promise<void> {
  for (const name of await readdir(from)) {
    const source = join(from, name);
    const destination = join(into, name);
    const sourceInfo = await lstat(source);
    const destinationInfo = await lstat(destination).catch(() => undefined);
    if (sourceInfo.isDirectory() && destinationInfo?.isDirectory()) {
      await mergeInto(source, destination);
      continue;
    }
    // rename() replaces a file or symlink atomically; a directory in the way, or
    // anything where a directory goes, is removed first.
    if (destinationInfo && (destinationInfo.isDirectory() || sourceInfo.isDirectory())) await rm(destination, { recursive: true, force: true });
    await rename(source, destination);
  }
}

/** Directory owners, modes and mtimes, deepest first, once nothing is added to them any more. */
async function applyDirectoryMetadata(root: string, directories: DirectoryMetadata[]): Promise<void> {
  const isRoot = process.getuid?.() === 0;
  const depth = (name: string): number => (name === '.' ? 0 : name.split('/').length);
  const ordered = [...directories].sort((a, b) => depth(b.name) - depth(a.name));
  for (const directory of ordered) {
    const path = directory.name === '.' ? root : join(root, directory.name);
    if (isRoot && typeof directory.uid === 'number' && typeof directory.gid === 'number') await chown(path, directory.uid, directory.gid);
    if (typeof directory.mode === 'number') await chmod(path, directory.mode & 0o7777);
    if (directory.mtime) await utimes(path, directory.mtime, directory.mtime);
  }
}
