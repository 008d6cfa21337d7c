// The repository marker (.restorable/repository.json): written atomically and
// 0600, never replaced, free of its own path, and read with validation: a
// malformed, linked or newer-format marker is reported, never trusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RestorableError } from '../../src/core/errors.ts';
import { MARKER_PATH, markerPath, newMarker, readRepositoryMarker, writeRepositoryMarker } from '../../src/storage/repository-marker.ts';
import { tempDir } from '../support/temp.ts';

function repositoryWithStateDir(t: Parameters<typeof tempDir>[0]): string {
  const root = join(tempDir(t), 'backups');
  mkdirSync(join(root, '.restorable'), { recursive: true, mode: 0o700 });
  return root;
}

async function assertInvalid(root: string, pattern: RegExp): Promise<void> {
  await assert.rejects(readRepositoryMarker(root), (error: unknown) => {
    assert.ok(error instanceof RestorableError, String(error));
    assert.equal(error.code, 'REPOSITORY_MARKER_INVALID');
    assert.match(error.message, pattern);
    assert.ok(error.remedy, 'says what to do');
    return true;
  });
}

test('a marker is written 0600 and atomically, records the app and an id but not its path, and reads back', async (t) => {
  const root = repositoryWithStateDir(t);
  const written = await writeRepositoryMarker(root, newMarker('shop', new Date('2026-12-03T14:00:00Z'), { createdBy: 'restorable test' }));
  assert.equal(statSync(markerPath(root)).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(join(root, '.restorable')), ['repository.json'], 'no .partial left behind');
  const text = readFileSync(markerPath(root), 'utf8');
  assert.ok(!text.includes(root), 'the marker does not record its own path');
  assert.match(written.id, /^[0-9a-f-]{36}$/);
  assert.deepEqual(await readRepositoryMarker(root), written);
  assert.equal(written.app, 'shop');
  assert.equal(MARKER_PATH, '.restorable/repository.json');
});

test('an existing marker is never replaced', async (t) => {
  const root = repositoryWithStateDir(t);
  const first = await writeRepositoryMarker(root, newMarker('shop', new Date()));
  const before = readFileSync(markerPath(root), 'utf8');
  const second = await writeRepositoryMarker(root, newMarker('other', new Date()));
  assert.equal(second.id, first.id);
  assert.equal(readFileSync(markerPath(root), 'utf8'), before);
});

test('no marker (or no state directory) reads as none', async (t) => {
  const root = repositoryWithStateDir(t);
  assert.equal(await readRepositoryMarker(root), undefined);
  const bare = join(tempDir(t), 'bare');
  mkdirSync(bare);
  assert.equal(await readRepositoryMarker(bare), undefined);
  assert.equal(existsSync(join(bare, '.restorable')), false, 'reading creates nothing');
});

test('a malformed marker is reported, never trusted: not JSON, wrong shape, a link, a newer format', async (t) => {
  const root = repositoryWithStateDir(t);
  writeFileSync(markerPath(root), '{"format": "restorable-repository", "vers');
  await assertInvalid(root, /is malformed: it is not JSON/);

  writeFileSync(markerPath(root), JSON.stringify({ format: 'restorable-repository', version: 1, id: 'x', app: 'shop', createdAt: 'yesterday' }));
  await assertInvalid(root, /is malformed: (id|createdAt)/);

  writeFileSync(markerPath(root), JSON.stringify({ format: 'something-else', version: 1, id: 'a1b2c3d4e5', app: 'shop', createdAt: new Date().toISOString() }));
  await assertInvalid(root, /is malformed: format/);

  writeFileSync(markerPath(root), JSON.stringify({ ...newMarker('shop', new Date()), version: 2 }));
  await assertInvalid(root, /format version 2/);

  const elsewhere = join(tempDir(t), 'elsewhere.json');
  writeFileSync(elsewhere, JSON.stringify(newMarker('shop', new Date())));
  const linked = repositoryWithStateDir(t);
  symlinkSync(elsewhere, markerPath(linked));
  await assertInvalid(linked, /is malformed: it is a symlink/);
});

test('a state directory that is a link refuses the repository', async (t) => {
  const base = tempDir(t);
  const root = join(base, 'backups');
  mkdirSync(join(base, 'other/.restorable'), { recursive: true });
  mkdirSync(root);
  symlinkSync(join(base, 'other/.restorable'), join(root, '.restorable'));
  await assert.rejects(readRepositoryMarker(root), { code: 'REPOSITORY_UNSAFE' });
});
