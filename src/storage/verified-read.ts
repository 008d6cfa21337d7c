// Owns the ONE verified read of a stored file (an artifact or an entry index)
// that verify, restore and drill all go through: the stored bytes are counted
// and sha256-hashed against the manifest record while they are decoded by what
// the record names (`decoderFor`, today the decompressor of its compression;
// decryption plugs in here, and nowhere else). Memory stays flat: backpressure
// from the decoded side reaches the reader.
//
// Invariants:
// - Hashing always reads to the end, even after decoding failed, so a flipped
//   byte is named "sha256 differs" and never only as its echo in the decoder.
// - Damage is judged in one order, the cause first: size, sha256, then the
//   decoder (the check is named after the algorithm: `gzip` or `zstd`).
// - A decompressor missing from PATH is not damage: it is thrown as is, with
//   what to install.
// - A failure of a stage after the decoder (a full disk, a refused tar entry)
//   says nothing about the stored bytes: it is handed back, never renamed.

import { createHash } from 'node:crypto';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RestorableError } from '../core/errors.ts';
import type { ArtifactRecord, CompressionAlgorithm } from '../core/manifest.ts';
import { createDecompressor, decompressorProgram, describeDecompressionError, isCompressorMissing } from '../stages/codec.ts';
import type { SetReader } from './set-reader.ts';

/** What the manifest says about one stored file: enough to open, check and decode it. */
export interface StoredFileRecord {
  /** Relative to the set's root, e.g. `files/files_backup_<set id>.tar.gz`. */
  path: string;
  source: string;
  sizeBytes: number;
  sha256: string;
  compression: CompressionAlgorithm;
}

/** The entry index of a files artifact as a stored file: always gzip, whatever the artifact's compression. */
export function indexRecordOf(artifact: ArtifactRecord): StoredFileRecord {
  const index = artifact.index;
  if (!index) throw new Error(`${artifact.path} has no entry index`);
  return { path: index.path, source: artifact.source, sizeBytes: index.sizeBytes, sha256: index.sha256, compression: 'gzip' };
}

/** The stage that turns stored bytes back into raw bytes. */
export function decoderFor(record: Pick<StoredFileRecord, 'compression'>): Transform {
  return createDecompressor(record.compression);
}

/**
 * The stock program that decodes stdin to stdout, for a consumer that lets a
 * child decode and feed another child directly (restore db: `gzip -d | mysql`).
 */
export function decoderProgramFor(record: Pick<StoredFileRecord, 'compression'>): { program: string; args: string[] } {
  return decompressorProgram(record.compression);
}

export interface VerifiedRead {
  /** Stored bytes read. */
  sizeBytes: number;
  /** sha256 (hex) of the stored bytes read. */
  sha256: string;
  /** The first failure of the decoding side (the decoder or a stage after it), if any. */
  decodeError?: unknown;
}

/** A stage that takes decoded bytes and keeps nothing: decoding to the end is the check. */
export function discardingSink(): Writable {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() });
}

/**
 * Reads an opened stored file to its end: every byte is counted and hashed,
 * and fed through `decoderFor(record)` into `decodedStages` (whatever
 * consumes the raw bytes). When the decoding side fails, reading goes on,
 * hashing only. Rejects only when reading the stored bytes fails (or on
 * `signal`); the verdict on the bytes is `judgeRead`'s.
 */
export async function streamVerified(
  source: Readable,
  record: Pick<StoredFileRecord, 'compression'>,
  decodedStages: Writable[],
  signal?: AbortSignal,
): Promise<VerifiedRead> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  let decoder: Transform;
  try {
    decoder = decoderFor(record);
  } catch (error) {
    source.destroy();
    for (const stage of decodedStages) stage.destroy();
    throw error;
  }
  let decodeError: unknown;
  let decodingSettled = false;
  const decoding = pipeline([decoder, ...decodedStages]).then(
    () => {
      decodingSettled = true;
    },
    (error: unknown) => {
      decodeError ??= error;
      decodingSettled = true;
    },
  );
  const decoderTakesMore = (): boolean => decodeError === undefined && !decodingSettled && !decoder.destroyed;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      signal?.throwIfAborted();
      hash.update(chunk);
      sizeBytes += chunk.length;
      if (decoderTakesMore() && !decoder.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            decoder.off('drain', done);
            resolve();
          };
          decoder.on('drain', done);
          void decoding.then(done);
        });
      }
    }
  } catch (error) {
    source.destroy();
    decoder.destroy();
    await decoding;
    throw error;
  }
  if (decoderTakesMore()) decoder.end();
  await decoding;
  return { sizeBytes, sha256: hash.digest('hex'), decodeError };
}

/** Opens `record` through the reader (its own error when it cannot), then `streamVerified`. */
export async function readVerified(reader: SetReader, record: StoredFileRecord, decodedStages: Writable[], signal?: AbortSignal): Promise<VerifiedRead> {
  let source: Readable;
  try {
    source = await reader.openArtifact(record.path);
  } catch (error) {
    for (const stage of decodedStages) stage.destroy();
    throw error;
  }
  return streamVerified(source, record, decodedStages, signal);
}

/** The layers of a read, in the order they are judged. */
export type ReadLayer = 'size' | 'sha256' | CompressionAlgorithm;

export interface ReadFinding {
  check: ReadLayer;
  message: string;
}

export interface ReadVerdict {
  /** Layers that held, in order. */
  passed: ReadLayer[];
  /** Layers that failed, the cause first, in operator words. */
  damage: ReadFinding[];
  /** A stage after the decoder failed (the stored bytes decoded fine as far as they went): its own error. */
  consumerError?: unknown;
}

/**
 * What a read says about the stored file. Throws the decodeError when the
 * decompressor is missing from PATH (the tool, not the file, is the problem).
 */
export function judgeRead(record: StoredFileRecord, read: VerifiedRead): ReadVerdict {
  const verdict: ReadVerdict = { passed: [], damage: [] };
  if (read.sizeBytes === record.sizeBytes) verdict.passed.push('size');
  else {
    const how = read.sizeBytes < record.sizeBytes ? 'truncated' : 'longer than written';
    verdict.damage.push({ check: 'size', message: `size differs from the manifest (expected ${record.sizeBytes} bytes, got ${read.sizeBytes}): the file is ${how}` });
  }
  if (read.sha256 === record.sha256) verdict.passed.push('sha256');
  else verdict.damage.push({ check: 'sha256', message: `sha256 differs from the manifest (expected ${record.sha256}, got ${read.sha256})` });
  if (read.decodeError === undefined) {
    verdict.passed.push(record.compression);
    return verdict;
  }
  if (isCompressorMissing(read.decodeError)) throw read.decodeError;
  const problem = describeDecompressionError(read.decodeError);
  if (problem) verdict.damage.push({ check: record.compression, message: problem });
  else verdict.consumerError = read.decodeError;
  return verdict;
}

const DAMAGED_REMEDY = 'restore from another set (`restorable list`) or an offsite copy; run `restorable verify --all`';

/**
 * Restore's verdict on a read: throws ARTIFACT_DAMAGED when the bytes differ
 * from the manifest ("<path> is damaged: its sha256 differs from the
 * manifest's", expected and got in details) or do not decode ("<path> is
 * damaged: gzip stream truncated ..."), else the consumer's own error; returns
 * when the read was sound.
 */
export function assertReadSound(record: StoredFileRecord, read: VerifiedRead): void {
  const verdict = judgeRead(record, read);
  const where = { source: record.source, path: record.path };
  if (verdict.damage.some((finding) => finding.check === 'size' || finding.check === 'sha256')) {
    throw new RestorableError(`${record.path} is damaged: its sha256 differs from the manifest's`, {
      code: 'ARTIFACT_DAMAGED',
      where,
      details: [`expected ${record.sha256} (${record.sizeBytes} bytes)`, `got      ${read.sha256} (${read.sizeBytes} bytes)`],
      remedy: DAMAGED_REMEDY,
    });
  }
  const [decoding] = verdict.damage;
  if (decoding) throw new RestorableError(`${record.path} is damaged: ${decoding.message}`, { code: 'ARTIFACT_DAMAGED', where, remedy: DAMAGED_REMEDY });
  if (verdict.consumerError !== undefined) throw verdict.consumerError;
}

/** Reads the whole stored file once (hash and decode, nothing kept); throws as `assertReadSound` does. */
export async function checkIntact(reader: SetReader, record: StoredFileRecord, signal?: AbortSignal): Promise<void> {
  assertReadSound(record, await readVerified(reader, record, [discardingSink()], signal));
}

/**
 * When a restore that decodes elsewhere (a child program) fails, a damaged
 * file is the likelier cause than whatever broke downstream: reads the file
 * once more and returns its ARTIFACT_DAMAGED error if it is damaged (or a
 * RestorableError opening or decoding it raised); otherwise `error` stands.
 */
export async function explainReadFailure(reader: SetReader, record: StoredFileRecord, error: unknown): Promise<unknown> {
  if (error instanceof RestorableError && error.code === 'ARTIFACT_DAMAGED') return error;
  try {
    await checkIntact(reader, record);
  } catch (damage) {
    if (damage instanceof RestorableError) return damage;
  }
  return error;
}

export interface HashedStoredFile {
  /** The stored (still encoded) bytes, counted and hashed as they pass; errors of the file reach it. */
  stream: Readable;
  /** What passed, once `stream` ended: judge it with `judgeRead` / `assertReadSound`. */
  read(): VerifiedRead;
}

/**
 * For a consumer that decodes the stored bytes itself in a child program
 * (`decoderProgramFor`): the bytes as they are read, hashed on the way.
 * `onBytes` hears the running count of stored bytes (progress).
 */
export async function openHashed(reader: SetReader, record: StoredFileRecord, onBytes?: (bytes: number) => void): Promise<HashedStoredFile> {
  const input = await reader.openArtifact(record.path);
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      onBytes?.(sizeBytes);
      callback(null, chunk);
    },
  });
  input.on('error', (error) => stream.destroy(error));
  stream.on('close', () => {
    if (!input.destroyed) input.destroy();
  });
  input.pipe(stream);
  let digest: string | undefined;
  return {
    stream,
    read: () => ({ sizeBytes, sha256: (digest ??= hash.digest('hex')) }),
  };
}
