// Disk space and `restore files`: a target filesystem too small for what the
// backup recorded is refused before anything is written; one that fills up
// anyway (many small files) fails naming the TARGET's filesystem and leaves
// nothing behind; long runs of zeros come back as holes, not as written
// blocks. Small filesystems are tmpfs mounts (root only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { pseudoRandomBytes } from '../support/sample-app.ts';
import { backUpFilesOnly } from '../support/files-only-app.ts';

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A tmpfs of `size` (e.g. `2m`), unmounted when the test ends. */
function smallFilesystem(t: { after(fn: () => void): void }, size: string): string {
  const mountPoint = mkdtempSync(join(tmpdir(), 'restorable-small-target-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mountPoint]);
  t.after(() => {
    execFileSync('umount', ['-l', mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });
  return mountPoint;
}

/** Backs up `fill(root)` as the only files source; returns the config path. */
async function backedUp(base: string, fill: (root: string) => void): Promise<{ configPath: string; root: string }> {
  const root = join(base, 'src');
  mkdirSync(root);
  fill(root);
  const configPath = await backUpFilesOnly(base, root, 'space');
  return { configPath, root };
}

test('a target filesystem smaller than the recorded content is refused before anything is written, naming it', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  const { configPath } = await backedUp(tempDir(t), (root) => writeFileSync(join(root, 'video.mp4'), pseudoRandomBytes(3 * 1024 * 1024, 'video')));
  const small = smallFilesystem(t, '2m');
  const target = join(small, 'restored');
  const result = await runCli(['-c', configPath, 'restore', 'files', '--to', target, '--json']);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  const error = (JSON.parse(result.stdout) as { error: { code: string; message: string; remedy: string } }).error;
  assert.equal(error.code, 'RESTORE_NO_SPACE', error.message);
  assert.match(error.message, new RegExp(`not enough space on the target's filesystem \\(${small}\\) .* needs about 3(\\.\\d+)? MB, .* are free`));
  assert.match(error.remedy, new RegExp(`free at least .* on ${small}`));
  assert.deepEqual(readdirSync(small), [], 'nothing was written');
});

test('a target filesystem that fills up during the restore: the error names it with figures, nothing is left half-restored', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  // 1200 small files: a few KB of content, but a page each on tmpfs, so the space check passes and the disk fills.
  const { configPath } = await backedUp(tempDir(t), (root) => {
    for (let dir = 0; dir < 12; dir++) {
      mkdirSync(join(root, `d${dir}`));
      for (let file = 0; file < 100; file++) writeFileSync(join(root, `d${dir}`, `f${file}`), `${dir}/${file}\n`);
    }
  });
  const small = smallFilesystem(t, '2m');
  const target = join(small, 'restored');
  const result = await runCli(['-c', configPath, 'restore', 'files', '--to', target]);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, new RegExp(`the target's filesystem \\(${small}\\) is full: the restore into ${target} needs about .* and stopped after writing .*, .* are free`));
  assert.match(result.stderr, new RegExp(`next: free at least .* on ${small}`));
  assert.doesNotMatch(result.stderr, /repository filesystem|lower retention/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(readdirSync(small), [], 'no staging, no half-restored target');
});

test('long runs of zeros are restored as holes: a 64 MiB file with 8 KiB of data takes little disk', async (t) => {
  const base = tempDir(t);
  const head = pseudoRandomBytes(4096, 'head');
  const tail = pseudoRandomBytes(4096, 'tail');
  const size = 64 * 1024 * 1024;
  const { configPath, root } = await backedUp(base, (dir) => {
    const fd = openSync(join(dir, 'sparse.img'), 'w');
    writeSync(fd, head, 0, head.length, 0);
    writeSync(fd, tail, 0, tail.length, 40 * 1024 * 1024 + 123);
    closeSync(fd);
    execFileSync('truncate', ['-s', String(size), join(dir, 'sparse.img')]);
  });
  const target = join(base, 'restored');
  const result = await runCli(['-c', configPath, 'restore', 'files', '--to', target]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const restored = join(target, root, 'sparse.img');
  const info = statSync(restored);
  assert.equal(info.size, size, 'the full size');
  assert.equal(sha256(readFileSync(restored)), sha256(readFileSync(join(root, 'sparse.img'))), 'the same content');
  assert.ok(info.blocks * 512 <= 512 * 1024, `${info.blocks * 512} bytes on disk for 8 KiB of data (holes, not written zeros)`);
});
