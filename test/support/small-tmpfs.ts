// A directory on a tmpfs of a given size, for "the disk fills up" tests:
// mounted for one test and unmounted (lazily, so an open file cannot keep it)
// and removed when that test ends, also when it fails. Mounting needs root.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** Mounts a tmpfs of `size` (`3m`) on a new temp directory and returns its path. */
export function mountSmallTmpfs(t: TestContext, size: string, prefix = 'restorable-small-disk-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  t.after(() => {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}
