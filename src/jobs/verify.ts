// Owns `verify`: the deep check that a set is restorable without restoring it
// (levels L0 + L1). Every stored file of a set (artifacts and entry indexes)
// is read ONCE through the verified read (storage/verified-read.ts), which
// counts and hashes the stored bytes against the manifest while decoding them
// in full (gzip: CRC and length trailer of every member; zstd: the content
// checksum of every frame). The decoded bytes of an artifact go to the
// content check of its kind's driver (sources/*-check.ts: tar to its end
// marker, a dump's trailer and rows, SQLite's integrity_check); a kind this
// version does not know is judged on its compression layer only. Memory stays
// flat: nothing is buffered beyond a stream chunk.
//
// Checks are layered and reported in that order, so the first failure named is
// the cause and not an echo of it: presence, size, sha256, decompression
// (the check is named after the algorithm: `gzip` or `zstd`), content
// (the kind's), then the recorded counts. A flipped byte is a
// sha256 failure even when it also breaks the compressed stream; a decoding
// failure therefore never stops the hashing, which always reads to the end.

import type { Readable, Writable } from 'node:stream';
import { asRestorableError, describeSystemError, RestorableError } from '../core/errors.ts';
import type { ArtifactRecord, Manifest } from '../core/manifest.ts';
import { IndexReader } from '../sources/files-index.ts';
import { driverForKind } from '../sources/registry.ts';
import type { ContentCheck, ContentCheckName, ContentFindings } from '../sources/source-verify.ts';
import { ByteCounter } from '../stages/hash.ts';
import { resolveSetId, type SetReader } from '../storage/set-reader.ts';
import { discardingSink, indexRecordOf, judgeRead, streamVerified, type ReadLayer, type StoredFileRecord, type VerifiedRead } from '../storage/verified-read.ts';

// ---------------------------------------------------------------------------
// Results

/** The layers of checks, in the order they are judged. */
export type CheckName = 'present' | ReadLayer | ContentCheckName | 'index' | 'raw-size' | 'read';

export interface CheckFailure {
  check: CheckName;
  message: string;
}

export interface FileVerification {
  /** Relative path in the set, e.g. `files/files_backup_<set id>.tar.gz`. */
  path: string;
  source: string;
  /** The artifact itself, or the entry index of a files artifact. */
  kind: 'artifact' | 'index';
  /** The artifact's type (`files`, `mysql`, `sqlite`, ...); `index` for an index. */
  type: string;
  status: 'ok' | 'failed';
  /** Checks that passed, in order. */
  passed: CheckName[];
  /** Failed checks, the cause first. */
  failures: CheckFailure[];
  /** What was read: compressed size and sha256, decompressed size, entry/line counts. */
  facts: Record<string, unknown>;
  durationMs: number;
}

export interface SetVerification {
  setId: string;
  status: 'ok' | 'failed';
  files: FileVerification[];
  /** Set when the set could not be examined at all (its manifest is unreadable). */
  error?: { code: string; message: string };
}

export interface VerifyOutcome {
  status: 'ok' | 'failed';
  /** Where the sets were read from: "local repository /var/backups/app". */
  destination: string;
  sets: SetVerification[];
}

export interface VerifyRequest {
  reader: SetReader;
  /** A set id or `latest` (the default). */
  set?: string;
  /** Every complete set, newest first (excludes `set`). */
  all?: boolean;
  /** A directory where a kind's content check may write a scratch copy (an SQLite file; removed afterwards). */
  scratchParent: string;
  /** Called as each file has been checked (one output line per file). */
  onFile?: (setId: string, result: FileVerification) => void;
  signal?: AbortSignal;
}

// ---------------------------------------------------------------------------
// The use-case

export async function runVerify(request: VerifyRequest): Promise<VerifyOutcome> {
  const { reader } = request;
  if (request.all && request.set && request.set !== 'latest') {
    throw new RestorableError(`verify takes a set id or --all, not both (got ${request.set} and --all)`, {
      code: 'USAGE',
      remedy: 'drop the set id to check every set, or drop --all to check one',
    });
  }
  let setIds: string[];
  if (request.all) {
    setIds = await reader.setIds();
    if (setIds.length === 0) {
      throw new RestorableError(`no complete set in ${reader.describe()}`, { code: 'NO_SET', remedy: 'run `restorable backup` first' });
    }
  } else {
    setIds = [await resolveSetId(reader, request.set)];
  }
  const sets: SetVerification[] = [];
  for (const setId of setIds) {
    request.signal?.throwIfAborted();
    sets.push(await verifySet(reader, setId, request));
  }
  return { status: sets.every((set) => set.status === 'ok') ? 'ok' : 'failed', destination: reader.describe(), sets };
}

/** Checks every stored file a set's manifest names. */
export async function verifySet(
  reader: SetReader,
  setId: string,
  options: { scratchParent: string; onFile?: VerifyRequest['onFile']; signal?: AbortSignal },
): Promise<SetVerification> {
  let manifest: Manifest;
  try {
    manifest = await reader.readManifest(setId);
  } catch (error) {
    const failure = asRestorableError(error, 'MANIFEST_UNREADABLE');
    return { setId, status: 'failed', files: [], error: { code: failure.code, message: failure.message } };
  }
  const files: FileVerification[] = [];
  for (const artifact of manifest.artifacts) {
    options.signal?.throwIfAborted();
    const artifactResult = await verifyArtifact(reader, artifact, options);
    files.push(artifactResult);
    options.onFile?.(setId, artifactResult);
    if (artifact.index) {
      const indexResult = await verifyIndex(reader, artifact, options.signal);
      files.push(indexResult);
      options.onFile?.(setId, indexResult);
    }
  }
  return { setId, status: files.every((file) => file.status === 'ok') ? 'ok' : 'failed', files };
}

/** One artifact: presence, size, sha256, full decompression, then its content as its kind judges it. */
export async function verifyArtifact(
  reader: SetReader,
  artifact: ArtifactRecord,
  options: { scratchParent: string; signal?: AbortSignal },
): Promise<FileVerification> {
  const content = contentCheckFor(artifact, options.scratchParent);
  const rawCounter = new ByteCounter();
  let contentStages: Writable[];
  try {
    contentStages = await content.stages();
  } catch (error) {
    await content.dispose();
    throw (
      describeSystemError(error, options.scratchParent) ??
      new RestorableError(`cannot prepare the check of ${artifact.path}: ${(error as Error).message}`, {
        code: 'VERIFY_SCRATCH_FAILED',
        where: { path: options.scratchParent },
        remedy: 'make room in (or fix the permissions of) the scratch directory, then verify again',
        cause: error,
      })
    );
  }
  const result = await checkStoredFile(reader, artifact, 'artifact', artifact.type, [rawCounter, ...contentStages], options.signal, async (verification) => {
    const findings = await content.conclude();
    verification.passed.push(...findings.passed);
    verification.failures.push(...findings.failures);
    Object.assign(verification.facts, findings.facts);
    verification.facts.rawSizeBytes = rawCounter.byteCount;
    if (typeof artifact.rawSizeBytes === 'number') {
      if (rawCounter.byteCount === artifact.rawSizeBytes) verification.passed.push('raw-size');
      else {
        verification.failures.push({
          check: 'raw-size',
          message: `decompressed size differs from the manifest (expected ${artifact.rawSizeBytes} bytes, got ${rawCounter.byteCount})`,
        });
      }
    }
  }).finally(() => content.dispose());
  return result;
}

/** The entry index of a files artifact (always gzip): size, sha256, gunzip, one JSON object per line, the recorded count. */
export async function verifyIndex(reader: SetReader, artifact: ArtifactRecord, signal?: AbortSignal): Promise<FileVerification> {
  const index = artifact.index!;
  const lines = new IndexReader();
  return checkStoredFile(reader, indexRecordOf(artifact), 'index', 'index', [lines], signal, async (verification) => {
    verification.facts.entries = lines.count;
    if (lines.failure) {
      verification.failures.push({ check: 'index', message: `the index is unreadable: ${lines.failure}` });
      return;
    }
    verification.passed.push('index');
    if (lines.count === index.entries) verification.passed.push('entries');
    else verification.failures.push({ check: 'entries', message: `the index holds ${lines.count} entries, the manifest says ${index.entries}` });
  });
}

/** What a failed verification means for the operator (undefined when all passed). */
export function verificationError(outcome: VerifyOutcome): RestorableError | undefined {
  const failedSets = outcome.sets.filter((set) => set.status === 'failed');
  if (failedSets.length === 0) return undefined;
  const lines = failedSets.flatMap((set) =>
    set.error
      ? [`set ${set.setId}: ${set.error.message}`]
      : set.files.filter((file) => file.status === 'failed').map((file) => `set ${set.setId}: ${describeFailure(file)}`),
  );
  const [first, ...others] = lines;
  return new RestorableError(others.length === 0 ? `verify FAILED: ${first}` : `verify FAILED: ${lines.length} problem(s) in ${failedSets.length} set(s)`, {
    code: 'VERIFY_FAILED',
    where: { destination: outcome.destination },
    details: others.length === 0 ? [] : lines,
    remedy:
      'do not rely on the failed set(s): restore from a set that verifies (`restorable verify --all`), run a new backup now, ' +
      'and look for what damaged the files (disk errors in `dmesg`, a full disk, someone editing the repository)',
  });
}

/** `files/files_backup_X.tar.gz: sha256 differs from the manifest (...)` */
export function describeFailure(file: FileVerification): string {
  const first = file.failures[0];
  return first ? `${file.path}: ${first.message}` : `${file.path}: ok`;
}

// ---------------------------------------------------------------------------
// Reading a stored file once

/**
 * The layered check of one stored file: open (present), stream once, then
 * size, sha256 and decompression (named `gzip` or `zstd`); `conclude` adds the
 * content findings when the compressed stream was sound.
 */
async function checkStoredFile(
  reader: SetReader,
  record: StoredFileRecord,
  kind: FileVerification['kind'],
  type: string,
  decodedStages: Writable[],
  signal: AbortSignal | undefined,
  conclude: (verification: FileVerification) => Promise<void>,
): Promise<FileVerification> {
  const started = performance.now();
  const verification: FileVerification = { path: record.path, source: record.source, kind, type, status: 'ok', passed: [], failures: [], facts: {}, durationMs: 0 };
  const finish = (): FileVerification => {
    verification.status = verification.failures.length === 0 ? 'ok' : 'failed';
    verification.durationMs = Math.round(performance.now() - started);
    return verification;
  };

  let source: Readable;
  try {
    source = await reader.openArtifact(record.path);
  } catch (error) {
    for (const stage of decodedStages) stage.destroy();
    verification.failures.push({ check: 'present', message: describeUnreadable(reader, error) });
    return finish();
  }
  verification.passed.push('present');

  let streamed: VerifiedRead;
  try {
    streamed = await streamVerified(source, record, decodedStages, signal);
  } catch (error) {
    if (signal?.aborted) throw error;
    verification.failures.push({ check: 'read', message: `reading it failed: ${(error as Error).message}` });
    return finish();
  }
  verification.facts.sizeBytes = streamed.sizeBytes;
  verification.facts.sha256 = streamed.sha256;
  // A missing zstd says nothing about the file: judgeRead throws it, with what to install.
  const verdict = judgeRead(record, streamed);
  verification.passed.push(...verdict.passed);
  verification.failures.push(...verdict.damage);
  if (verdict.consumerError !== undefined) {
    verification.failures.push({ check: 'read', message: (verdict.consumerError as Error).message ?? String(verdict.consumerError) });
  }
  if (streamed.decodeError !== undefined) return finish();
  await conclude(verification);
  return finish();
}

function describeUnreadable(reader: SetReader, error: unknown): string {
  const cause = (error as { cause?: NodeJS.ErrnoException }).cause ?? (error as NodeJS.ErrnoException);
  if (cause?.code === 'ENOENT') return `missing from ${reader.describe()}`;
  return `cannot be read from ${reader.describe()}: ${cause?.code ?? (error as Error).message}`;
}

// ---------------------------------------------------------------------------
// Content checks: the kind's driver judges its content

function contentCheckFor(artifact: ArtifactRecord, scratchParent: string): ContentCheck {
  return driverForKind(artifact.type)?.checkContent(artifact, scratchParent) ?? new DrainOnly();
}

/** A kind this version does not know: the compression layer is all that can be judged. */
class DrainOnly implements ContentCheck {
  async stages(): Promise<Writable[]> {
    return [discardingSink()];
  }
  async conclude(): Promise<ContentFindings> {
    return { passed: [], failures: [], facts: { content: 'not checked: unknown artifact type' } };
  }
  async dispose(): Promise<void> {}
}
