// Owns compression of artifacts on several cores: the input is cut into
// blocks (1 MiB by default), each block becomes an independent gzip member
// made by a worker thread, and the members are written in input order. A
// concatenation of gzip members is one valid .gz file (RFC 1952 section 2.2;
// pigz does the same), so gunzip, `tar -tzf` and `gunzip < x.sql.gz | mysql`
// keep working on what we write.
//
// Inside a member, stretches of the block that would not compress (photos,
// videos, archives, encrypted data) are written as stored deflate blocks
// instead of being deflated; deciding is by content, see compressibility.mjs.
// Deflate costs 25-40 ms of CPU per MiB whatever it saves, and on a
// typical upload-heavy application server it saves about 1 % on 90 % of
// the bytes.
//
// Bounded memory: at most `2 x workers` blocks are in flight (sent to a worker
// or finished but not yet pushed), and none is sent while the readable side
// holds a block's worth of output; meanwhile the stage holds the write
// callback, so upstream waits. Peak is a few blocks per in-flight slot (the
// block, the input chunks it came from, its output), whatever the input size.
//
// The threads come from the process-wide pool (gzip-worker-pool.ts), shared
// with the other artifacts being compressed at the same time. The stage uses
// the pool from its first block until it ends or is destroyed. A worker that
// throws or exits fails the stream: there is no retry, since a lost block
// cannot be re-read from a stream.

import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { RestorableError } from '../core/errors.ts';
import { collectYoungGarbage } from './young-garbage.mjs';
import { sharedGzipWorkerPool, type GzipWorkerPool, type MemberJob, type MemberResult } from './gzip-worker-pool.ts';

export const DEFAULT_BLOCK_BYTES = 1024 * 1024;
/**
 * A 64 KiB segment is deflated only if its estimated savings reach 3 %.
 * Why 3 %:
 *  - random, encrypted and already-compressed data estimates at 0 to 0.3 %
 *    (the estimate is bias-corrected), so 3 % stays clear of noise;
 *  - text, SQL dumps, logs and binaries estimate at 20-60 %, far above;
 *  - what falls between is media that deflate shrinks by a few percent, at
 *    many times the CPU of storing it;
 *  - borg's `auto` compression draws the same line (an lz4 trial must reach
 *    a ratio below 0.97, borg/compress.pyx Auto._decide).
 * What it costs in size against deflating everything: docs/compression.md.
 */
export const DEFAULT_MIN_SAVINGS = 0.03;
const MIN_BLOCK_BYTES = 64 * 1024;
const MAX_BLOCK_BYTES = 64 * 1024 * 1024;
const MAX_WORKERS = 64;
/** The main thread collects its young garbage (read buffers, members sent back) after this many blocks; see young-garbage.mjs. */
const BLOCKS_PER_COLLECTION = 8;

export interface GzipStageOptions {
  /** zlib level 1-9 for what is deflated (0 stores everything). */
  level: number;
  /** Worker threads of the shared pool this stage asks for; default min(2, available cores). */
  workers?: number;
  /** Input bytes per gzip member; default 1 MiB. Each member starts with an empty window: 0.1-0.3 % larger than 4 MiB members on real SQL dumps, where the level moves the size by 7-8 % (docs/benchmark.md). */
  blockBytes?: number;
  /** Write stored blocks for data that would not compress (default true). */
  storeIncompressible?: boolean;
  /** Fraction (0-1) a 64 KiB segment must be estimated to save to be deflated; default 0.03 (1: only constant data). */
  minSavings?: number;
  /**
   * The worker pool the blocks are encoded on; default the process-wide one.
   * A port, not a test switch: tests pass a wrapper of the shared pool that
   * makes a chosen block's worker fail, so no fault code lives in the stage.
   */
  pool?: GzipPool;
}

/** What the stage needs of a worker pool (GzipWorkerPool has it). */
export type GzipPool = Pick<GzipWorkerPool, 'acquire' | 'release' | 'submit' | 'runningWorkerCount'>;

export interface GzipStageStats {
  /** Input bytes (before compression). */
  inputBytes: number;
  /** Output bytes (the gzip file). */
  outputBytes: number;
  /** gzip members written. */
  members: number;
  /** Input bytes written as stored blocks (judged incompressible). */
  storedBytes: number;
  /** Input bytes given to deflate. */
  deflatedBytes: number;
}

const FROM_LITERAL = 0;
const SMALL_VIEW_BYTES = 4096;

/** Part of an upstream chunk, and where it sits in its block. */
interface InputSlice {
  bytes: Buffer;
  blockOffset: number;
}

/** A Transform from raw bytes to a multi-member gzip file; see the module header. */
export function createGzipStage(options: GzipStageOptions): ParallelGzipStage {
  return new ParallelGzipStage(options);
}

export class ParallelGzipStage extends Transform {
  readonly stats: GzipStageStats = { inputBytes: 0, outputBytes: 0, members: 0, storedBytes: 0, deflatedBytes: 0 };

  private readonly level: number;
  private readonly workers: number;
  private readonly blockBytes: number;
  private readonly maxInFlight: number;
  private readonly minSavings: number | null;
  private readonly pool: GzipPool;
  /** Between the first block sent and the end (or destruction) of the stream. */
  private usingPool = false;
  /** Emptied blocks the workers gave back, ready to be refilled. */
  private readonly spareBlocks: ArrayBuffer[] = [];
  /** Members (as the buffers to push) that came back ahead of their turn. */
  private readonly finished = new Map<number, Buffer[]>();
  /**
   * The upstream chunks each block in flight was copied from. Stored data is
   * pushed as views of these, so it is never copied into a new buffer (fresh
   * 1 MiB buffers page-fault: 1-5 ms each on this VM); the copy in the block
   * only lets the worker read it. Chunks are never modified once written to
   * a stream, so holding them is safe (PassThrough does the same).
   */
  private readonly inputOfBlock = new Map<number, InputSlice[]>();

  private filling: Buffer | null = null;
  private filled = 0;
  private fillingInput: InputSlice[] = [];
  private nextSequence = 0;
  private nextToPush = 0;

  /** The chunk being copied into blocks, and the callback it holds until it is. */
  private waitingChunk: Buffer | null = null;
  private waitingOffset = 0;
  private waitingCallback: TransformCallback | null = null;
  private flushCallback: TransformCallback | null = null;
  private stopping = false;

  constructor(options: GzipStageOptions) {
    const blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
    // One member fits in the readable buffer; more waits in the in-flight budget.
    super({ readableHighWaterMark: blockBytes });
    const workers = options.workers ?? Math.min(2, availableParallelism());
    const minSavings = options.minSavings ?? DEFAULT_MIN_SAVINGS;
    requireInteger('level', options.level, 0, 9);
    requireInteger('workers', workers, 1, MAX_WORKERS);
    requireInteger('blockBytes', blockBytes, MIN_BLOCK_BYTES, MAX_BLOCK_BYTES);
    if (!(minSavings >= 0 && minSavings <= 1)) throw new RangeError(`gzip stage: minSavings must be from 0 to 1, got ${minSavings}`);
    this.level = options.level;
    this.workers = workers;
    this.blockBytes = blockBytes;
    this.maxInFlight = 2 * workers;
    this.minSavings = options.storeIncompressible === false ? null : minSavings;
    this.pool = options.pool ?? sharedGzipWorkerPool();
  }

  /** Threads of the shared pool still running (tests check it reaches 0 once no stage uses the pool). */
  get runningWorkerCount(): number {
    return this.pool.runningWorkerCount;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.stats.inputBytes += chunk.length;
    this.waitingChunk = chunk;
    this.waitingOffset = 0;
    this.waitingCallback = callback;
    this.pump();
  }

  override _read(size: number): void {
    super._read(size); // releases a write callback Transform itself may hold
    // Readable calls _read before it takes the requested bytes out of the
    // buffer: look again once it has, or the buffer would still look full.
    process.nextTick(() => this.pump());
  }

  override _flush(callback: TransformCallback): void {
    this.flushCallback = callback;
    this.pump();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.waitingChunk = null;
    this.waitingCallback = null;
    this.flushCallback = null;
    this.finished.clear();
    this.inputOfBlock.clear();
    this.fillingInput = [];
    this.stopUsingPool().then(
      () => callback(error),
      () => callback(error),
    );
  }

  /**
   * The one place that moves work forward; called whenever something changed
   * (input arrived, a member came back, the input ended). Order: push what is
   * ready, then take input while the in-flight budget allows, then finish.
   */
  private pump(): void {
    if (this.destroyed) return;
    try {
      this.moveWorkForward();
    } catch (error) {
      this.destroy(error as Error); // e.g. a worker that cannot be started: fail the stream, never throw into the caller
    }
  }

  private moveWorkForward(): void {
    this.pushReadyMembers();

    const chunk = this.waitingChunk;
    if (chunk) {
      for (;;) {
        // A full block is sent before more input is copied; if the budget is
        // spent, stop here and keep the callback: that is the backpressure.
        if (this.filled === this.blockBytes && !this.sendFilledBlock()) return;
        if (this.waitingOffset === chunk.length) break;
        this.filling ??= this.takeEmptyBlock();
        const copied = chunk.copy(this.filling, this.filled, this.waitingOffset);
        this.fillingInput.push({ bytes: chunk.subarray(this.waitingOffset, this.waitingOffset + copied), blockOffset: this.filled });
        this.filled += copied;
        this.waitingOffset += copied;
      }
      const callback = this.waitingCallback!;
      this.waitingChunk = null;
      this.waitingCallback = null;
      callback();
    }

    if (this.flushCallback && !this.waitingChunk) {
      if (this.filled > 0 && !this.sendFilledBlock()) return;
      if (this.nextToPush < this.nextSequence) return; // members still out
      if (this.nextSequence === 0) this.pushMember([gzipSync(Buffer.alloc(0), { level: this.level })]); // empty input is one empty member, not an empty file
      const callback = this.flushCallback;
      this.flushCallback = null;
      this.stopUsingPool().then(
        () => callback(),
        (error: unknown) => callback(error as Error),
      );
    }
  }

  private pushReadyMembers(): void {
    for (let member = this.finished.get(this.nextToPush); member; member = this.finished.get(this.nextToPush)) {
      this.finished.delete(this.nextToPush);
      this.nextToPush++;
      this.pushMember(member);
    }
  }

  private pushMember(parts: Buffer[]): void {
    this.stats.members++;
    // The return value of push() is not needed: sendFilledBlock() sends no
    // new block while the readable side is full, so at most the members
    // already in flight can land on top of a slow reader.
    for (const part of parts) {
      this.stats.outputBytes += part.length;
      this.push(part);
    }
  }

  /**
   * Sends the block being filled to the pool; false if the in-flight budget
   * is spent or the reader is behind. Both must be checked: pushing a member
   * frees budget, and Transform only holds a write callback for a slow reader
   * if the push happened during that very write, which ours (arriving from a
   * worker) rarely do. _read() calls pump() again.
   */
  private sendFilledBlock(): boolean {
    if (this.nextSequence - this.nextToPush >= this.maxInFlight) return false;
    if (this.readableLength >= this.readableHighWaterMark) return false;
    const block = this.filling!;
    const sequence = this.nextSequence++;
    if (sequence % BLOCKS_PER_COLLECTION === BLOCKS_PER_COLLECTION - 1) collectYoungGarbage();
    const job: MemberJob = { block: block.buffer as ArrayBuffer, length: this.filled, level: this.level, minSavings: this.minSavings };
    this.inputOfBlock.set(sequence, this.fillingInput);
    this.fillingInput = [];
    this.filling = null;
    this.filled = 0;
    if (!this.usingPool) {
      this.usingPool = true;
      this.pool.acquire(this.workers);
    }
    this.pool.submit(job, (error, result) => {
      if (error) this.fail(error.message, error);
      else this.onMemberDone(sequence, result!);
    }, this);
    return true;
  }

  private onMemberDone(sequence: number, result: MemberResult): void {
    if (this.destroyed || this.stopping) return;
    this.stats.storedBytes += result.storedBytes;
    this.stats.deflatedBytes += result.deflatedBytes;
    this.spareBlocks.push(result.block);
    const input = this.inputOfBlock.get(sequence)!;
    this.inputOfBlock.delete(sequence);
    this.finished.set(sequence, memberParts(result, input));
    this.pump();
  }

  private takeEmptyBlock(): Buffer {
    const spare = this.spareBlocks.pop();
    return Buffer.from(spare ?? new ArrayBuffer(this.blockBytes));
  }

  private fail(message: string, cause?: Error): void {
    if (this.destroyed || this.stopping) return;
    this.destroy(
      new RestorableError(`${message}; the compressed output is incomplete`, {
        code: 'COMPRESSION_FAILED',
        remedy: 'run the backup again; if it fails the same way, report it with this message (a worker thread died: a bug, or the machine ran out of memory)',
        cause,
      }),
    );
  }

  /** Hands the pool back (the last stage out terminates its threads). */
  private async stopUsingPool(): Promise<void> {
    this.stopping = true;
    if (!this.usingPool) return;
    this.usingPool = false;
    await this.pool.release();
  }
}

/** The buffers that make up one member: literal bytes from the worker, stored data from the input chunks. */
function memberParts(result: MemberResult, input: InputSlice[]): Buffer[] {
  const parts: Buffer[] = [];
  const { pieces } = result;
  let slice = 0; // input ranges come in increasing order, so one forward scan serves them all
  for (let index = 0; index < pieces.length; index += 3) {
    const source = pieces[index]!;
    let offset = pieces[index + 1]!;
    const end = offset + pieces[index + 2]!;
    if (source === FROM_LITERAL) {
      parts.push(Buffer.from(result.literal, offset, end - offset));
      continue;
    }
    const views: Buffer[] = [];
    while (offset < end) {
      while (input[slice]!.blockOffset + input[slice]!.bytes.length <= offset) slice++;
      const { bytes, blockOffset } = input[slice]!;
      const take = Math.min(end, blockOffset + bytes.length) - offset;
      views.push(bytes.subarray(offset - blockOffset, offset - blockOffset + take));
      offset += take;
    }
    // A producer writing tiny chunks would turn one stored block (<= 64 KiB)
    // into hundreds of pushes; one small copy is cheaper than that.
    if (views.length > 8 && pieces[index + 2]! / views.length < SMALL_VIEW_BYTES) parts.push(Buffer.concat(views));
    else parts.push(...views);
  }
  return parts;
}

function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`gzip stage: ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}
