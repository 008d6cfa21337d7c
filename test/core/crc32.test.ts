// The JavaScript CRC-32 (used where Node has no zlib.crc32) gives exactly
// what the native one gives, also when a CRC is continued over pieces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import { crc32InJavaScript } from '../../src/core/crc32.ts';

test('the JavaScript CRC-32 equals zlib\'s, whole and continued over pieces', (t) => {
  const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  if (!native) return t.skip('this Node has no zlib.crc32 to compare with');
  assert.equal(crc32InJavaScript(Buffer.from('123456789')), 0xcbf43926, 'the standard check value');
  for (const size of [0, 1, 7, 64, 1000, 65537]) {
    const data = randomBytes(size);
    assert.equal(crc32InJavaScript(data), native(data));
    const cut = Math.floor(size / 3);
    assert.equal(crc32InJavaScript(data.subarray(cut), crc32InJavaScript(data.subarray(0, cut))), native(data));
  }
});
