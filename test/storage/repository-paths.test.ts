// The pieces that make paths and lines read from an untrusted repository safe
// (issue 11): the resolver refuses `..`, absolute paths and symlinks below the
// root; the manifest schema refuses every shape the code cannot act on; the
// line splitter never assembles a line over its bound; sizes and durations
// that are no numbers never print as "NaN B".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { tempDir } from '../support/temp.ts';
import { isPlainRelativePath, resolveInsideRepository } from '../../src/storage/repository-paths.ts';
import { BoundedLineSplitter, LineTooLongError, readBoundedLines } from '../../src/storage/bounded-lines.ts';
import { parseManifest } from '../../src/core/manifest.ts';
import { isArtifactPath, isSetFilePath } from '../../src/core/naming.ts';
import { formatBytes, formatSeconds } from '../../src/core/units.ts';

const SET = '2026-03-01_03-00-00';

function soundManifest(): Record<string, unknown> {
  return {
    format: 'restorable-manifest',
    version: 1,
    setId: SET,
    job: 'app',
    runId: 'r',
    host: 'h',
    restorableVersion: '0.1.0',
    startedAt: '2026-03-01T03:00:00.000Z',
    finishedAt: '2026-03-01T03:00:01.000Z',
    durationMs: 1000,
    status: 'ok',
    artifacts: [
      {
        source: 'files',
        type: 'files',
        path: `files/files_backup_${SET}.tar.gz`,
        compression: 'gzip',
        sizeBytes: 10,
        sha256: 'a'.repeat(64),
        rawSizeBytes: 20,
        durationMs: 5,
        warnings: [],
        details: { anything: { nested: [1, 2] } },
        index: { path: `files/files_index_${SET}.jsonl.gz`, sizeBytes: 3, sha256: 'b'.repeat(64), entries: 2 },
      },
    ],
  };
}

test('layout paths: only <source>/<source>_backup_<set id>.<ext> and the index path of that set pass', () => {
  assert.ok(isArtifactPath(`db/db_backup_${SET}.sql.gz`, 'db', SET));
  assert.ok(isSetFilePath(`files/files_index_${SET}.jsonl.gz`, SET));
  for (const bad of [`../db/db_backup_${SET}.sql.gz`, `db/../../etc/shadow`, `db/db_backup_${SET}.sql.gz/../../x`, `/etc/shadow`, `db/db_backup_2026-03-02_03-00-00.sql.gz`, `db/x_backup_${SET}.sql.gz`, `db/db_backup_${SET}.`, `db/db_backup_${SET}.sql..gz`]) {
    assert.ok(!isSetFilePath(bad, SET), bad);
  }
});

test('resolveInsideRepository refuses `..`, absolute paths and any symlink below the root; the root itself may be a link', async (t) => {
  const base = tempDir(t);
  const real = join(base, 'real-repo');
  mkdirSync(join(real, 'db'), { recursive: true });
  writeFileSync(join(real, 'db', 'a.sql.gz'), 'x');
  symlinkSync(real, join(base, 'repo')); // /var/backups -> /data/backups
  const root = join(base, 'repo');
  assert.equal(await resolveInsideRepository(root, 'db/a.sql.gz'), join(root, 'db/a.sql.gz'));
  assert.equal(await resolveInsideRepository(root, 'db/absent.sql.gz'), join(root, 'db/absent.sql.gz'));
  for (const bad of ['../x', 'db/../../x', '/etc/shadow', 'db//a', './db/a', 'db/.', '']) {
    assert.ok(!isPlainRelativePath(bad), bad);
    await assert.rejects(resolveInsideRepository(root, bad), { code: 'REPOSITORY_UNSAFE' }, bad);
  }
  mkdirSync(join(base, 'outside'));
  symlinkSync(join(base, 'outside'), join(real, 'files'));
  await assert.rejects(resolveInsideRepository(root, 'files/x.tar.gz'), /files is a symlink/);
  symlinkSync('/etc/passwd', join(real, 'db', 'link.sql.gz'));
  await assert.rejects(resolveInsideRepository(root, 'db/link.sql.gz'), /link\.sql\.gz is a symlink/);
});

test('the manifest schema accepts a sound manifest with unknown extra fields and refuses each wrong shape with its field', () => {
  const sound = soundManifest();
  sound.safety = { of: 'shop', restoring: SET, expiresAt: '2026-03-08T03:00:00.000Z' };
  sound.addedByALaterVersion = { x: 1 };
  assert.equal(parseManifest(JSON.stringify(sound), SET).artifacts[0]!.details.anything !== undefined, true);

  const cases: Array<[string, (manifest: any) => void, RegExp]> = [
    ['artifacts:[null]', (m) => (m.artifacts = [null]), /artifacts\[0\]/],
    ['path:12345', (m) => (m.artifacts[0].path = 12345), /artifacts\[0\]\.path/],
    ['path ../', (m) => (m.artifacts[0].path = '../../../../x'), /artifacts\[0\]\.path: expected files\/files_backup_/],
    ['index path ../', (m) => (m.artifacts[0].index.path = 'files/../../x'), /artifacts\[0\]\.index\.path/],
    ['source ../', (m) => (m.artifacts[0].source = '../../x'), /artifacts\[0\]\.source/],
    ['duplicate source', (m) => m.artifacts.push(structuredClone(m.artifacts[0])), /appears twice/],
    ['bad setId', (m) => (m.setId = '../x'), /setId/],
    ['negative size', (m) => (m.artifacts[0].sizeBytes = -5), /sizeBytes/],
    ['fractional size', (m) => (m.artifacts[0].sizeBytes = 1.5), /sizeBytes/],
    ['missing size', (m) => delete m.artifacts[0].sizeBytes, /sizeBytes/],
    ['short sha256', (m) => (m.artifacts[0].sha256 = 'abc'), /sha256/],
    ['bad status', (m) => (m.status = 'bogus'), /status/],
    ['bad startedAt', (m) => (m.startedAt = 'yesterday'), /startedAt/],
    ['bad safety', (m) => (m.safety = { of: 'x', restoring: SET, expiresAt: 'never' }), /safety\.expiresAt/],
  ];
  for (const [name, spoil, reason] of cases) {
    const manifest = soundManifest();
    spoil(manifest);
    assert.throws(() => parseManifest(JSON.stringify(manifest), SET), reason, name);
  }
  assert.throws(() => parseManifest(JSON.stringify(soundManifest()).replace('"sizeBytes": 10', '"sizeBytes": 1e999').replace('"sizeBytes":10', '"sizeBytes":1e999'), SET), /sizeBytes/);
  assert.throws(() => parseManifest(JSON.stringify(soundManifest()), '2026-03-02_03-00-00'), /says set 2026-03-01_03-00-00 but its file name says 2026-03-02_03-00-00/);
});

test('the line splitter hands over lines up to the bound and never assembles a longer one', async () => {
  const lines: string[] = [];
  const tooLong: number[] = [];
  const splitter = new BoundedLineSplitter((line) => lines.push(line), (n) => tooLong.push(n), 8);
  splitter.push(Buffer.from('one\ntw'));
  splitter.push(Buffer.from('o\n' + 'x'.repeat(5)));
  splitter.push(Buffer.from('x'.repeat(100)));
  splitter.push(Buffer.from('x\nthree\nlast'));
  splitter.end();
  assert.deepEqual(lines, ['one', 'two', 'three', 'last']);
  assert.deepEqual(tooLong, [3]);

  const collected: string[] = [];
  for await (const line of readBoundedLines(Readable.from([Buffer.from('a\nb\n'), Buffer.from('c')]), 8)) collected.push(line);
  assert.deepEqual(collected, ['a', 'b', 'c']);
  await assert.rejects(
    (async () => {
      for await (const _line of readBoundedLines(Readable.from([Buffer.alloc(100, 'a')]), 8));
    })(),
    (error: unknown) => error instanceof LineTooLongError && error.lineNumber === 1,
  );
});

test('sizes and durations that are no numbers read as invalid, never NaN B or Infinity TB', () => {
  for (const value of [Number.NaN, Infinity, -Infinity, -5, undefined as unknown as number, 'x' as unknown as number]) {
    assert.equal(formatBytes(value), 'invalid size');
    assert.equal(formatSeconds(value), 'invalid duration');
  }
  assert.equal(formatBytes(1500), '1.5 KB');
  assert.equal(formatSeconds(1500), '1.5 s');
});
