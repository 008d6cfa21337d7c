// `verify` judges a files archive's entries with the same guard as `restore
// files`: an archive restore (and so drill) refuses is never "verify OK".
// Crafted sets whose manifest matches them, so size, sha256, gzip and tar all
// pass and only the guard can fail them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import { craftTar, CRAFTED_SET, MALICIOUS, publishCraftedSet, type CraftedEntry } from '../support/crafted-files-set.ts';

const UNSUPPORTED: Array<{ name: string; entries: CraftedEntry[]; code: string }> = [
  { name: 'a FIFO', entries: [{ path: 'srv/', type: 'Directory' }, { path: 'srv/pipe', type: 'FIFO' }], code: 'RESTORE_UNSUPPORTED_ENTRY' },
  { name: 'a character device', entries: [{ path: 'srv/', type: 'Directory' }, { path: 'srv/null', type: 'CharacterDevice' }], code: 'RESTORE_UNSUPPORTED_ENTRY' },
  { name: 'a block device', entries: [{ path: 'srv/', type: 'Directory' }, { path: 'srv/disk', type: 'BlockDevice' }], code: 'RESTORE_UNSUPPORTED_ENTRY' },
];

async function verifyAndRestore(t: { after(fn: () => void): void }, entries: (base: string) => CraftedEntry[]) {
  const app = makeSampleApp(tempDir(t));
  mkdirSync(join(app.root, 'outside'));
  publishCraftedSet(app.repository, craftTar(entries(app.root)));
  const verify = await runCli(['-c', app.configPath, 'verify', CRAFTED_SET]);
  const restore = await runCli(['-c', app.configPath, 'restore', 'files', '--set', CRAFTED_SET, '--to', join(app.root, 'restore-here'), '--json']);
  return { verify, restore, restoreCode: (JSON.parse(restore.stdout) as { error?: { code?: string } }).error?.code };
}

test('control: verify passes a benign crafted set that restore restores', async (t) => {
  const { verify, restore } = await verifyAndRestore(t, () => [
    { path: 'srv/', type: 'Directory' },
    { path: 'srv/ok.txt', body: 'fine\n' },
    { path: 'srv/abs', type: 'SymbolicLink', linkpath: '/etc/hostname' },
    { path: 'srv/hard', type: 'Link', linkpath: 'srv/ok.txt' },
  ]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
});

for (const malicious of MALICIOUS) {
  test(`verify fails a set whose archive has ${malicious.name}, as restore refuses it`, async (t) => {
    const { verify, restore, restoreCode } = await verifyAndRestore(t, malicious.entries);
    assert.equal(restore.code, 2, restore.stdout + restore.stderr);
    assert.equal(restoreCode, 'RESTORE_UNSAFE_ARCHIVE');
    assert.equal(verify.code, 2, `verify must fail what restore refuses: ${verify.stdout}${verify.stderr}`);
    assert.match(verify.stderr + verify.stdout, /unsafe entry/);
  });
}

for (const unsupported of UNSUPPORTED) {
  test(`verify fails a set whose archive has ${unsupported.name}, which restore does not create`, async (t) => {
    const { verify, restore, restoreCode } = await verifyAndRestore(t, () => unsupported.entries);
    assert.equal(restore.code, 2, restore.stdout + restore.stderr);
    assert.equal(restoreCode, unsupported.code);
    assert.equal(verify.code, 2, `verify must fail what restore refuses: ${verify.stdout}${verify.stderr}`);
    assert.match(verify.stderr + verify.stdout, /restore files does not create/);
  });
}

test('restore --path still restores a selection beside a FIFO it does not create', async (t) => {
  const app = makeSampleApp(tempDir(t));
  publishCraftedSet(
    app.repository,
    craftTar([
      { path: 'srv/', type: 'Directory' },
      { path: 'srv/pipe', type: 'FIFO' },
      { path: 'srv/app/', type: 'Directory' },
      { path: 'srv/app/ok.txt', body: 'fine\n' },
    ]),
  );
  const target = join(app.root, 'restore-here');
  const restore = await runCli(['-c', app.configPath, 'restore', 'files', '--set', CRAFTED_SET, '--to', target, '--path', '/srv/app']);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  assert.equal(readFileSync(join(target, 'srv/app/ok.txt'), 'utf8'), 'fine\n');
});
