// Owns CRC-32 (the zlib/gzip polynomial) for code that digests many small
// pieces: Node's native zlib.crc32 where it exists (Node >= 20.15 / 22.2),
// else the same function in JavaScript, so restorable still runs on every
// Node 20 that package.json admits. Both take the running value of an earlier
// call to continue a CRC over data that arrives in pieces.

import * as zlib from 'node:zlib';

const TABLE = new Int32Array(256);
for (let byte = 0; byte < 256; byte++) {
  let value = byte;
  for (let bit = 0; bit < 8; bit++) value = value & 1 ? 0xedb88320 ^ (value >>> 1) : value >>> 1;
  TABLE[byte] = value;
}

/** The JavaScript CRC-32; identical results to zlib.crc32 (checked in test/core/crc32.test.ts). */
export function crc32InJavaScript(data: Uint8Array, value = 0): number {
  let crc = ~value;
  for (let index = 0; index < data.length; index++) crc = TABLE[(crc ^ data[index]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `data`, continuing from `value` (0 to start). */
export const crc32: (data: Uint8Array, value?: number) => number = native ?? crc32InJavaScript;
