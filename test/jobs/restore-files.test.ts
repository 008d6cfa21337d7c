// `restorable restore files` through the real CLI: an awkward tree backed up
// and restored comes back identical entry by entry; --path restores a subtree
// only; a non-empty target is refused unless --force; crafted archives that
// try to write outside the target (placed in a repository with a manifest that
// matches them, so only the extraction guard stands in the way) are refused
// with nothing written outside and no staging left; a damaged artifact is
// refused before anything reaches the target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { runCli, type CliResult } from '../support/cli.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import type { Manifest } from '../../src/core/manifest.ts';
import { describeTree, type DescribedEntry } from '../support/describe-tree.ts';
import { craftTar, CRAFTED_SET, MALICIOUS, publishCraftedSet } from '../support/crafted-files-set.ts';
import { backUpFilesOnly } from '../support/files-only-app.ts';

const isRoot = process.getuid?.() === 0;
const OLD_MTIME = new Date('2001-02-03T04:05:06Z');

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}


function assertSameTree(restored: Map<string, DescribedEntry>, original: Map<string, DescribedEntry>): void {
  assert.deepEqual([...restored.keys()].sort(), [...original.keys()].sort(), 'the same entries');
  for (const [path, entry] of original) assert.deepEqual(restored.get(path), entry, `entry "${path}"`);
}

/** Every path below `dir`, relative to it. */
function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

function stagingLeftovers(parent: string): string[] {
  return readdirSync(parent).filter((name) => name.includes('.restorable-staging-'));
}

function buildAwkwardTree(root: string): void {
  mkdirSync(root, { recursive: true });
  const write = (relative: string, content: string | Buffer, mode = 0o644): void => {
    writeFileSync(join(root, relative), content);
    chmodSync(join(root, relative), mode);
  };
  write('with space.txt', 'spaces\n');
  write('ünïcödé-😀.txt', 'unicode\n');
  write('empty-file', '');
  write('big.bin', Buffer.alloc(3 * 1024 * 1024 + 123, 'restorable'));
  // modes, some of which a umask of 022 or a root chown would change
  write('private-0600', 'secret\n', 0o600);
  write('script-0755', '#!/bin/sh\n', 0o755);
  write('readonly-0444', 'ro\n', 0o444);
  write('setuid-4755', 'suid\n', 0o4755);
  write('group-writable-0664', 'gw\n', 0o664);
  write('world-writable-0666', 'ww\n', 0o666);
  mkdirSync(join(root, 'private-dir-0700'));
  write('private-dir-0700/inside', 'inside\n');
  chmodSync(join(root, 'private-dir-0700'), 0o700);
  mkdirSync(join(root, 'readonly-dir-0555'));
  write('readonly-dir-0555/inside', 'inside\n');
  chmodSync(join(root, 'readonly-dir-0555'), 0o555);
  mkdirSync(join(root, 'shared-dir-2775'));
  chmodSync(join(root, 'shared-dir-2775'), 0o2775);
  write('owned-by-1234', 'owner\n');
  if (isRoot) chownSync(join(root, 'owned-by-1234'), 1234, 5678);
  // symlinks: dangling, absolute (kept absolute), relative, to a directory
  symlinkSync('does-not-exist', join(root, 'dangling-link'));
  symlinkSync('/etc/hostname', join(root, 'absolute-link'));
  symlinkSync('/nonexistent/restorable/target', join(root, 'absolute-dangling-link'));
  symlinkSync('with space.txt', join(root, 'relative-link'));
  symlinkSync('private-dir-0700', join(root, 'dir-link'));
  if (isRoot) lchownSync(join(root, 'absolute-link'), 1234, 5678);
  // hard links: the first archived link ("a-first" sorts first) is outside z-sub
  mkdirSync(join(root, 'a-first'));
  write('a-first/original', 'shared content\n');
  mkdirSync(join(root, 'z-sub', 'deeper'), { recursive: true });
  linkSync(join(root, 'a-first/original'), join(root, 'z-sub/linked'));
  linkSync(join(root, 'a-first/original'), join(root, 'z-sub/linked-too'));
  linkSync(join(root, 'a-first/original'), join(root, 'hard-b'));
  write('z-sub/inner.txt', 'inner\n');
  write('z-sub/deeper/more.txt', 'more\n');
  // empty directories
  mkdirSync(join(root, 'empty', 'nested-empty'), { recursive: true });
  // old mtimes last, directories after their contents
  utimesSync(join(root, 'with space.txt'), OLD_MTIME, OLD_MTIME);
  utimesSync(join(root, 'setuid-4755'), OLD_MTIME, OLD_MTIME);
  lutimesSync(join(root, 'absolute-link'), OLD_MTIME, OLD_MTIME);
  lutimesSync(join(root, 'relative-link'), OLD_MTIME, OLD_MTIME);
  for (const dir of ['empty/nested-empty', 'empty', 'readonly-dir-0555', 'z-sub/deeper', 'z-sub', 'a-first', '.']) utimesSync(join(root, dir), OLD_MTIME, OLD_MTIME);
}

interface AwkwardSetup {
  base: string;
  root: string;
  configPath: string;
  sourceTree: Map<string, DescribedEntry>;
}

async function backedUpAwkwardTree(t: { after(fn: () => void): void }): Promise<AwkwardSetup> {
  const base = tempDir(t);
  const root = join(base, 'srv', 'app storage');
  buildAwkwardTree(root);
  const sourceTree = describeTree(root);
  const configPath = await backUpFilesOnly(base, root, 'awkward');
  return { base, root, configPath, sourceTree };
}

function errorCode(result: CliResult): string | undefined {
  return (JSON.parse(result.stdout) as { error?: { code?: string } }).error?.code;
}

test('round trip: an awkward tree comes back identical under --to, entry by entry', async (t) => {
  const { base, root, configPath, sourceTree } = await backedUpAwkwardTree(t);
  const target = join(base, 'restored');
  const result = await runCli(['-c', configPath, 'restore', 'files', '--to', target]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.ok(result.stdout.startsWith(`restore target: ${target} (a new directory)\n`), 'the target is printed before anything else');
  assert.match(result.stdout, /restore OK: \d+ entries of files from set .* \(.* read, sha256 verified\)/);

  // The archive holds absolute paths without the leading "/": they are recreated under the target.
  const restoredRoot = join(target, root);
  assertSameTree(describeTree(restoredRoot), sourceTree);
  assert.equal(readlinkSync(join(restoredRoot, 'absolute-link')), '/etc/hostname', 'absolute symlink targets stay absolute');
  assert.equal(statSync(join(restoredRoot, 'z-sub/linked')).ino, statSync(join(restoredRoot, 'a-first/original')).ino, 'hard links share an inode');
  assert.deepEqual(stagingLeftovers(base), []);
});

test('--path restores only that subtree; a hard link whose first link is outside it still gets its content', async (t) => {
  const { base, root, configPath, sourceTree } = await backedUpAwkwardTree(t);
  const subtree = join(root, 'z-sub');
  const expected = new Map([...sourceTree].filter(([path]) => path === 'z-sub' || path.startsWith('z-sub/')).map(([path, entry]) => [path.slice('z-sub'.length + 1), entry]));

  for (const [label, pathArgument] of [
    ['with the leading /', subtree],
    ['without the leading /', subtree.slice(1)],
  ] as const) {
    const target = join(base, `only-z-sub ${label}`);
    const result = await runCli(['-c', configPath, 'restore', 'files', '--to', target, '--path', pathArgument]);
    assert.equal(result.code, 0, `${label}: ${result.stdout}${result.stderr}`);
    // Nothing but the subtree and the directories leading to it.
    const ancestors = subtree
      .slice(1)
      .split('/')
      .map((_, index, parts) => parts.slice(0, index + 1).join('/'));
    const outside = listTree(target).filter((path) => !ancestors.includes(path) && !path.startsWith(`${subtree.slice(1)}/`));
    assert.deepEqual(outside, [], `${label}: only the subtree is restored`);
    assert.ok(!existsSync(join(target, root, 'a-first')), `${label}: the hard link's first link is not left behind`);

    const restored = describeTree(join(target, subtree));
    // The hard-link group lost its members outside the subtree; compare the rest as it was.
    const withoutGroups = (tree: Map<string, DescribedEntry>) => new Map([...tree].map(([path, { hardLinkGroup: _group, ...entry }]) => [path, entry]));
    assertSameTree(withoutGroups(restored), withoutGroups(expected));
    assert.equal(readFileSync(join(target, subtree, 'linked'), 'utf8'), 'shared content\n');
    assert.equal(statSync(join(target, subtree, 'linked')).ino, statSync(join(target, subtree, 'linked-too')).ino, `${label}: still hard links of each other`);
  }

  const missing = join(base, 'nothing');
  const none = await runCli(['-c', configPath, 'restore', 'files', '--to', missing, '--path', '/no/such/path', '--json']);
  assert.equal(none.code, 2);
  assert.equal(errorCode(none), 'RESTORE_PATH_NOT_FOUND');
  assert.ok(!existsSync(missing));
});

test('a non-empty target is refused and left unchanged; --force merges without following symlinks in it', async (t) => {
  const { base, root, configPath, sourceTree } = await backedUpAwkwardTree(t);
  const target = join(base, 'busy');
  mkdirSync(target);
  writeFileSync(join(target, 'keep.txt'), 'keep me\n');
  // The first component of every archive name, as a symlink to somewhere else.
  const elsewhere = join(base, 'elsewhere');
  mkdirSync(elsewhere);
  const firstComponent = root.split('/')[1]!;
  symlinkSync(elsewhere, join(target, firstComponent));
  const before = describeTree(target);

  const refused = await runCli(['-c', configPath, 'restore', 'files', '--to', target]);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, new RegExp(`the restore target ${target} is not empty \\(2 entries\\); nothing was changed`));
  assert.match(refused.stderr, /next: .*--force/);
  assert.deepEqual(describeTree(target), before, 'unchanged');
  assert.deepEqual(stagingLeftovers(base), []);

  const forced = await runCli(['-c', configPath, 'restore', 'files', '--to', target, '--force']);
  assert.equal(forced.code, 0, forced.stdout + forced.stderr);
  assert.match(forced.stdout, /restore target: .*merging into the non-empty directory/);
  assert.deepEqual(readdirSync(elsewhere), [], 'nothing was written through the symlink that was in the target');
  assert.ok(lstatSync(join(target, firstComponent)).isDirectory(), 'the symlink in the way was replaced');
  assert.equal(readFileSync(join(target, 'keep.txt'), 'utf8'), 'keep me\n', 'unrelated entries stay');
  assertSameTree(describeTree(join(target, root)), sourceTree);

  // A second forced restore replaces changed entries and keeps extra ones.
  writeFileSync(join(target, root, 'z-sub/inner.txt'), 'changed\n');
  writeFileSync(join(target, root, 'extra.txt'), 'extra\n');
  const again = await runCli(['-c', configPath, 'restore', 'files', '--to', target, '--force']);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(readFileSync(join(target, root, 'z-sub/inner.txt'), 'utf8'), 'inner\n');
  assert.equal(readFileSync(join(target, root, 'extra.txt'), 'utf8'), 'extra\n');
});

test('a set with several files sources restores them all without --source (issue 14); an empty target keeps its mode', async (t) => {
  const app = makeSampleApp(tempDir(t));
  assert.equal((await runCli(['-c', app.configPath, 'backup'])).code, 0);
  const target = join(app.root, 'restored');
  const all = join(app.root, 'restored-all');
  const result = await runCli(['-c', app.configPath, 'restore', 'files', '--to', all]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /restore OK: .* entries of files from set /);
  assert.match(result.stdout, /restore OK: .* entries of config from set /);
  assertSameTree(describeTree(join(all, app.uploadsDir)), describeTree(app.uploadsDir));
  assert.equal(readFileSync(join(all, app.envPath), 'utf8'), readFileSync(app.envPath, 'utf8'));
  // Several sources: the target must still be new or empty before the first one.
  const again = await runCli(['-c', app.configPath, 'restore', 'files', '--to', all]);
  assert.equal(again.code, 2, again.stdout + again.stderr);
  assert.match(again.stderr, /is not empty/);
  // --path restores from the source that holds it; a source holding nothing there is skipped.
  const onlyEnv = join(app.root, 'restored-env');
  const env = await runCli(['-c', app.configPath, 'restore', 'files', '--to', onlyEnv, '--path', app.envPath]);
  assert.equal(env.code, 0, env.stdout + env.stderr);
  assert.deepEqual(readdirSync(join(onlyEnv, dirname(app.envPath))), ['.env']);

  // An existing empty directory is a fine target, and keeps the mode it was given.
  mkdirSync(target);
  chmodSync(target, 0o750);
  const config = await runCli(['-c', app.configPath, 'restore', 'files', '--source', 'config', '--to', target]);
  assert.equal(config.code, 0, config.stdout + config.stderr);
  assert.match(config.stdout, /restore target: .* \(the empty directory\)/);
  assert.equal(readFileSync(join(target, app.envPath), 'utf8'), readFileSync(app.envPath, 'utf8'));
  assert.equal(statSync(target).mode & 0o7777, 0o750);
  assert.equal(statSync(join(target, app.envPath)).mode & 0o7777, 0o600);
});

test('a flipped byte in the artifact: the restore is refused, the target never appears, no staging is left', async (t) => {
  const app = makeSampleApp(tempDir(t));
  assert.equal((await runCli(['-c', app.configPath, 'backup'])).code, 0);
  const [manifestName] = readdirSync(join(app.repository, 'manifests'));
  const manifest = JSON.parse(readFileSync(join(app.repository, 'manifests', manifestName!), 'utf8')) as Manifest;
  const files = manifest.artifacts.find((artifact) => artifact.source === 'files')!;
  const path = join(app.repository, files.path);
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  writeFileSync(path, bytes);

  // A target whose parent does not exist yet: the parent is not left behind either.
  const target = join(app.root, 'new-parent', 'restored');
  const result = await runCli(['-c', app.configPath, 'restore', 'files', '--source', 'files', '--to', target, '--json']);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  const error = (JSON.parse(result.stdout) as { error: { code: string; message: string } }).error;
  assert.equal(error.code, 'RESTORE_ARTIFACT_DAMAGED');
  assert.ok(error.message.includes(`${files.path} of set ${manifest.setId} is damaged: sha256 differs from the manifest (expected ${files.sha256}, got ${sha256(bytes)})`), error.message);
  assert.ok(!existsSync(target), 'the target does not exist');
  assert.ok(!existsSync(dirname(target)), 'nor the parent made for it');
  assert.deepEqual(stagingLeftovers(app.root), []);

  const text = await runCli(['-c', app.configPath, 'restore', 'files', '--source', 'files', '--to', target]);
  assert.equal(text.code, 2);
  assert.match(text.stderr, /nothing was written to/);
  assert.doesNotMatch(text.stderr, /\n\s+at /, 'no stack trace');
});

// ---------------------------------------------------------------------------
// Crafted archives, published as a set whose manifest matches them

test('control: a benign crafted set restores (so the refusals below are the guard at work)', async (t) => {
  const app = makeSampleApp(tempDir(t));
  publishCraftedSet(
    app.repository,
    craftTar([
      { path: 'srv/', type: 'Directory' },
      { path: 'srv/ok.txt', body: 'fine\n' },
      { path: 'srv/abs', type: 'SymbolicLink', linkpath: '/etc/hostname' },
      { path: 'srv/up', type: 'SymbolicLink', linkpath: '../srv/ok.txt' },
      { path: 'srv/hard', type: 'Link', linkpath: 'srv/ok.txt' },
    ]),
  );
  const target = join(app.root, 'restore-here');
  const result = await runCli(['-c', app.configPath, 'restore', 'files', '--set', CRAFTED_SET, '--to', target]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.equal(readFileSync(join(target, 'srv/ok.txt'), 'utf8'), 'fine\n');
  assert.equal(readlinkSync(join(target, 'srv/abs')), '/etc/hostname');
  assert.equal(readlinkSync(join(target, 'srv/up')), '../srv/ok.txt');
  assert.equal(statSync(join(target, 'srv/hard')).ino, statSync(join(target, 'srv/ok.txt')).ino);
});

for (const malicious of MALICIOUS) {
  test(`a crafted archive with ${malicious.name} is refused: exit 2, nothing written outside, no staging left`, async (t) => {
    const app = makeSampleApp(tempDir(t));
    const base = app.root;
    const outside = join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.txt'), 'original\n');
    publishCraftedSet(app.repository, craftTar(malicious.entries(base)));
    const before = listTree(base);

    const target = join(base, 'restore-here');
    const result = await runCli(['-c', app.configPath, 'restore', 'files', '--set', CRAFTED_SET, '--to', target, '--json']);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.equal(errorCode(result), 'RESTORE_UNSAFE_ARCHIVE', result.stdout);
    assert.ok(!existsSync(target), 'the target was not created');
    for (const path of malicious.mustNotExist(base)) assert.ok(!existsSync(path), `${path} was not written`);
    assert.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), 'original\n', 'the file outside is unchanged');
    assert.deepEqual(readdirSync(outside), ['secret.txt']);
    assert.deepEqual(stagingLeftovers(base), []);
    assert.deepEqual(listTree(base), before, 'nothing at all changed around the target');

    const text = await runCli(['-c', app.configPath, 'restore', 'files', '--set', CRAFTED_SET, '--to', target]);
    assert.equal(text.code, 2);
    assert.match(text.stderr, /holds an unsafe entry: .*; the restore was refused and nothing was written to/);
    assert.doesNotMatch(text.stderr, /\n\s+at /, 'no stack trace');
  });
}
