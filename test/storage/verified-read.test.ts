// The one verified read (storage/verified-read.ts) on stored bytes held in
// memory: an intact file decodes to what was stored; a flipped byte is a
// sha256 failure (named before the gzip damage it also causes); a truncated
// file is a size failure; restore's verdict throws ARTIFACT_DAMAGED with the
// messages restore printed before; a failing consumer is not damage. And the
// entry index read beside its writer (sources/files-index.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { RestorableError } from '../../src/core/errors.ts';
import type { ArtifactRecord } from '../../src/core/manifest.ts';
import type { SetReader } from '../../src/storage/set-reader.ts';
import { assertReadSound, checkIntact, explainReadFailure, judgeRead, readVerified, type StoredFileRecord } from '../../src/storage/verified-read.ts';
import { readIndex, type IndexEntry } from '../../src/sources/files-index.ts';

/** A SetReader over files held in memory, served in small chunks. */
function memoryReader(files: Record<string, Buffer>): SetReader {
  return {
    describe: () => 'memory',
    setIds: async () => [],
    readManifest: async () => {
      throw new Error('no manifests here');
    },
    openArtifact: async (path) => {
      const bytes = files[path];
      if (!bytes) throw new RestorableError(`${path} cannot be read from memory: ENOENT`, { code: 'ARTIFACT_MISSING' });
      const chunks: Buffer[] = [];
      for (let offset = 0; offset < bytes.length; offset += 1000) chunks.push(bytes.subarray(offset, offset + 1000));
      return Readable.from(chunks);
    },
  };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Collects the decoded bytes. */
function collector(): { sink: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  return {
    sink: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    }),
    bytes: () => Buffer.concat(chunks),
  };
}

const RAW = Buffer.from(Array.from({ length: 5000 }, (_, i) => `line ${i} of the dump\n`).join(''));
const STORED = gzipSync(RAW);
const RECORD: StoredFileRecord = { path: 'db/db_backup_x.sql.gz', source: 'db', sizeBytes: STORED.length, sha256: sha256(STORED), compression: 'gzip' };

test('an intact file: size, sha256 and gzip pass, and the decoded bytes are the raw ones', async () => {
  const out = collector();
  const read = await readVerified(memoryReader({ [RECORD.path]: STORED }), RECORD, [out.sink]);
  assert.deepEqual(judgeRead(RECORD, read), { passed: ['size', 'sha256', 'gzip'], damage: [] });
  assert.ok(out.bytes().equals(RAW));
  assertReadSound(RECORD, read);
  await checkIntact(memoryReader({ [RECORD.path]: STORED }), RECORD);
});

test('a flipped byte: sha256 differs, named before the gzip damage it causes; restore throws ARTIFACT_DAMAGED', async () => {
  const damaged = Buffer.from(STORED);
  damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
  const read = await readVerified(memoryReader({ [RECORD.path]: damaged }), RECORD, [collector().sink]);
  assert.equal(read.sizeBytes, STORED.length, 'hashing reads to the end although decoding failed');
  const verdict = judgeRead(RECORD, read);
  assert.deepEqual(verdict.passed, ['size']);
  assert.equal(verdict.damage[0]!.check, 'sha256');
  assert.equal(verdict.damage[0]!.message, `sha256 differs from the manifest (expected ${RECORD.sha256}, got ${sha256(damaged)})`);
  assert.throws(() => assertReadSound(RECORD, read), (error: RestorableError) => {
    assert.equal(error.code, 'ARTIFACT_DAMAGED');
    assert.equal(error.message, `${RECORD.path} is damaged: its sha256 differs from the manifest's`);
    assert.deepEqual(error.details, [`expected ${RECORD.sha256} (${STORED.length} bytes)`, `got      ${sha256(damaged)} (${STORED.length} bytes)`]);
    return true;
  });
});

test('a truncated file: size differs (the file is truncated), then sha256, then gzip', async () => {
  const cut = STORED.subarray(0, STORED.length - 100);
  const read = await readVerified(memoryReader({ [RECORD.path]: cut }), RECORD, [collector().sink]);
  const verdict = judgeRead(RECORD, read);
  assert.deepEqual(verdict.passed, []);
  assert.deepEqual(
    verdict.damage.map((finding) => finding.check),
    ['size', 'sha256', 'gzip'],
  );
  assert.equal(verdict.damage[0]!.message, `size differs from the manifest (expected ${STORED.length} bytes, got ${cut.length}): the file is truncated`);
  assert.equal(verdict.damage[2]!.message, 'gzip stream truncated (unexpected end of file)');
  await assert.rejects(checkIntact(memoryReader({ [RECORD.path]: cut }), RECORD), { code: 'ARTIFACT_DAMAGED' });
});

test('bytes that match the manifest but do not decode: ARTIFACT_DAMAGED naming the decoder', async () => {
  const garbage = Buffer.from('this was never gzip');
  const record = { ...RECORD, sizeBytes: garbage.length, sha256: sha256(garbage) };
  const reader = memoryReader({ [record.path]: garbage });
  await assert.rejects(checkIntact(reader, record), (error: RestorableError) => {
    assert.equal(error.code, 'ARTIFACT_DAMAGED');
    assert.match(error.message, /^db\/db_backup_x\.sql\.gz is damaged: gzip stream corrupt/);
    return true;
  });
  // A downstream failure that was not damage is explained by the damage found.
  const explained = await explainReadFailure(reader, record, new Error('mysql exited 1'));
  assert.equal((explained as RestorableError).code, 'ARTIFACT_DAMAGED');
});

test('a failing consumer is not damage: the read is judged sound and the consumer error handed back', async () => {
  const failing = new Writable({
    write(_chunk, _encoding, callback) {
      callback(new Error('no space left on device'));
    },
  });
  const read = await readVerified(memoryReader({ [RECORD.path]: STORED }), RECORD, [failing]);
  assert.equal(read.sha256, RECORD.sha256, 'hashing went on after the consumer failed');
  const verdict = judgeRead(RECORD, read);
  assert.deepEqual(verdict.damage, []);
  assert.equal((verdict.consumerError as Error).message, 'no space left on device');
  assert.throws(() => assertReadSound(RECORD, read), /no space left on device/);
  const intact = await explainReadFailure(memoryReader({ [RECORD.path]: STORED }), RECORD, new Error('mysql exited 1'));
  assert.equal((intact as Error).message, 'mysql exited 1');
});

test('the entry index reads entry by entry (async consumers too) and names its problems', async () => {
  const entries: IndexEntry[] = [
    { path: '/srv/a', type: 'dir', mode: 0o755, size: 0, mtime: '2026-01-01T00:00:00.000Z', uid: 0, gid: 0 },
    { path: '/srv/a/b.txt', type: 'file', mode: 0o644, size: 3, mtime: '2026-01-01T00:00:00.000Z', uid: 0, gid: 0, sha256: 'x' },
  ];
  const stored = gzipSync(entries.map((entry) => JSON.stringify(entry)).join('\n') + '\n');
  const artifact = {
    path: 'files/files_backup_x.tar.gz',
    source: 'files',
    index: { path: 'files/files_index_x.jsonl.gz', sizeBytes: stored.length, sha256: sha256(stored), entries: 2 },
  } as ArtifactRecord;
  const seen: string[] = [];
  const sound = await readIndex(memoryReader({ [artifact.index!.path]: stored }), artifact, async (entry) => {
    await new Promise((resolve) => setImmediate(resolve));
    seen.push(entry.path);
  });
  assert.equal(sound.problem, undefined);
  assert.equal(sound.entries, 2);
  assert.deepEqual(seen, ['/srv/a', '/srv/a/b.txt']);

  const notAnEntry = gzipSync('{"path":"/srv/a","type":"dir"}\n[1,2]\n');
  const bad = await readIndex(memoryReader({ [artifact.index!.path]: notAnEntry }), { ...artifact, index: { ...artifact.index!, sizeBytes: notAnEntry.length, sha256: sha256(notAnEntry) } }, () => {});
  assert.equal(bad.problem, 'line 2 is not an index entry (no path or type)');

  const refused = await readIndex(memoryReader({ [artifact.index!.path]: stored }), artifact, (entry) => {
    if (entry.type === 'file') throw new Error(`index line names ${entry.path}`);
  });
  assert.equal(refused.problem, 'index line names /srv/a/b.txt');
});
