// ACLs and extended attributes survive a backup: the archive carries them as
// GNU tar `--acls --xattrs` does (so `tar --acls --xattrs -xpf` restores them
// by hand), the entry index records them for `restore files`, and a restore
// WITHOUT ACL support never widens access (the mask must not become the
// owning group's permission). Needs getfattr/getfacl (Debian: attr, acl) and
// a filesystem with ACLs (ext4, tmpfs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FilesSourceConfig } from '../../src/config/schema.ts';
import type { IndexEntry } from '../../src/sources/files-index.ts';
import { filesSource } from '../../src/sources/files.ts';
import type { SourceContext } from '../../src/sources/source.ts';
import { applyExtendedAttributes, aclText } from '../../src/sources/files-xattrs.ts';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import { craftTar, CRAFTED_SET, publishCraftedSet } from '../support/crafted-files-set.ts';

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  assert.equal(result.status, 0, `${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** getfacl of one file, numeric, without the header lines: what a user compares. */
function acl(path: string): string {
  return run('getfacl', ['-n', '-p', '--omit-header', path]).trim();
}

async function backUp(base: string, paths: string[]): Promise<{ archive: string; index: IndexEntry[]; warnings: string[] }> {
  const scratchDir = join(base, 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  mkdirSync(join(base, 'repository'), { recursive: true });
  const context: SourceContext<FilesSourceConfig> = {
    job: 'test',
    sourceName: 'files',
    config: { type: 'files', paths, exclude: [], fail_on_unreadable: false },
    repositoryPath: join(base, 'repository'),
    scratchDir,
    log: { info() {}, warn() {} },
    signal: new AbortController().signal,
  };
  const archive = join(base, 'files.tar');
  const produced = await filesSource.produce(context);
  await pipeline(produced.stream, createWriteStream(archive));
  const facts = await produced.completed;
  const index = readFileSync(facts.indexFile!, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as IndexEntry);
  return { archive, index, warnings: facts.warnings.map((warning) => warning.code) };
}

test('ACLs and extended attributes are archived as GNU tar does, indexed, and never widen access without them', async (t) => {
  for (const tool of ['getfattr', 'setfacl', 'getfacl']) {
    if (spawnSync(tool, ['--version']).error) return t.skip(`${tool} is not installed (apt-get install attr acl)`);
  }
  const base = tempDir(t);
  const tree = join(base, 'tree');
  mkdirSync(join(tree, 'shared'), { recursive: true });
  const payroll = join(tree, 'payroll.csv');
  writeFileSync(payroll, 'name,salary\n');
  run('chmod', ['640', payroll]);
  // user 65534 may write; the owning group only reads: stat shows the MASK (rw-) as group bits.
  run('setfacl', ['-m', 'u:65534:rw', payroll]);
  run('setfattr', ['-n', 'user.checksum', '-v', 'sha256:abc', payroll]);
  run('setfattr', ['-n', 'user.binary', '-v', '0x00ff10', payroll]);
  run('setfacl', ['-d', '-m', 'g:65534:rx', join(tree, 'shared')]); // a default ACL on a directory
  writeFileSync(join(tree, 'plain.txt'), 'no attributes');
  assert.equal(lstatSync(payroll).mode & 0o777, 0o660, 'precondition: stat shows the mask as group bits');
  const payrollAcl = acl(payroll);

  const { archive, index, warnings } = await backUp(base, [tree]);
  assert.deepEqual(warnings, []);

  // The index has them (restore files applies them from there).
  const indexed = index.find((entry) => entry.path === payroll)!;
  assert.equal(indexed.mode, 0o660, 'the index keeps the true mode');
  assert.equal(Buffer.from(indexed.xattrs!['user.checksum']!, 'base64').toString(), 'sha256:abc');
  assert.deepEqual([...Buffer.from(indexed.xattrs!['user.binary']!, 'base64')], [0x00, 0xff, 0x10]);
  assert.match(aclText(Buffer.from(indexed.xattrs!['system.posix_acl_access']!, 'base64'))!, /^user::rw-\nuser:65534:rw-\ngroup::r--\nmask::rw-\nother::---$/);
  assert.ok(index.find((entry) => entry.path === join(tree, 'shared'))!.xattrs!['system.posix_acl_default']);
  assert.equal(index.find((entry) => entry.path === join(tree, 'plain.txt'))!.xattrs, undefined);

  // By hand, as GNU tar --acls --xattrs restores it: everything comes back.
  const byHand = join(base, 'by-hand');
  mkdirSync(byHand);
  const extracted = spawnSync('tar', ['--acls', '--xattrs', '--xattrs-include=*', '-xpf', archive, '-C', byHand], { encoding: 'utf8' });
  assert.equal(extracted.status, 0, extracted.stderr);
  assert.equal(extracted.stderr, '', 'GNU tar reads our pax records without a notice');
  assert.equal(acl(join(byHand, payroll)), payrollAcl);
  assert.equal(run('getfattr', ['--only-values', '-n', 'user.checksum', join(byHand, payroll)]), 'sha256:abc');
  assert.match(acl(join(byHand, tree, 'shared')), /default:group:65534:r-x/);

  // A plain tar (no --acls) gives the owning group what it had (r--), never the mask (rw-).
  const plain = join(base, 'plain');
  mkdirSync(plain);
  run('tar', ['-xpf', archive, '-C', plain]);
  assert.equal(lstatSync(join(plain, payroll)).mode & 0o777, 0o640);

  // restore files' step: the attributes from the index, on a plain extraction, give the original ACL back.
  await applyExtendedAttributes([{ path: join(plain, payroll), xattrs: indexed.xattrs! }]);
  assert.equal(acl(join(plain, payroll)), payrollAcl);
  assert.equal(lstatSync(join(plain, payroll)).mode & 0o777, 0o660);
});

test('restore files puts ACLs and extended attributes back; a sparse file restores onto a disk smaller than its size', async (t) => {
  for (const tool of ['getfattr', 'setfattr', 'setfacl', 'getfacl']) {
    if (spawnSync(tool, ['--version']).error) return t.skip(`${tool} is not installed (apt-get install attr acl)`);
  }
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  const app = makeSampleApp(tempDir(t));
  const payroll = join(app.uploadsDir, 'payroll.csv');
  writeFileSync(payroll, 'name,salary\n');
  run('chmod', ['640', payroll]);
  run('setfacl', ['-m', 'u:65534:rw', payroll]);
  run('setfattr', ['-n', 'user.origin', '-v', 'hr-export', payroll]);
  const payrollAcl = acl(payroll);
  // 64 MiB long, 4 KB of data: the restore must not need 64 MiB.
  const sparse = join(app.uploadsDir, 'disk.img');
  run('truncate', ['-s', '64M', sparse]);
  run('dd', ['if=/dev/urandom', `of=${sparse}`, 'bs=4096', 'count=1', 'seek=100', 'conv=notrunc', 'status=none']);

  const backup = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  const [manifestName] = readdirSync(join(app.repository, 'manifests'));
  const manifest = JSON.parse(readFileSync(join(app.repository, 'manifests', manifestName!), 'utf8')) as { artifacts: Array<{ source: string; details: { dataBytes: number; contentBytes: number; withAttributes: number } }> };
  const files = manifest.artifacts.find((artifact) => artifact.source === 'files')!;
  assert.equal(files.details.withAttributes, 1);
  assert.ok(files.details.contentBytes > 64 * 1024 * 1024, 'the archive holds the full length');
  assert.ok(files.details.dataBytes < 1024 * 1024, `only the data counts for the restore: ${files.details.dataBytes}`);

  // A 16 MB filesystem: the 64 MiB file fits only as the sparse file it was.
  const mountPoint = mkdtempSync(join(tmpdir(), 'restorable-xattr-target-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mountPoint]);
  t.after(() => {
    execFileSync('umount', ['-l', mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });
  const target = join(mountPoint, 'restored');
  const restore = await runCli(['-c', app.configPath, 'restore', 'files', '--source', 'files', '--to', target]);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  assert.match(restore.stdout + restore.stderr, /restored ACLs and extended attributes of 1 entry/);
  const restoredPayroll = join(target, payroll);
  assert.equal(acl(restoredPayroll), payrollAcl, 'the named user may write again; the owning group still only reads');
  assert.equal(lstatSync(restoredPayroll).mode & 0o777, 0o660);
  assert.equal(run('getfattr', ['--only-values', '-n', 'user.origin', restoredPayroll]), 'hr-export');
  const restoredSparse = lstatSync(join(target, sparse));
  assert.equal(restoredSparse.size, 64 * 1024 * 1024);
  assert.ok(restoredSparse.blocks * 512 < 1024 * 1024, `restored with holes: ${restoredSparse.blocks * 512} bytes on disk`);

  // The drill compares the restored tree with the index, modes included: the ACL must be back for it to pass.
  const drill = await runCli(['-c', app.configPath, 'drill']);
  assert.equal(drill.code, 0, drill.stdout + drill.stderr);
});

test('attributes from a crafted entry index never reach outside the target, nor inject setfattr lines', async (t) => {
  if (spawnSync('getfattr', ['--version']).error) return t.skip('getfattr is not installed (apt-get install attr)');
  const app = makeSampleApp(tempDir(t));
  const outside = join(app.root, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'victim.txt'), 'not yours\n');
  const value = Buffer.from('planted').toString('base64');
  publishCraftedSet(
    app.repository,
    craftTar([
      { path: 'srv/', type: 'Directory' },
      { path: 'srv/ok.txt', body: 'fine\n' },
      { path: 'srv/out', type: 'SymbolicLink', linkpath: outside },
    ]),
    {
      details: { withAttributes: 2 },
      index: [
        { path: '/srv', type: 'dir', mode: 0o755, size: 0, mtime: '2001-02-03T04:05:06.000Z', uid: 0, gid: 0 },
        // Below the archive's symlink: would set the attribute on the file outside.
        { path: '/srv/out/victim.txt', type: 'file', mode: 0o644, size: 10, mtime: '2001-02-03T04:05:06.000Z', uid: 0, gid: 0, xattrs: { 'user.planted': value } },
        // A name with a newline would add a `# file:` line of its own to setfattr's input.
        { path: '/srv/ok.txt', type: 'file', mode: 0o644, size: 5, mtime: '2001-02-03T04:05:06.000Z', uid: 0, gid: 0, xattrs: { 'user.kept': value, [`user.x\n# file: ${join(outside, 'victim.txt')}\nuser.injected`]: value } },
      ],
    },
  );
  const target = join(app.root, 'restored');
  const restore = await runCli(['-c', app.configPath, 'restore', 'files', '--set', CRAFTED_SET, '--to', target]);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  assert.match(restore.stdout + restore.stderr, /2 entries of the entry index named attributes or paths that were not applied/);
  assert.equal(run('getfattr', ['-d', '-m', '-', join(outside, 'victim.txt')]), '', 'nothing was set outside the target');
  assert.equal(run('getfattr', ['--only-values', '-n', 'user.kept', join(target, 'srv', 'ok.txt')]), 'planted');
});

test('without getfattr the backup says once that attributes were not checked; without setfattr the restore warns and never widens', async (t) => {
  for (const tool of ['setfacl', 'getfacl']) {
    if (spawnSync(tool, ['--version']).error) return t.skip(`${tool} is not installed (apt-get install acl)`);
  }
  const app = makeSampleApp(tempDir(t));
  const payroll = join(app.uploadsDir, 'payroll.csv');
  writeFileSync(payroll, 'name,salary\n');
  run('chmod', ['640', payroll]);
  run('setfacl', ['-m', 'u:65534:rw', payroll]);
  // An empty PATH: the SQLite + files app needs no other program, so only the attribute tools are missing.
  const noTools = { PATH: join(app.root, 'no-tools') };
  mkdirSync(noTools.PATH);
  const blind = await runCli(['-c', app.configPath, 'backup'], { env: noTools });
  assert.equal(blind.code, 0, blind.stdout + blind.stderr);
  const said = (blind.stdout + blind.stderr).split('getfattr is not installed').length - 1;
  assert.equal(said, 2, `said once per files source (files, config), not per path: ${blind.stdout}${blind.stderr}`);

  // With getfattr the set records the ACL; a restore on a machine without setfattr warns and keeps the narrow mode.
  assert.equal((await runCli(['-c', app.configPath, 'backup'])).code, 0);
  const target = join(app.root, 'restored');
  const restore = await runCli(['-c', app.configPath, 'restore', 'files', '--source', 'files', '--to', target], { env: noTools });
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  assert.match(restore.stdout + restore.stderr, /ACLs and extended attributes were not restored: .*setfattr is not installed.*apt-get install attr/);
  assert.equal(lstatSync(join(target, payroll)).mode & 0o777, 0o640, 'the owning group gets what it had, not the mask');
});
