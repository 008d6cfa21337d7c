// Owns the choice of compression for artifacts: which file extension an
// algorithm gives, which stage compresses (our parallel gzip, or the zstd
// program), which stage decompresses what an artifact record says it holds,
// how a decompression failure reads for the operator, and the stock command
// that decompresses an artifact by hand. Readers pick the algorithm from the
// artifact's manifest record, never from the current config: a set stays
// readable after the config changed.

import type { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { RestorableError } from '../core/errors.ts';
import type { CompressionAlgorithm } from '../core/manifest.ts';
import { createGzipStage } from './parallel-gzip.ts';
import { runToText } from '../process/spawn-stream.ts';
import { ZstdError, ZstdProcess, zstdNotInstalled } from './zstd-process.ts';

export interface CompressorSettings {
  algorithm: CompressionAlgorithm;
  level: number;
  /** Threads; default min(2, available cores). */
  workers?: number;
  /** gzip only: store stretches that would not compress. */
  storeIncompressible: boolean;
  /** gzip only: the estimated saving a stretch needs to be deflated. */
  minSavings: number;
}

/** The extension compression adds to an artifact's name: `sql.gz`, `tar.zst`. */
export function artifactExtension(algorithm: CompressionAlgorithm): 'gz' | 'zst' {
  return algorithm === 'zstd' ? 'zst' : 'gz';
}

/**
 * Pre-flight: the program an algorithm needs is there and runs, checked
 * before any source starts (a missing zstd found mid-run would fail the
 * run after minutes of dumping). Returns a note for the run's output.
 */
export async function checkCompressorAvailable(algorithm: CompressionAlgorithm): Promise<string | undefined> {
  if (algorithm !== 'zstd') return undefined;
  try {
    const version = await runToText('zstd', ['--version'], { name: 'zstd', deadlineMs: 10_000 });
    return version.trim().split('\n')[0];
  } catch (error) {
    if ((error as { message?: string }).message?.includes('program not found')) throw zstdNotInstalled('compress');
    throw new RestorableError(`zstd --version failed: ${(error as Error).message}`, {
      code: 'ZSTD_NOT_INSTALLED',
      remedy: 'check that the zstd program on PATH runs (apt-get install --reinstall zstd), or set compression: gzip',
      cause: error,
    });
  }
}

export function createCompressor(settings: CompressorSettings): Transform {
  if (settings.algorithm === 'zstd') return new ZstdProcess({ mode: 'compress', level: settings.level, workers: settings.workers });
  return createGzipStage({
    level: settings.level,
    workers: settings.workers,
    storeIncompressible: settings.storeIncompressible,
    minSavings: settings.minSavings,
  });
}

export function createDecompressor(algorithm: CompressionAlgorithm): Transform {
  if (algorithm === 'zstd') return new ZstdProcess({ mode: 'decompress' });
  if (algorithm === 'gzip') return createGunzip({ chunkSize: 256 * 1024 });
  throw unknownCompression(algorithm);
}

/** Manifests are read from disk: a newer restorable may have written another name. */
function unknownCompression(algorithm: string): RestorableError {
  return new RestorableError(`the manifest names compression ${JSON.stringify(algorithm)}, which this version of restorable cannot read`, {
    code: 'UNKNOWN_COMPRESSION',
    remedy: 'read the set with the restorable version that wrote it (see the manifest\'s restorableVersion)',
  });
}

/**
 * Operator words for a decompression failure that means the stored bytes are
 * damaged (truncation is the common case and gets its own name); undefined
 * for anything else (a missing zstd, a killed child, a failing consumer).
 */
export function describeDecompressionError(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'Z_BUF_ERROR') return 'gzip stream truncated (unexpected end of file)';
  if (typeof code === 'string' && code.startsWith('Z_')) return `gzip stream corrupt (${(error as Error).message})`;
  // A signal is not damage; an exit status is zstd judging the bytes.
  if (error instanceof ZstdError && error.mode === 'decompress' && error.signal === null && error.exitStatus !== null) {
    return `zstd stream ${error.truncated ? 'truncated' : 'corrupt'} (zstd: ${error.stderrLine || `exit status ${error.exitStatus}`})`;
  }
  return undefined;
}

/** The failure is zstd missing from PATH: the tool, not the artifact, is the problem. */
export function isCompressorMissing(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'ZSTD_NOT_INSTALLED';
}

/**
 * The stock program that decompresses stdin to stdout, for callers that let
 * a child process feed another one directly (restore db: the SQL then never
 * passes through this process). gzip is an essential package on Debian.
 */
export function decompressorProgram(algorithm: CompressionAlgorithm): { program: string; args: string[] } {
  if (algorithm === 'zstd') return { program: 'zstd', args: ['-d', '-c', '-q'] };
  if (algorithm === 'gzip') return { program: 'gzip', args: ['-d', '-c'] };
  throw unknownCompression(algorithm);
}

/** The stock command that decompresses an artifact to stdout, for hints: `gunzip < X`, `zstd -dc X`. */
export function decompressCommand(algorithm: CompressionAlgorithm, path: string): string {
  return algorithm === 'zstd' ? `zstd -dc ${path}` : `gunzip < ${path}`;
}
