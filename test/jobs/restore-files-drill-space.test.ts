// A files drill restores into scratch space in the repository's filesystem:
// when the set would not fit there, the drill fails BEFORE writing (it must
// not fill the filesystem the backups live on), naming that filesystem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { initRepositoryOf } from '../support/initialised-repository.ts';
import { runCli } from '../support/cli.ts';
import { pseudoRandomBytes } from '../support/sample-app.ts';

test('a files drill that would not fit in the repository filesystem fails before writing, naming it', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  const base = tempDir(t);
  const repository = mkdtempSync(join(tmpdir(), 'restorable-small-repository-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', repository]);
  t.after(() => {
    execFileSync('umount', ['-l', repository]);
    rmSync(repository, { recursive: true, force: true });
  });
  const root = join(base, 'src');
  mkdirSync(root);
  // Incompressible: the artifact takes about as much as the restore needs, so both do not fit at once.
  writeFileSync(join(root, 'video.mp4'), pseudoRandomBytes(5 * 1024 * 1024, 'video'));
  const configPath = join(base, 'restorable.yml');
  writeFileSync(
    configPath,
    `app: drillspace
repository: ${JSON.stringify(repository)}
sources:
  files: { type: files, paths: [${JSON.stringify(root)}] }
monitor: { min_free: 1KB }
`,
  );
  initRepositoryOf(configPath);
  const backup = await runCli(['-c', configPath, 'backup']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  const freeBytes = (): number => {
    const space = statfsSync(repository);
    return space.bavail * space.bsize;
  };
  const freeBefore = freeBytes();

  const drill = await runCli(['-c', configPath, 'drill']);
  assert.equal(drill.code, 2, drill.stdout + drill.stderr);
  assert.match(drill.stdout + drill.stderr, new RegExp(`not enough space on the target's filesystem \\(${repository}\\)`));
  // Only its record and log were written.
  assert.ok(freeBytes() >= freeBefore - 256 * 1024, `the drill wrote nothing big to the repository filesystem (${freeBefore} -> ${freeBytes()} bytes free)`);
});
