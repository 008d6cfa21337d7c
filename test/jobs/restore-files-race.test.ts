// A root restore into a tree an unprivileged user owns (like Laravel's
// storage/, 0777) while that user keeps swapping restored directories for
// symlinks to a root-owned directory: the restore must never change what the
// links point to (owner, mode, mtime), and never hand the top of the
// pre-existing target to anyone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, mkdirSync, readdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { initRepositoryOf } from '../support/initialised-repository.ts';
import { runCli } from '../support/cli.ts';
import { backUpFilesOnly } from '../support/files-only-app.ts';

const NOBODY = 65534;
const SUBDIRS = 150;
const CANARY_MTIME = new Date('2003-04-05T06:07:08Z');

/** As uid 65534: swap every `sub-*` directory under `dir` for a symlink to `canary`, again and again, until killed. */
const ATTACKER = `
const fs = require('node:fs');
const [dir, canary, count] = process.argv.slice(1);
let round = 0;
for (;;) {
  round++;
  for (let i = 0; i < Number(count); i++) {
    const path = dir + '/sub-' + i;
    try {
      if (!fs.lstatSync(path).isSymbolicLink()) {
        fs.renameSync(path, dir + '/gone-' + i + '-' + round);
        fs.symlinkSync(canary, path);
      }
    } catch {}
  }
}
`;

test('a root restore into a user-owned 0777 tree never follows the symlinks that user plants during the restore', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('the attack needs a root restore');
  const base = tempDir(t);
  chmodSync(base, 0o755);
  // The backed-up tree belongs to the unprivileged user, as storage/ does.
  const source = join(base, 'src');
  mkdirSync(source);
  for (let i = 0; i < SUBDIRS; i++) {
    mkdirSync(join(source, `sub-${i}`));
    writeFileSync(join(source, `sub-${i}`, 'file.txt'), `${i}\n`);
    chownSync(join(source, `sub-${i}`, 'file.txt'), NOBODY, NOBODY);
    chownSync(join(source, `sub-${i}`), NOBODY, NOBODY);
    chmodSync(join(source, `sub-${i}`), 0o777);
  }
  chownSync(source, NOBODY, NOBODY);
  chmodSync(source, 0o777);
  const configPath = await backUpFilesOnly(base, source, 'race');

  // A root-owned directory the user must never get.
  const canary = join(base, 'canary');
  mkdirSync(canary);
  chmodSync(canary, 0o755);
  utimesSync(canary, CANARY_MTIME, CANARY_MTIME);

  for (let run = 1; run <= 3; run++) {
    // The target: owned by the user, 0777, holding the path down to where src goes back.
    const target = join(base, `storage-${run}`);
    const restoredParent = join(target, base);
    mkdirSync(restoredParent, { recursive: true });
    for (let dir = restoredParent; dir.length >= target.length; dir = join(dir, '..')) {
      chownSync(dir, NOBODY, NOBODY);
      chmodSync(dir, 0o777);
    }
    const restoredSource = join(target, source);
    const attacker = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, '-e', ATTACKER, restoredSource, canary, String(SUBDIRS)], {
      stdio: 'ignore',
    });
    const attackerExited = new Promise((resolve) => attacker.on('exit', resolve));
    try {
      const restore = await runCli(['-c', configPath, 'restore', 'files', '--to', target, '--force']);
      // Whether the restore notices the swaps or not, the canary must be untouched.
      t.diagnostic(`run ${run}: restore exit ${restore.code}`);
    } finally {
      attacker.kill('SIGKILL');
      await attackerExited;
    }
    const info = statSync(canary);
    assert.equal(info.uid, 0, `run ${run}: the canary is still owned by root`);
    assert.equal(info.gid, 0, `run ${run}: the canary's group is still root`);
    assert.equal(info.mode & 0o7777, 0o755, `run ${run}: the canary's mode is unchanged`);
    assert.equal(info.mtimeMs, CANARY_MTIME.getTime(), `run ${run}: the canary's mtime is unchanged`);
    const top = statSync(target);
    assert.deepEqual([top.uid, top.mode & 0o7777], [NOBODY, 0o777], `run ${run}: the target's top is as it was`);
  }
});

test('a root restore refuses a target path that goes through a symlink another user owns', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('the rule is about a root restore and another user');
  const base = tempDir(t);
  const source = join(base, 'src');
  mkdirSync(source);
  writeFileSync(join(source, 'file.txt'), 'content\n');
  const configPath = join(base, 'restorable.yml');
  writeFileSync(configPath, `app: link\nrepository: ${JSON.stringify(join(base, 'backups'))}\nsources:\n  files: { type: files, paths: [${JSON.stringify(source)}] }\nmonitor: { min_free: 1MB }\n`);
  initRepositoryOf(configPath);
  assert.equal((await runCli(['-c', configPath, 'backup'])).code, 0);

  // The user's link could point anywhere (here: a root-only directory) by the time root writes through it.
  const rootOnly = join(base, 'root-only');
  mkdirSync(rootOnly, { mode: 0o700 });
  const userLink = join(base, 'shared');
  symlinkSync(rootOnly, userLink);
  lchownSync(userLink, NOBODY, NOBODY);
  const result = await runCli(['-c', configPath, 'restore', 'files', '--to', join(userLink, 'restored'), '--json']);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  const error = (JSON.parse(result.stdout) as { error: { code: string; message: string } }).error;
  assert.equal(error.code, 'RESTORE_REFUSED');
  assert.match(error.message, new RegExp(`goes through ${userLink}, a symlink owned by uid ${NOBODY}`));
  assert.deepEqual(readdirSync(rootOnly), [], 'nothing was written through the link');
});
