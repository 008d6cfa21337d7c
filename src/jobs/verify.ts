// Owns `verify`: the deep check that a set is restorable without restoring it
// (research note F7, levels L0 + L1). Every stored file of a set (artifacts and
// file indexes) is read ONCE through the SetReader, so offsite destinations
// plug in later: the compressed bytes are counted and hashed against the
// manifest while they are decompressed in full by what the artifact record
// names (gzip: CRC and length trailer of every member; zstd: the content
// checksum of every frame), and the decompressed bytes are checked by kind: a files
// artifact must read as tar to its end-of-archive marker with the recorded
// number of entries, a MySQL dump must end with its `-- Dump completed`
// trailer and insert the recorded rows, an SQLite copy must be a database that
// passes `PRAGMA integrity_check` with the recorded row counts. Memory stays
// flat: nothing is buffered beyond a stream chunk.
//
// Checks are layered and reported in that order, so the first failure named is
// the cause and not an echo of it: presence, size, sha256, decompression
// (the check is named after the algorithm: `gzip` or `zstd`), content
// (tar / dump trailer / sqlite), then the recorded counts. A flipped byte is a
// sha256 failure even when it also breaks the compressed stream; a decoding
// failure therefore never stops the hashing, which always reads to the end.
//
// `streamStoredFile` is shared with restore (one read path for both).

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { countRows, integrityProblems, openSqlite, type SqliteDatabase } from '../sources/sqlite-database.ts';
import { Parser, type ReadEntry } from 'tar';
import { asRestorableError, describeSystemError, RestorableError } from '../core/errors.ts';
import type { ArtifactRecord, CompressionAlgorithm, Manifest } from '../core/manifest.ts';
import { createDecompressor, describeDecompressionError, isCompressorMissing } from '../stages/codec.ts';
import { DumpScanner } from '../sources/mysql-dump-scanner.ts';
import { EntryGuard, EntryRefusal } from '../sources/files-entry-guard.ts';
import { ByteCounter } from '../stages/hash.ts';
import { resolveSetId, type SetReader } from '../storage/set-reader.ts';
import { BoundedLineSplitter, MAX_LINE_BYTES } from '../storage/bounded-lines.ts';

// ---------------------------------------------------------------------------
// Results

/** The layers of checks, in the order they are judged. */
export type CheckName =
  | 'present'
  | 'size'
  | 'sha256'
  | 'gzip'
  | 'zstd'
  | 'tar'
  | 'dump-trailer'
  | 'sqlite'
  | 'index'
  | 'entries'
  | 'row-counts'
  | 'raw-size'
  | 'read';

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
  source: string;
  sets: SetVerification[];
}

export interface VerifyRequest {
  reader: SetReader;
  /** A set id or `latest` (the default). */
  set?: string;
  /** Every complete set, newest first (excludes `set`). */
  all?: boolean;
  /** A directory where a scratch copy of an SQLite artifact may be written (removed afterwards). */
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
  return { status: sets.every((set) => set.status === 'ok') ? 'ok' : 'failed', source: reader.describe(), sets };
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

/** One artifact: presence, size, sha256, full decompression, then its content by type. */
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
  const lines = new JsonLinesReader();
  return checkStoredFile(reader, { ...index, source: artifact.source, compression: 'gzip' }, 'index', 'index', [lines], signal, async (verification) => {
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
    where: { destination: outcome.source },
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

export interface StoredFileStream {
  /** Compressed bytes read. */
  sizeBytes: number;
  /** sha256 of the compressed bytes read. */
  sha256: string;
  /** The first failure of the decoding side (the decompressor or a stage after it), if any. */
  decodeError?: unknown;
}

/**
 * Reads one stored compressed file to its end: every byte is counted and
 * hashed, and fed through the decompressor of `compression` into
 * `decodedStages` (whatever consumes the decompressed bytes). When the
 * decoding side fails, reading goes on, hashing only, so that the caller can
 * tell a damaged file (sha256 differs) from a file that is intact but whose
 * content is wrong. Backpressure from the
 * decoding side reaches the reader: memory stays flat.
 */
export async function streamStoredFile(
  source: Readable,
  compression: CompressionAlgorithm,
  decodedStages: Writable[],
  signal?: AbortSignal,
): Promise<StoredFileStream> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  let decompressor: Transform;
  try {
    decompressor = createDecompressor(compression);
  } catch (error) {
    source.destroy();
    for (const stage of decodedStages) stage.destroy();
    throw error;
  }
  let decodeError: unknown;
  let decodingSettled = false;
  const decoding = pipeline([decompressor, ...decodedStages]).then(
    () => {
      decodingSettled = true;
    },
    (error: unknown) => {
      decodeError ??= error;
      decodingSettled = true;
    },
  );
  const decoderTakesMore = (): boolean => decodeError === undefined && !decodingSettled && !decompressor.destroyed;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      signal?.throwIfAborted();
      hash.update(chunk);
      sizeBytes += chunk.length;
      if (decoderTakesMore() && !decompressor.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            decompressor.off('drain', done);
            resolve();
          };
          decompressor.on('drain', done);
          void decoding.then(done);
        });
      }
    }
  } catch (error) {
    source.destroy();
    decompressor.destroy();
    await decoding;
    throw error;
  }
  if (decoderTakesMore()) decompressor.end();
  await decoding;
  return { sizeBytes, sha256: hash.digest('hex'), decodeError };
}

interface StoredFileRecord {
  path: string;
  source: string;
  sizeBytes: number;
  sha256: string;
  compression: CompressionAlgorithm;
}

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

  let streamed: StoredFileStream;
  try {
    streamed = await streamStoredFile(source, record.compression, decodedStages, signal);
  } catch (error) {
    if (signal?.aborted) throw error;
    verification.failures.push({ check: 'read', message: `reading it failed: ${(error as Error).message}` });
    return finish();
  }
  verification.facts.sizeBytes = streamed.sizeBytes;
  verification.facts.sha256 = streamed.sha256;

  if (streamed.sizeBytes === record.sizeBytes) verification.passed.push('size');
  else {
    const how = streamed.sizeBytes < record.sizeBytes ? 'truncated' : 'longer than written';
    verification.failures.push({
      check: 'size',
      message: `size differs from the manifest (expected ${record.sizeBytes} bytes, got ${streamed.sizeBytes}): the file is ${how}`,
    });
  }
  if (streamed.sha256 === record.sha256) verification.passed.push('sha256');
  else verification.failures.push({ check: 'sha256', message: `sha256 differs from the manifest (expected ${record.sha256}, got ${streamed.sha256})` });

  if (streamed.decodeError !== undefined) {
    // A missing zstd says nothing about the file: stop with what to install.
    if (isCompressorMissing(streamed.decodeError)) throw streamed.decodeError;
    const damage = describeDecompressionError(streamed.decodeError);
    if (damage) verification.failures.push({ check: record.compression, message: damage });
    else {
      const check = (streamed.decodeError as { check?: CheckName }).check ?? 'read';
      verification.failures.push({ check, message: (streamed.decodeError as Error).message ?? String(streamed.decodeError) });
    }
    return finish();
  }
  verification.passed.push(record.compression);
  await conclude(verification);
  return finish();
}

function describeUnreadable(reader: SetReader, error: unknown): string {
  const cause = (error as { cause?: NodeJS.ErrnoException }).cause ?? (error as NodeJS.ErrnoException);
  if (cause?.code === 'ENOENT') return `missing from ${reader.describe()}`;
  return `cannot be read from ${reader.describe()}: ${cause?.code ?? (error as Error).message}`;
}

// ---------------------------------------------------------------------------
// Content checks by artifact type

interface ContentFindings {
  passed: CheckName[];
  failures: CheckFailure[];
  facts: Record<string, unknown>;
}

interface ContentCheck {
  /** Consumers of the decompressed bytes. They record problems instead of failing the stream. */
  stages(): Promise<Writable[]>;
  /** After the whole stream decompressed cleanly: the findings. */
  conclude(): Promise<ContentFindings>;
  /** Removes anything written to scratch space. */
  dispose(): Promise<void>;
}

function contentCheckFor(artifact: ArtifactRecord, scratchParent: string): ContentCheck {
  switch (artifact.type) {
    case 'files':
      return new TarCheck(artifact);
    case 'mysql':
      return new DumpCheck(artifact, 'mysql');
    case 'postgres':
      // Plain-format pg_dump output ends with this trailer (research note V6).
      if (/\.sql\.(gz|zst)$/.test(artifact.path)) return new DumpCheck(artifact, 'postgres');
      return new DrainOnly();
    case 'sqlite':
      return new SqliteCheck(artifact, scratchParent);
    default:
      return new DrainOnly();
  }
}

/** Unknown types: the compression layer is all that can be judged. */
class DrainOnly implements ContentCheck {
  async stages(): Promise<Writable[]> {
    return [new Writable({ write: (_chunk, _encoding, callback) => callback() })];
  }
  async conclude(): Promise<ContentFindings> {
    return { passed: [], failures: [], facts: { content: 'not checked: unknown artifact type' } };
  }
  async dispose(): Promise<void> {}
}

/**
 * Reads the decompressed bytes as tar with node-tar's strict parser: a bad
 * header checksum or an entry cut short is an error, and the archive must end
 * with its end-of-archive marker. Counts entries for the manifest's numbers.
 */
class TarCheck implements ContentCheck {
  private entries = 0;
  private sawEndMarker = false;
  private failure: string | undefined;
  private readonly parser: Parser;
  private readonly ended: Promise<void>;
  /** Ends the check early (the rest of the stream is only drained). */
  private stopReading!: () => void;

  constructor(private readonly artifact: ArtifactRecord) {
    // brotli/zstd off: the bytes are already decompressed, only tar is expected.
    this.parser = new Parser({ strict: true, brotli: false, zstd: false });
    // The guard restore runs: an archive restore would refuse does not verify.
    const guard = new EntryGuard();
    const judge = (entry: ReadEntry): void => {
      try {
        if (this.failure === undefined) guard.judge(entry.path, entry.type, entry.linkpath);
      } catch (error) {
        if (!(error instanceof EntryRefusal)) throw error;
        this.failure = `${error.reason === 'unsafe' ? 'unsafe entry' : 'unsupported entry'}: ${error.message} (restore files refuses this archive)`;
        this.stopReading();
      }
    };
    this.parser.on('entry', (entry: ReadEntry) => {
      this.entries++;
      judge(entry);
      entry.resume();
    });
    this.parser.on('ignoredEntry', judge);
    this.parser.on('eof', () => {
      this.sawEndMarker = true;
    });
    this.ended = new Promise<void>((resolve) => {
      this.stopReading = resolve;
      this.parser.on('error', (error: Error) => {
        this.failure ??= `tar archive unreadable: ${error.message}`;
        resolve();
      });
      this.parser.on('end', () => resolve());
    });
  }

  async stages(): Promise<Writable[]> {
    const parser = this.parser;
    let waitingForDrain: (() => void) | undefined;
    const release = (): void => {
      const callback = waitingForDrain;
      waitingForDrain = undefined;
      callback?.();
    };
    parser.on('drain', release);
    // A parse error ends the wait too: the rest of the stream is only drained.
    void this.ended.then(release);
    return [
      new Writable({
        highWaterMark: 256 * 1024,
        write: (chunk: Buffer, _encoding, callback) => {
          if (this.failure !== undefined || parser.write(chunk) || this.failure !== undefined) return callback();
          waitingForDrain = () => callback();
        },
        final: (callback) => {
          if (this.failure === undefined) parser.end();
          void this.ended.then(() => callback());
        },
      }),
    ];
  }

  async conclude(): Promise<ContentFindings> {
    await this.ended;
    const facts = { entries: this.entries };
    if (this.failure) return { passed: [], failures: [{ check: 'tar', message: this.failure }], facts };
    if (!this.sawEndMarker) {
      return {
        passed: [],
        failures: [{ check: 'tar', message: `tar archive ends after ${this.entries} entries without its end-of-archive marker: it was cut short` }],
        facts,
      };
    }
    const passed: CheckName[] = ['tar'];
    const failures: CheckFailure[] = [];
    const recorded = recordedEntryCounts(this.artifact);
    if (recorded.length > 0) {
      const differing = recorded.filter(({ count }) => count !== this.entries);
      if (differing.length === 0) passed.push('entries');
      else failures.push({ check: 'entries', message: differing.map(({ count, where }) => `the tar archive holds ${this.entries} entries, ${where} says ${count}`).join('; ') });
    }
    return { passed, failures, facts };
  }

  async dispose(): Promise<void> {}
}

/** The entry counts the backup recorded: `details.entries.total` and the index's entry count. */
function recordedEntryCounts(artifact: ArtifactRecord): Array<{ count: number; where: string }> {
  const recorded: Array<{ count: number; where: string }> = [];
  const entries = artifact.details?.entries as { total?: unknown } | undefined;
  if (typeof entries?.total === 'number') recorded.push({ count: entries.total, where: 'the manifest' });
  if (typeof artifact.index?.entries === 'number') recorded.push({ count: artifact.index.entries, where: 'the manifest\'s index record' });
  return recorded;
}

const DUMP_TRAILERS = {
  mysql: '-- Dump completed',
  postgres: '-- PostgreSQL database dump complete',
} as const;

/**
 * A SQL dump: it must end with its tool's trailer (a dump cut short by a dead
 * server still compresses fine, research notes V1/V6). MySQL dumps are scanned with
 * the backup's own DumpScanner, so the rows per table can be compared with the
 * counts the backup recorded from the very same bytes.
 */
class DumpCheck implements ContentCheck {
  private readonly scanner = new DumpScanner();
  private tail = '';

  constructor(
    private readonly artifact: ArtifactRecord,
    private readonly flavor: keyof typeof DUMP_TRAILERS,
  ) {}

  async stages(): Promise<Writable[]> {
    if (this.flavor === 'mysql') {
      return [this.scanner, new Writable({ write: (_chunk, _encoding, callback) => callback() })];
    }
    // The trailer is within the last few hundred bytes; keep a short tail only.
    return [
      new Writable({
        write: (chunk: Buffer, _encoding, callback) => {
          this.tail = (this.tail + chunk.toString('latin1')).slice(-4096);
          callback();
        },
      }),
    ];
  }

  async conclude(): Promise<ContentFindings> {
    const trailer = DUMP_TRAILERS[this.flavor];
    const noTrailer = {
      check: 'dump-trailer' as const,
      message: `the dump does not end with its \`${trailer}\` trailer: it was cut short (the database server or the dump tool died mid-dump)`,
    };
    if (this.flavor !== 'mysql') {
      const lastLine = this.tail.trimEnd().split('\n').pop() ?? '';
      return lastLine.startsWith(trailer) ? { passed: ['dump-trailer'], failures: [], facts: {} } : { passed: [], failures: [noTrailer], facts: {} };
    }
    const scan = this.scanner.result();
    const facts = { lines: scan.lines, tables: scan.inventory.tables.length };
    if (!scan.trailerFound) return { passed: [], failures: [noTrailer], facts };
    const passed: CheckName[] = ['dump-trailer'];
    const failures: CheckFailure[] = [];
    const tables = this.artifact.details?.tables as Record<string, { rows?: unknown }> | undefined;
    if (tables && typeof tables === 'object') {
      const differing = Object.entries(tables)
        .filter(([, table]) => typeof table?.rows === 'number')
        .filter(([name, table]) => (scan.rowsByTable[name] ?? 0) !== table.rows)
        .map(([name, table]) => `table ${name}: ${scan.rowsByTable[name] ?? 0} rows in the dump, the manifest says ${table.rows as number}`);
      if (differing.length === 0) passed.push('row-counts');
      else failures.push({ check: 'row-counts', message: differing.join('; ') });
    }
    return { passed, failures, facts };
  }

  async dispose(): Promise<void> {}
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * An SQLite copy: the first 16 bytes must be the SQLite header; the bytes go
 * to a scratch file as they stream, which is then opened read-only for
 * `PRAGMA integrity_check` and the recorded row counts.
 */
class SqliteCheck implements ContentCheck {
  private scratchDir: string | undefined;
  private copyPath: string | undefined;
  private head = Buffer.alloc(0);
  private headerProblem: string | undefined;
  private bytes = 0;

  constructor(
    private readonly artifact: ArtifactRecord,
    private readonly scratchParent: string,
  ) {}

  async stages(): Promise<Writable[]> {
    this.scratchDir = await mkdtemp(join(this.scratchParent, 'verify-'));
    this.copyPath = join(this.scratchDir, 'copy.sqlite');
    const headerCheck = new Transform({
      transform: (chunk: Buffer, _encoding, callback: TransformCallback) => {
        this.bytes += chunk.length;
        if (this.head.length < SQLITE_HEADER.length) {
          this.head = Buffer.concat([this.head, chunk.subarray(0, SQLITE_HEADER.length - this.head.length)]);
          if (this.head.length === SQLITE_HEADER.length && !this.head.equals(SQLITE_HEADER)) {
            this.headerProblem = `not an SQLite database: it starts with ${JSON.stringify(this.head.toString('latin1'))} instead of "SQLite format 3\\0"`;
          }
        }
        // A file that is not a database need not be copied.
        callback(null, this.headerProblem ? undefined : chunk);
      },
    });
    return [headerCheck, createWriteStream(this.copyPath, { mode: 0o600, highWaterMark: 1024 * 1024 })];
  }

  async conclude(): Promise<ContentFindings> {
    const facts: Record<string, unknown> = {};
    if (this.headerProblem) return { passed: [], failures: [{ check: 'sqlite', message: this.headerProblem }], facts };
    if (this.head.length < SQLITE_HEADER.length) {
      return { passed: [], failures: [{ check: 'sqlite', message: `not an SQLite database: only ${this.bytes} byte(s)` }], facts };
    }
    let database: SqliteDatabase | undefined;
    try {
      database = openSqlite(this.copyPath!, { readonly: true });
      const problems = integrityProblems(database);
      if (problems.length > 0) {
        return { passed: [], failures: [{ check: 'sqlite', message: `PRAGMA integrity_check failed: ${problems.slice(0, 3).join('; ')}` }], facts };
      }
      const passed: CheckName[] = ['sqlite'];
      const failures: CheckFailure[] = [];
      const recorded = this.artifact.details?.rowCounts as Record<string, unknown> | undefined;
      if (recorded && typeof recorded === 'object') {
        const differing: string[] = [];
        for (const [table, rows] of Object.entries(recorded)) {
          if (typeof rows !== 'number') continue;
          const counted = countRows(database, table);
          if (counted !== rows) differing.push(`table ${table}: ${counted ?? 'missing'} rows in the copy, the manifest says ${rows}`);
        }
        if (differing.length === 0) passed.push('row-counts');
        else failures.push({ check: 'row-counts', message: differing.join('; ') });
      }
      return { passed, failures, facts };
    } catch (error) {
      return { passed: [], failures: [{ check: 'sqlite', message: `the copy does not open as an SQLite database: ${(error as Error).message}` }], facts };
    } finally {
      database?.close();
    }
  }

  async dispose(): Promise<void> {
    if (this.scratchDir) await rm(this.scratchDir, { recursive: true, force: true });
  }
}

/**
 * Reads JSON lines (the entry index) as they stream, handing each parsed line
 * to `onLine`. Every line is bounded (bounded-lines.ts): an index that
 * decompresses to one endless line is a damaged index, not a crash. Problems
 * are recorded in `failure`, never thrown into the stream; after the first,
 * the rest of the stream is only drained.
 */
export class JsonLinesReader extends Writable {
  count = 0;
  failure: string | undefined;
  private readonly splitter: BoundedLineSplitter;

  constructor(private readonly onLine: (value: unknown) => void = () => {}) {
    super();
    this.splitter = new BoundedLineSplitter(
      (line) => this.take(line),
      (lineNumber) => {
        this.failure ??= `line ${lineNumber} is longer than ${MAX_LINE_BYTES} bytes: not an index restorable wrote`;
      },
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.failure) this.splitter.push(chunk);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.failure && this.splitter.end() && !this.failure) this.failure = `the last line is cut short (no newline at the end)`;
    callback();
  }

  private take(line: string): void {
    if (this.failure) return;
    try {
      const value = JSON.parse(line) as { path?: unknown; type?: unknown } | null;
      if (typeof value?.path !== 'string' || typeof value.type !== 'string') throw new Error('no path or type');
      this.count++;
      this.onLine(value);
    } catch (error) {
      this.failure = `line ${this.count + 1} is not an index entry (${(error as Error).message})`;
    }
  }
}
