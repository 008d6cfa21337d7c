// The per-table facts the DumpScanner takes from the dump stream itself: a
// row digest that depends only on which rows the dump inserts (not on their
// order, how they are split into INSERT statements, or how the stream is cut
// into chunks), and changes when one byte of one row changes; the largest row
// per table and the largest statement (what max_allowed_packet must exceed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { DumpScanner } from '../../src/sources/mysql-dump-scanner.ts';
import { EMPTY_ROW_DIGEST, formatRowDigest, type DumpScanResult } from '../../src/sources/mysql-dump-findings.ts';

async function scan(text: string, chunkBytes = 65536): Promise<DumpScanResult> {
  const bytes = Buffer.from(text);
  const scanner = new DumpScanner();
  scanner.resume();
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) scanner.write(bytes.subarray(offset, offset + chunkBytes));
  await new Promise<void>((done) => scanner.end(done));
  return scanner.result();
}

const header = 'CREATE TABLE `t` (\n  `id` int NOT NULL\n) ENGINE=InnoDB;\n';
const trailer = '-- Dump completed on 2026-12-03 10:00:00\n';
const rows = ["(1,'a',NULL)", "(2,'it\\'s (not) a row; really',0x00ff)", "(3,'line\\none',4.5)"];

test('the row digest is the same for the same rows in another order, other statements and other chunks', async () => {
  const one = await scan(`${header}INSERT INTO \`t\` VALUES ${rows.join(',')};\n${trailer}`);
  const other = await scan(`${header}INSERT INTO \`t\` VALUES ${rows[2]};\nINSERT INTO \`t\` VALUES ${rows[1]},\n${rows[0]};\n${trailer}`, 1);
  assert.equal(one.rowsByTable.t, 3);
  assert.equal(other.rowsByTable.t, 3);
  assert.equal(other.tableData.t!.rowDigest, one.tableData.t!.rowDigest);
  assert.notEqual(one.tableData.t!.rowDigest, EMPTY_ROW_DIGEST);
});

test('the digest is the CRC32 of each row as written, summed mod 2^48 and xored', async () => {
  const result = await scan(`${header}INSERT INTO \`t\` VALUES ${rows.join(',')};\n${trailer}`);
  const crcs = rows.map((row) => crc32(Buffer.from(row)));
  const expected = formatRowDigest(crcs.reduce((sum, crc) => sum + crc, 0) % 2 ** 48, crcs.reduce((xor, crc) => (xor ^ crc) >>> 0, 0));
  assert.equal(result.tableData.t!.rowDigest, expected);
});

test('one changed byte in one row changes the digest, and only that table\'s', async () => {
  const other = "INSERT INTO `u` VALUES (7,'seven');\n";
  const original = await scan(`${header}INSERT INTO \`t\` VALUES ${rows.join(',')};\n${other}${trailer}`);
  const changed = await scan(`${header}INSERT INTO \`t\` VALUES ${rows.join(',').replace("'a'", "'b'")};\n${other}${trailer}`);
  assert.notEqual(changed.tableData.t!.rowDigest, original.tableData.t!.rowDigest);
  assert.equal(changed.tableData.u!.rowDigest, original.tableData.u!.rowDigest);
});

test('largest row per table and largest statement, also for rows longer than a line head and spanning chunks', async () => {
  const long = `(4,'${'x'.repeat(20_000)}\\'${'y'.repeat(5_000)}')`;
  const statement = `INSERT INTO \`t\` VALUES ${rows[0]},${long};`;
  const small = "INSERT INTO `u` VALUES (7,'seven');";
  const text = `${header}${small}\n${statement}\n${trailer}`;
  const whole = await scan(text);
  const chunked = await scan(text, 777);
  for (const result of [whole, chunked]) {
    assert.equal(result.rowsByTable.t, 2);
    assert.equal(result.tableData.t!.maxRowBytes, Buffer.byteLength(long));
    assert.equal(result.tableData.u!.maxRowBytes, Buffer.byteLength('(7,\'seven\')'));
    assert.equal(result.maxStatementBytes, Buffer.byteLength(statement));
  }
  assert.equal(chunked.tableData.t!.rowDigest, whole.tableData.t!.rowDigest);
  const crcs = [rows[0]!, long].map((row) => crc32(Buffer.from(row)));
  assert.equal(whole.tableData.t!.rowDigest, formatRowDigest(crcs[0]! + crcs[1]!, (crcs[0]! ^ crcs[1]!) >>> 0));
});

test('a table whose INSERTs cannot be read has no digest (its rows are unknown)', async () => {
  const columns = Array.from({ length: 400 }, (_, index) => `\`column_${index}\``).join(', ');
  const result = await scan(`${header}INSERT INTO \`t\` (${columns}) VALUES (1);\n${trailer}`);
  assert.deepEqual(result.tablesWithUnknownRows, ['t']);
  assert.equal(result.tableData.t, undefined);
});
