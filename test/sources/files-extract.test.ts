// The extraction writer on its own: archives made by GNU tar go into a
// directory through TarExtraction, including names longer than PATH_MAX
// (which only descriptor-relative writes can create), and the tree comes back
// with its content, modes and directory mtimes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DirectoryAnchor } from '../../src/sources/files-dir-anchor.ts';
import { TarExtraction } from '../../src/sources/files-extract.ts';

const LONG_NAME = 'n'.repeat(200);
const LEVELS = 30; // 30 x 201 bytes: over 6000 bytes, beyond PATH_MAX (4096)
const OLD_MTIME = new Date('2001-02-03T04:05:06Z');

/** A temp dir removed with GNU rm, which (unlike Node's rm) copes with paths beyond PATH_MAX. */
function deepTempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'restorable-test-'));
  t.after(() => execFileSync('rm', ['-rf', dir]));
  return dir;
}

async function extract(archive: string, into: string): Promise<TarExtraction> {
  mkdirSync(into);
  const staging = await DirectoryAnchor.open(into, { followLinks: false });
  try {
    const extraction = new TarExtraction({ staging, selection: [], linkTargets: new Set(), preserveOwners: process.getuid?.() === 0 });
    await pipeline(createReadStream(archive), extraction.sink);
    await extraction.finish();
    return extraction;
  } finally {
    await staging.close();
  }
}

test('names longer than PATH_MAX (a GNU tar archive) are extracted, with content, modes and directory mtimes', async (t) => {
  const base = deepTempDir(t);
  const source = join(base, 'source');
  mkdirSync(source);
  // Build the deep tree from inside it: each step is a short relative path.
  const cwd = process.cwd();
  try {
    process.chdir(source);
    for (let level = 0; level < LEVELS; level++) {
      mkdirSync(LONG_NAME);
      process.chdir(LONG_NAME);
    }
    writeFileSync('deepest.txt', 'deep\n', { mode: 0o640 });
    utimesSync('.', OLD_MTIME, OLD_MTIME);
  } finally {
    process.chdir(cwd);
  }
  const archive = join(base, 'deep.tar');
  execFileSync('tar', ['-cf', archive, '-C', source, '.']);

  const into = join(base, 'restored');
  const extraction = await extract(archive, into);
  assert.deepEqual(extraction.counts, { files: 1, dirs: LEVELS + 1, symlinks: 0, hardlinks: 0 });

  // Read it back the same way it was built.
  try {
    process.chdir(into);
    for (let level = 0; level < LEVELS; level++) process.chdir(LONG_NAME);
    assert.equal(readFileSync('deepest.txt', 'utf8'), 'deep\n');
    assert.equal(statSync('deepest.txt').mode & 0o7777, 0o640);
    assert.equal(statSync('.').mtimeMs, OLD_MTIME.getTime(), 'the deepest directory has its mtime');
  } finally {
    process.chdir(cwd);
  }
});
