// A `restore files` killed with SIGKILL leaves its staging directory beside
// the target; the next restore to that target removes it (its process is
// gone), but never the staging directory of a restore that is still running.
// And parents restore creates itself (not in the archive) are 0700.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { runCli, startCli } from '../support/cli.ts';
import { pseudoRandomBytes } from '../support/sample-app.ts';
import { backUpFilesOnly } from '../support/files-only-app.ts';

function stagingDirs(parent: string): string[] {
  return readdirSync(parent).filter((name) => name.includes('.restorable-staging-')).sort();
}

async function backedUpTree(base: string, files: number, fileBytes: number): Promise<{ configPath: string; root: string }> {
  const root = join(base, 'src');
  mkdirSync(root);
  for (let index = 0; index < files; index++) writeFileSync(join(root, `file-${index}.bin`), pseudoRandomBytes(fileBytes, `file ${index}`));
  const configPath = await backUpFilesOnly(base, root, 'killed');
  return { configPath, root };
}

test('the staging directory of a SIGKILLed restore is swept by the next restore to that target; a live one is left alone', async (t) => {
  const base = tempDir(t);
  const { configPath, root } = await backedUpTree(base, 60, 2 * 1024 * 1024);
  const restoreParent = join(base, 'restores');
  mkdirSync(restoreParent);
  const target = join(restoreParent, 'restored');

  // Kill a restore once its staging directory holds something.
  const { child, result } = startCli(['-c', configPath, 'restore', 'files', '--to', target]);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [staging] = stagingDirs(restoreParent);
    if (staging && readdirSync(join(restoreParent, staging)).length > 0) break;
    assert.ok(Date.now() < deadline, 'the restore made its staging directory');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  child.kill('SIGKILL');
  const killed = await result;
  assert.equal(killed.signal, 'SIGKILL');
  assert.deepEqual(stagingDirs(restoreParent), [`restored.restorable-staging-${child.pid}`], 'the killed restore left its staging directory');
  assert.ok(!existsSync(target), 'and no target');

  // A restore that is still running (here: a sleeping process) keeps its staging directory.
  const live = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => live.kill('SIGKILL'));
  const liveStaging = join(restoreParent, `restored.restorable-staging-${live.pid}`);
  mkdirSync(liveStaging, { mode: 0o700 });

  const next = await runCli(['-c', configPath, 'restore', 'files', '--to', target]);
  assert.equal(next.code, 0, next.stdout + next.stderr);
  assert.match(next.stdout, new RegExp(`removed the staging directory an interrupted restore \\(pid ${child.pid}\\) left beside ${target}`));
  assert.deepEqual(stagingDirs(restoreParent), [`restored.restorable-staging-${live.pid}`], 'only the live one is left');
  assert.equal(readdirSync(join(target, root)).length, 60, 'the restore itself is complete');
});

test('parents that are not in the archive are created 0700, even under umask 000', async (t) => {
  const base = tempDir(t);
  const { configPath, root } = await backedUpTree(base, 1, 1000);
  const target = join(base, 'restored');
  // The child inherits the umask in force when it is spawned.
  const umask = process.umask(0);
  let running;
  try {
    running = startCli(['-c', configPath, 'restore', 'files', '--to', target]);
  } finally {
    process.umask(umask);
  }
  const result = await running.result;
  assert.equal(result.code, 0, result.stdout + result.stderr);
  // The archive holds `root` and below; the directories above it were made by the restore.
  const parts = root.split('/').filter(Boolean);
  for (let index = 1; index < parts.length; index++) {
    const made = join(target, ...parts.slice(0, index));
    assert.equal(statSync(made).mode & 0o7777, 0o700, `${made} is 0700`);
  }
  assert.equal(statSync(join(target, root)).mode & 0o7777, statSync(root).mode & 0o7777, 'the archived directory keeps its mode');
});
