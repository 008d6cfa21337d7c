// Owns turning one block of input into one complete gzip member (RFC 1952),
// and the worker thread that does it for parallel-gzip.ts.
//
// Plain JavaScript on purpose: the main program runs under tsx, but a worker
// thread is a fresh module graph without tsx's loader, and passing
// `--import tsx` to workers behaves differently between Node 20 and 24. A
// dependency-free .mjs loads in a bare `node` worker everywhere.
//
// A member is the gzip header, a deflate stream, CRC32 and ISIZE. The deflate
// stream is a sequence of runs, decided per 64 KiB segment by content
// (compressibility.mjs):
//   - compressible runs are deflated by zlib, ended with Z_SYNC_FLUSH (which
//     leaves the stream byte-aligned and not final) or Z_FINISH if last;
//   - incompressible runs become stored blocks (BTYPE=00, at most 65535 bytes
//     each): a 5-byte header per block, and the data itself is not even
//     copied here (see EncodedMember), instead of 25-40 ms of CPU per MiB.
// Each deflated run starts with an empty window, so it never refers back into
// a stored run; the stream stays valid for any inflater (gunzip, zlib, tar).

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import zlib from 'node:zlib';
import { estimateSavings, SEGMENT_BYTES } from './compressibility.mjs';
import { collectYoungGarbage } from './young-garbage.mjs';

const GZIP_HEADER_BYTES = 10;
const GZIP_TRAILER_BYTES = 8;
const STORED_BLOCK_MAX_BYTES = 65535;
const STORED_BLOCK_HEADER_BYTES = 5;

/**
 * @typedef {object} MemberOptions
 * @property {number} level zlib level 0-9 (0 stores everything)
 * @property {number | null} minSavings store a segment whose estimated savings are below this; null deflates everything
 */

/**
 * A member described as pieces instead of one buffer, so that stored data is
 * never copied into an output buffer: the stage emits it as views of the
 * chunks it received. Fresh output buffers are what stored data would
 * otherwise cost: a new 1 MiB allocation page-faults in 1-5 ms on this VM,
 * more than all the other work on the block together.
 *
 * @typedef {object} EncodedMember
 * @property {Uint8Array} literal header, deflated runs, stored-block headers and trailer, alone in its own ArrayBuffer (transferable)
 * @property {number[]} pieces the member in order, as triples (source, offset, length): source 0 = `literal`, 1 = the input block
 * @property {number} storedBytes input bytes written as stored blocks
 * @property {number} deflatedBytes input bytes given to deflate
 */

export const FROM_LITERAL = 0;
export const FROM_INPUT = 1;

/**
 * @param {Uint8Array} block
 * @param {MemberOptions} options
 * @returns {EncodedMember}
 */
export function encodeGzipMember(block, { level, minSavings }) {
  const runs = planRuns(block, level === 0 ? Infinity : minSavings);
  let literalBytes = GZIP_HEADER_BYTES + GZIP_TRAILER_BYTES;
  let storedBytes = 0;
  let deflatedBytes = 0;
  /** @type {(Uint8Array | null)[]} */
  const deflatedRuns = runs.map((run, index) => {
    const inputBytes = run.end - run.start;
    if (!run.deflate) {
      storedBytes += inputBytes;
      literalBytes += STORED_BLOCK_HEADER_BYTES * storedBlockCount(inputBytes);
      return null;
    }
    deflatedBytes += inputBytes;
    const isLast = index === runs.length - 1;
    const output = zlib.deflateRawSync(block.subarray(run.start, run.end), {
      level,
      finishFlush: isLast ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
    });
    literalBytes += output.length;
    return output;
  });
  if (runs.length === 0) literalBytes += STORED_BLOCK_HEADER_BYTES; // empty input: one empty final stored block

  const member = new MemberWriter(new Uint8Array(literalBytes));
  member.writeHeader(level);
  if (runs.length === 0) member.writeStoredBlocks(0, 0, true);
  runs.forEach((run, index) => {
    const deflated = deflatedRuns[index];
    if (deflated) member.writeLiteral(deflated);
    else member.writeStoredBlocks(run.start, run.end, index === runs.length - 1);
  });
  member.writeTrailer(crc32(block), block.length);
  return { literal: member.literal, pieces: member.pieces, storedBytes, deflatedBytes };
}

/**
 * The member as one contiguous buffer (for tests, and for callers that do not
 * keep the input around).
 *
 * @param {Uint8Array} block
 * @param {EncodedMember} encoded
 * @returns {Uint8Array}
 */
export function assembleMember(block, { literal, pieces }) {
  let length = 0;
  for (let index = 2; index < pieces.length; index += 3) length += pieces[index];
  const member = new Uint8Array(length);
  let position = 0;
  for (let index = 0; index < pieces.length; index += 3) {
    const source = pieces[index] === FROM_LITERAL ? literal : block;
    const offset = pieces[index + 1];
    const pieceLength = pieces[index + 2];
    member.set(source.subarray(offset, offset + pieceLength), position);
    position += pieceLength;
  }
  return member;
}

class MemberWriter {
  /** @param {Uint8Array} literal sized exactly for everything but the stored data */
  constructor(literal) {
    this.literal = literal;
    this.position = 0;
    /** @type {number[]} */
    this.pieces = [];
  }

  /** @param {number} level */
  writeHeader(level) {
    // ID1 ID2, CM=8 (deflate), FLG=0 (no name, no extra), MTIME=0 (unknown:
    // keeps output reproducible), XFL as zlib sets it, OS=3 (Unix, as zlib on Linux).
    const extraFlags = level === 9 ? 2 : level < 2 ? 4 : 0;
    this.writeLiteral([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, extraFlags, 3]);
  }

  /**
   * Stored blocks start byte-aligned: we are at the start of the stream, after
   * another stored block, or after a sync flush. So BFINAL + BTYPE=00 plus the
   * padding to the byte boundary is one whole byte (1 or 0), then LEN and NLEN.
   *
   * @param {number} start
   * @param {number} end
   * @param {boolean} isFinalRun
   */
  writeStoredBlocks(start, end, isFinalRun) {
    let offset = start;
    do {
      const length = Math.min(STORED_BLOCK_MAX_BYTES, end - offset);
      const isFinalBlock = isFinalRun && offset + length === end;
      this.writeLiteral([isFinalBlock ? 1 : 0, length & 0xff, length >>> 8, ~length & 0xff, (~length >>> 8) & 0xff]);
      if (length > 0) this.pieces.push(FROM_INPUT, offset, length);
      offset += length;
    } while (offset < end);
  }

  /**
   * @param {number} crc
   * @param {number} inputLength
   */
  writeTrailer(crc, inputLength) {
    const trailer = new Uint8Array(GZIP_TRAILER_BYTES);
    const view = new DataView(trailer.buffer);
    view.setUint32(0, crc, true);
    view.setUint32(4, inputLength % 2 ** 32, true); // ISIZE is the length modulo 2^32
    this.writeLiteral(trailer);
  }

  /** @param {ArrayLike<number>} bytes */
  writeLiteral(bytes) {
    this.literal.set(bytes, this.position);
    const last = this.pieces.length - 3;
    // Extend the previous literal piece when it ends right here: fewer, larger pieces.
    if (last >= 0 && this.pieces[last] === FROM_LITERAL && this.pieces[last + 1] + this.pieces[last + 2] === this.position) {
      this.pieces[last + 2] += bytes.length;
    } else {
      this.pieces.push(FROM_LITERAL, this.position, bytes.length);
    }
    this.position += bytes.length;
  }
}

/**
 * Consecutive segments with the same verdict, merged: a text block stays one
 * deflate call (one window, full ratio), a photo stays one copy.
 *
 * @param {Uint8Array} block
 * @param {number | null} minSavings
 * @returns {{ start: number, end: number, deflate: boolean }[]}
 */
function planRuns(block, minSavings) {
  if (block.length === 0) return [];
  if (minSavings === null) return [{ start: 0, end: block.length, deflate: true }];
  /** @type {{ start: number, end: number, deflate: boolean }[]} */
  const runs = [];
  for (let start = 0, end = 0; start < block.length; start = end) {
    end = Math.min(block.length, start + SEGMENT_BYTES);
    // A short tail joins the segment before it: a few hundred bytes are too
    // few to estimate (5 random bytes look 60 % compressible).
    if (block.length - end < SEGMENT_BYTES / 4) end = block.length;
    const deflate = minSavings !== Infinity && estimateSavings(block, start, end) >= minSavings;
    const previous = runs[runs.length - 1];
    if (previous && previous.deflate === deflate) previous.end = end;
    else runs.push({ start, end, deflate });
  }
  return runs;
}

/** @param {number} inputBytes */
function storedBlockCount(inputBytes) {
  return Math.max(1, Math.ceil(inputBytes / STORED_BLOCK_MAX_BYTES));
}

// zlib.crc32 arrived in Node 20.15 / 22.2 (native, SIMD: several GB/s); older
// Node 20 releases get a table-driven version (a few hundred MB/s), still far
// cheaper than deflating.
const CRC32_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let value = 0; value < 256; value++) {
    let crc = value;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
    table[value] = crc >>> 0;
  }
  return table;
})();

/**
 * CRC-32 (ISO-HDLC, as gzip uses it) in plain JavaScript.
 *
 * @param {Uint8Array} bytes
 * @returns {number}
 */
export function crc32InJavaScript(bytes) {
  let crc = 0xffffffff;
  for (let index = 0; index < bytes.length; index++) crc = CRC32_TABLE[(crc ^ bytes[index]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** @type {(bytes: Uint8Array) => number} */
export const crc32 = typeof zlib.crc32 === 'function' ? (bytes) => zlib.crc32(bytes) : crc32InJavaScript;

// The thread side. gzip-worker-pool.ts sends { block: ArrayBuffer, length,
// level, minSavings, fault? } and gets back { block, literal, pieces,
// storedBytes, deflatedBytes }, in the order the jobs were sent; both
// ArrayBuffers are transferred, not copied, and the block goes back so that
// its stage can refill it (refilling a used buffer costs about 0.05 ms per
// MiB; a fresh one page-faults for 1-5 ms). The options travel with each job
// because one pool serves every stage of the process.
//
// Failures are not caught here on purpose: an exception ends the thread and
// reaches the pool as the worker's 'error' event, which fails the jobs it held.
if (!isMainThread && parentPort && workerData?.role === 'restorable-gzip-worker') {
  const port = parentPort;
  port.on('message', (/** @type {{ block: ArrayBuffer, length: number, level: number, minSavings: number | null, fault?: 'throw' | 'exit' }} */ job) => {
    if (job.fault === 'throw') throw new Error('injected fault: gzip worker throws');
    if (job.fault === 'exit') process.exit(70);
    const started = performance.now();
    const { literal, pieces, storedBytes, deflatedBytes } = encodeGzipMember(new Uint8Array(job.block, 0, job.length), job);
    // encodeMs: what this block cost the thread; the pool shares the threads between stages by it.
    const encodeMs = performance.now() - started;
    port.postMessage({ block: job.block, literal: literal.buffer, pieces, storedBytes, deflatedBytes, encodeMs }, [literal.buffer, job.block]);
    collectYoungGarbage(); // see young-garbage.mjs: zlib's per-call garbage would otherwise pile up
  });
}
