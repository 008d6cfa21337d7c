// Owns zstd as a stream stage. Node 20's zlib has no zstd, so the Debian
// `zstd` program does the work in a child process: what is written to this
// Transform goes to the child's stdin (with backpressure: a write completes
// only when the pipe took it), and the child's stdout is pushed out (paused
// while our reader is full). The stream ends only after the child exited 0
// with all of its output read: a zstd that exits non-zero, is killed or stops
// reading its input fails the stream, never ends it cleanly, since a cut-short
// artifact must not look complete. Destroying the stream kills the child.
//
// Compression runs `zstd -<level> -T<workers> -q -c`; the CLI writes a content
// checksum into every frame by default, which `zstd -t` and decompression
// check. Decompression runs `zstd -d -c -q`. No deadline or stall timeout of
// its own: zstd goes at the pace of its input and its reader, which have theirs.

import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { RestorableError } from '../core/errors.ts';
import { ChildProcessError, spawnStream, type SpawnedStream } from '../process/spawn-stream.ts';

export type ZstdMode = 'compress' | 'decompress';

export interface ZstdProcessOptions {
  mode: ZstdMode;
  /** Compression level 1-19 (compress only). */
  level?: number;
  /** Compression threads (`-T`); default min(2, available cores) (compress only). */
  workers?: number;
  /** The program to run; default `zstd` from PATH (tests point it elsewhere). */
  program?: string;
}

/** zstd ran and failed: non-zero exit, a signal, or it stopped reading its input. */
export class ZstdError extends RestorableError {
  readonly mode: ZstdMode;
  readonly exitStatus: number | null;
  readonly signal: NodeJS.Signals | null;
  /** zstd's own words for the failure (its last stderr line), e.g. `Read error (39) : premature end`. */
  readonly stderrLine: string;

  constructor(mode: ZstdMode, failure: ChildProcessError) {
    const stderrLine = lastStderrLine(failure.stderrTail);
    const what = mode === 'compress' ? 'zstd failed while compressing' : 'zstd could not decompress the stream';
    super(`${what}: ${stderrLine || failure.message}`, {
      code: 'ZSTD_FAILED',
      details: failure.details,
      cause: failure,
    });
    this.name = 'ZstdError';
    this.mode = mode;
    this.exitStatus = failure.exitStatus;
    this.signal = failure.signal;
    this.stderrLine = stderrLine;
  }

  /** Decompression said the input ended mid-frame (as a file cut short does). */
  get truncated(): boolean {
    return /premature end|unexpected end|truncated/i.test(this.stderrLine);
  }
}

/** The program is not on PATH: what is missing and how to get it. */
export function zstdNotInstalled(mode: ZstdMode): RestorableError {
  return mode === 'compress'
    ? new RestorableError('zstd is not installed (needed by compression: zstd)', {
        code: 'ZSTD_NOT_INSTALLED',
        remedy: 'install it (apt-get install zstd) or set compression: gzip',
      })
    : new RestorableError('zstd is not installed (needed to read .zst artifacts, written with compression: zstd)', {
        code: 'ZSTD_NOT_INSTALLED',
        remedy: 'install it (apt-get install zstd)',
      });
}

export class ZstdProcess extends Transform {
  private readonly options: ZstdProcessOptions;
  private spawned: SpawnedStream | undefined;
  private programMissing = false;
  private inputFailure: Error | undefined;
  /** Settles when the child exited 0 and its stdout ended; rejects with the reason it did not. */
  private childDone: Promise<void> | undefined;

  constructor(options: ZstdProcessOptions) {
    super({ readableHighWaterMark: 256 * 1024, writableHighWaterMark: 256 * 1024 });
    this.options = options;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const stdin = this.child().stdin!;
    if (stdin.write(chunk)) callback();
    else stdin.once('drain', () => callback());
    // If the child dies instead of draining, childDone destroys this stream.
  }

  override _flush(callback: TransformCallback): void {
    // Started here at the latest: empty input still makes (or must be) a zstd frame.
    this.child().stdin!.end();
    this.childDone!.then(
      () => callback(),
      (error: unknown) => callback(this.explain(error)),
    );
  }

  override _read(size: number): void {
    this.spawned?.stdout.resume();
    super._read(size);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Downstream gave up (or we failed): the child must not outlive the stream.
    if (this.spawned) {
      this.spawned.kill('stopped because its stream was closed');
      this.spawned.stdin?.destroy();
      this.spawned.stdout.destroy();
    }
    callback(error);
  }

  /**
   * The child, started on first use rather than in the constructor: by then the
   * stream is wired into its pipeline, so a zstd missing from PATH fails the
   * pipeline instead of being an 'error' nobody listens to yet.
   */
  private child(): SpawnedStream {
    if (this.spawned) return this.spawned;
    const { mode, level, workers, program } = this.options;
    const args = mode === 'compress' ? [`-${level ?? 3}`, `-T${workers ?? Math.min(2, availableParallelism())}`, '-q', '-c'] : ['-d', '-c', '-q'];
    const spawned = spawnStream(program ?? 'zstd', args, { stdin: 'pipe', name: 'zstd' });
    this.spawned = spawned;
    spawned.child.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') this.programMissing = true;
    });
    // EPIPE when zstd died or quit early: its exit status says why, so only remember it.
    spawned.stdin!.on('error', (error: Error) => {
      this.inputFailure ??= error;
    });
    spawned.stdout.on('data', (chunk: Buffer) => {
      if (!this.destroyed && !this.push(chunk)) spawned.stdout.pause();
    });
    const outputEnded = new Promise<void>((resolve, reject) => {
      spawned.stdout.once('end', resolve);
      spawned.stdout.once('error', reject);
    });
    this.childDone = Promise.all([spawned.completed, outputEnded]).then(() => {
      if (this.inputFailure) {
        throw new RestorableError(`zstd exited before it had read all of its input (${this.inputFailure.message})`, { code: 'ZSTD_FAILED', cause: this.inputFailure });
      }
    });
    // A child that fails while input is still flowing fails the stream at once, not at the end.
    this.childDone.catch((error: unknown) => this.destroy(this.explain(error)));
    return spawned;
  }

  private explain(error: unknown): Error {
    if (this.programMissing) return zstdNotInstalled(this.options.mode);
    if (error instanceof ChildProcessError) return new ZstdError(this.options.mode, error);
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** zstd's last stderr line without its `/*stdin*\ :` or `zstd:` prefix. */
function lastStderrLine(stderr: string): string {
  const line = stderr.trimEnd().split('\n').filter((text) => text.trim() !== '').pop() ?? '';
  return line.replace(/^zstd:\s*/, '').replace(/^\/\*stdin\*\\\s*:\s*/, '').trim();
}
