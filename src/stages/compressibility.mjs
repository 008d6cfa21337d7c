// Owns the quick guess "is this stretch of bytes worth deflating?", made by
// content, never by file name (a `.jpg` that is really text must still be
// compressed; a random file called `.txt` must not cost deflate time).
//
// Plain JavaScript on purpose: it runs inside the gzip worker threads, which
// are started without tsx (see parallel-gzip.ts), so it must load in a bare
// `node` worker on every supported Node version.
//
// The estimate is the order-0 (byte histogram) entropy of a few samples: what a
// pure Huffman coder would save. Deflate saves at least about that (it adds
// LZ77 matches on top), so the estimate errs towards "store" only for data
// whose redundancy is all in repeats (rare outside synthetic input).
// On the benchmark tree and on real PNG/WOFF2 files it predicts as well as a
// level-1 trial deflate of a 4 KiB sample, at a fraction of the cost (figures
// in docs/compression.md).

/** Input is judged in segments of this size; consecutive segments that agree form one run. */
export const SEGMENT_BYTES = 64 * 1024;

// Four evenly spread 1 KiB windows per segment, pooled into one histogram.
// Spreading them keeps one tar header (512 bytes of mostly NULs) from making a
// whole segment of JPEG look compressible; pooling keeps the cost at one
// histogram and one pass of 256 logarithms per segment.
const WINDOWS_PER_SEGMENT = 4;
const WINDOW_BYTES = 1024;

const byteCounts = new Uint32Array(256);

/**
 * Estimated fraction of `bytes[start, end)` that deflate would save (0 = none,
 * 1 = everything). Random, encrypted and already-compressed data comes out at
 * 0 to 0.003 (highest of 10,240 random 64 KiB segments: 0.0024); text, SQL
 * dumps and logs at 0.3-0.6; mostly-zero data near 1.
 *
 * @param {Uint8Array} bytes
 * @param {number} start
 * @param {number} end
 * @returns {number}
 */
export function estimateSavings(bytes, start, end) {
  const length = end - start;
  if (length <= 0) return 0;
  let sampled = 0;
  if (length <= WINDOWS_PER_SEGMENT * WINDOW_BYTES) {
    countBytes(bytes, start, end);
    sampled = length;
  } else {
    for (let window = 0; window < WINDOWS_PER_SEGMENT; window++) {
      const windowStart = start + Math.floor((length * window) / WINDOWS_PER_SEGMENT);
      const windowEnd = Math.min(end, windowStart + WINDOW_BYTES);
      countBytes(bytes, windowStart, windowEnd);
      sampled += windowEnd - windowStart;
    }
  }
  let bitsPerByte = 0;
  let distinctBytes = 0;
  for (let value = 0; value < 256; value++) {
    const count = byteCounts[value];
    if (count === 0) continue;
    distinctBytes++;
    const probability = count / sampled;
    bitsPerByte -= probability * Math.log2(probability);
  }
  byteCounts.fill(0);
  // Miller-Madow correction: a 4 KiB sample of random bytes otherwise reads
  // about 0.045 bits short of 8, which would look like 0.6 % savings and make
  // small thresholds meaningless.
  bitsPerByte += (distinctBytes - 1) / (2 * sampled * Math.LN2);
  // Fewer than 256 bytes cannot show 8 bits of entropy: judge them against
  // the most they could show (5 distinct bytes out of 5 are as random as it gets).
  const mostBitsPossible = Math.min(8, Math.log2(sampled));
  if (mostBitsPossible <= 0) return 0;
  return Math.max(0, 1 - Math.min(mostBitsPossible, bitsPerByte) / mostBitsPossible);
}

/**
 * @param {Uint8Array} bytes
 * @param {number} start
 * @param {number} end
 */
function countBytes(bytes, start, end) {
  for (let index = start; index < end; index++) byteCounts[bytes[index]]++;
}
