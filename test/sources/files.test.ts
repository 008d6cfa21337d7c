// Tests the files source the way an operator would judge it: back up a real
// tree, restore it with GNU tar (what the seed's restore uses), and compare
// entry by entry; then break the tree while it is read (vanishing, shrinking,
// growing files, FIFOs, unreadable files) and check that the archive is still
// valid and that every problem is reported. Permission tests run the driver in
// a child process as `nobody` (setpriv), because root reads mode-0000 files
// (research note V11).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  createWriteStream,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { FilesSourceConfig } from '../../src/config/schema.ts';
import { RestorableError } from '../../src/core/errors.ts';
import type { SourceWarning } from '../../src/core/manifest.ts';
import type { IndexEntry } from '../../src/sources/files-index.ts';
import { LOOKAHEAD_ENTRIES } from '../../src/sources/files-archive.ts';
import { filesSource } from '../../src/sources/files.ts';
import type { SourceContext, SourceFacts } from '../../src/sources/source.ts';
import { describeTree, type DescribedEntry } from '../support/describe-tree.ts';

const MiB = 1024 * 1024;
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const workDirs: string[] = [];

before(() => {
  assert.equal(spawnSync('tar', ['--version']).status, 0, 'GNU tar is needed to check restores');
});

after(() => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

function workDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `restorable-files-${label}-`));
  workDirs.push(dir);
  return dir;
}

interface Harness {
  context: SourceContext<FilesSourceConfig>;
  archivePath: string;
  logged: string[];
}

/** A context whose repository and scratch dir live in `base` (outside the tree unless the test moves them). */
function harness(base: string, config: Partial<FilesSourceConfig> & { paths: string[] }, overrides: Partial<SourceContext<FilesSourceConfig>> = {}): Harness {
  const repositoryPath = join(base, 'repository');
  const scratchDir = join(base, 'scratch');
  mkdirSync(repositoryPath, { recursive: true });
  mkdirSync(scratchDir, { recursive: true });
  const logged: string[] = [];
  return {
    archivePath: join(base, 'files.tar'),
    logged,
    context: {
      job: 'test',
      sourceName: 'files',
      config: { type: 'files', exclude: [], fail_on_unreadable: false, ...config },
      repositoryPath,
      scratchDir,
      log: { info: (message) => logged.push(message), warn: (message) => logged.push(message) },
      signal: new AbortController().signal,
      ...overrides,
    },
  };
}

/** Runs the driver as the pipeline does: drain the stream to a file, then await `completed`. */
async function backUp(h: Harness): Promise<SourceFacts> {
  const produced = await filesSource.produce(h.context);
  await pipeline(produced.stream, createWriteStream(h.archivePath));
  return produced.completed;
}

function gnuTar(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('tar', args, { encoding: 'utf8', maxBuffer: 64 * MiB });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function extractWithGnuTar(archivePath: string, destination: string): void {
  mkdirSync(destination, { recursive: true });
  const result = gnuTar(['-xpf', archivePath, '-C', destination]);
  assert.equal(result.status, 0, `GNU tar -xpf failed: ${result.stderr}`);
  assert.equal(result.stderr, '', 'GNU tar printed warnings while extracting');
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function readIndex(facts: SourceFacts): IndexEntry[] {
  assert.ok(facts.indexFile, 'the driver returned no index file');
  return readFileSync(facts.indexFile, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as IndexEntry);
}

function warningsWith(facts: SourceFacts, code: string): SourceWarning[] {
  return facts.warnings.filter((warning) => warning.code === code);
}


// ---------------------------------------------------------------------------
// 1 + 2: the awkward tree, backed up once, checked by GNU tar and by the index

interface AwkwardBackup {
  base: string;
  root: string;
  facts: SourceFacts;
  archivePath: string;
  restoredRoot: string;
  sourceTree: Map<string, DescribedEntry>;
}

const OLD_MTIME = new Date('2001-02-03T04:05:06Z');
const LONG_NAME = `${'n'.repeat(196)}.txt`; // 200 chars
const DEEP_DIRS = Array.from({ length: 5 }, (_, i) => `${String(i).repeat(58)}-d`); // 5 x 60 chars
const NEWLINE_NAME = 'new\nline.txt';

function buildAwkwardTree(root: string): void {
  mkdirSync(root);
  const write = (relative: string, content: string | Buffer, mode = 0o644): void => {
    writeFileSync(join(root, relative), content);
    chmodSync(join(root, relative), mode);
  };
  write('with space.txt', 'spaces\n');
  write('ünïcödé-😀.txt', 'unicode\n');
  write(NEWLINE_NAME, 'a newline in the name\n');
  write('-leading-dash.txt', 'dash\n');
  write(`it's "quoted" \\ back.txt`, 'quotes\n');
  write(LONG_NAME, 'long name\n');
  write('empty-file', '');
  write('big.bin', randomBytes(3 * MiB + 123)); // several read chunks, not block aligned
  mkdirSync(join(root, ...DEEP_DIRS), { recursive: true });
  write(join(...DEEP_DIRS, `${'f'.repeat(40)}.txt`), 'deep\n'); // path > 300 chars below the root
  // modes and owners
  write('private-0600', 'secret\n', 0o600);
  write('script-0755', '#!/bin/sh\n', 0o755);
  write('readonly-0444', 'ro\n', 0o444);
  write('setuid-4755', 'suid\n', 0o4755);
  mkdirSync(join(root, 'private-dir-0700'));
  write('private-dir-0700/inside', 'inside\n');
  chmodSync(join(root, 'private-dir-0700'), 0o700);
  write('owned-by-1234', 'owner\n');
  chownSync(join(root, 'owned-by-1234'), 1234, 5678);
  // links
  symlinkSync('does-not-exist', join(root, 'dangling-link'));
  symlinkSync('/etc/hostname', join(root, 'absolute-link'));
  symlinkSync('with space.txt', join(root, 'relative-link'));
  symlinkSync(`../${DEEP_DIRS[0]}`, join(root, 'private-dir-0700-link-to-dir'));
  symlinkSync(join(...DEEP_DIRS, `${'f'.repeat(40)}.txt`), join(root, 'long-target-link')); // target > 100 chars: pax linkpath
  write('hard-a', 'shared content\n');
  linkSync(join(root, 'hard-a'), join(root, 'hard-b'));
  // Sorts first ("0..." < "hard-a"), so it is the archived file and hard-a
  // becomes a hard-link entry whose link name is longer than ustar's 100.
  linkSync(join(root, 'hard-a'), join(root, ...DEEP_DIRS, `hard-d-${'x'.repeat(100)}`));
  mkdirSync(join(root, 'links'));
  linkSync(join(root, 'hard-a'), join(root, 'links', 'hard-c'));
  // empty directories
  mkdirSync(join(root, 'empty', 'nested-empty'), { recursive: true });
  // old mtimes last, directories after their contents
  utimesSync(join(root, 'with space.txt'), OLD_MTIME, OLD_MTIME);
  lutimesSync(join(root, 'absolute-link'), OLD_MTIME, OLD_MTIME);
  utimesSync(join(root, 'empty', 'nested-empty'), OLD_MTIME, OLD_MTIME);
  utimesSync(join(root, 'empty'), OLD_MTIME, OLD_MTIME);
  utimesSync(root, OLD_MTIME, OLD_MTIME);
}

let awkward: Promise<AwkwardBackup> | undefined;
function awkwardBackup(): Promise<AwkwardBackup> {
  awkward ??= (async () => {
    const base = workDir('awkward');
    const root = join(base, 'srv', 'app storage');
    mkdirSync(join(base, 'srv'));
    buildAwkwardTree(root);
    const sourceTree = describeTree(root);
    const h = harness(base, { paths: [root] });
    const facts = await backUp(h);
    const restored = join(base, 'restored');
    extractWithGnuTar(h.archivePath, restored);
    return { base, root, facts, archivePath: h.archivePath, restoredRoot: join(restored, root), sourceTree };
  })();
  return awkward;
}

test('an awkward tree comes back identical from GNU tar -xpf', async () => {
  const { facts, root, restoredRoot, sourceTree, archivePath } = await awkwardBackup();
  assert.equal(facts.degraded, false);
  assert.deepEqual(facts.warnings, []);

  const restoredTree = describeTree(restoredRoot);
  assert.deepEqual([...restoredTree.keys()].sort(), [...sourceTree.keys()].sort(), 'restored entries differ from the source entries');
  for (const [relative, expected] of sourceTree) {
    const actual = restoredTree.get(relative)!;
    const label = JSON.stringify(relative);
    assert.equal(actual.type, expected.type, `type of ${label}`);
    if (expected.type !== 'symlink') assert.equal(actual.mode.toString(8), expected.mode.toString(8), `mode of ${label}`);
    assert.equal(actual.size, expected.size, `size of ${label}`);
    assert.equal(actual.sha256, expected.sha256, `content of ${label}`);
    assert.equal(actual.linkTarget, expected.linkTarget, `link target of ${label}`);
    assert.equal(actual.hardLinkGroup, expected.hardLinkGroup, `hard-link group of ${label}`);
    assert.equal(actual.mtimeSeconds, expected.mtimeSeconds, `mtime of ${label}`);
    assert.equal(`${actual.uid}:${actual.gid}`, `${expected.uid}:${expected.gid}`, `owner of ${label}`);
  }
  // Spot checks a reader can follow without the loop above.
  assert.equal(restoredTree.get('absolute-link')?.linkTarget, '/etc/hostname');
  assert.equal(restoredTree.get('setuid-4755')?.mode, 0o4755);
  assert.equal(restoredTree.get('private-dir-0700')?.mode, 0o700);
  assert.equal(restoredTree.get('with space.txt')?.mtimeSeconds, OLD_MTIME.getTime() / 1000);
  assert.equal(restoredTree.get('empty/nested-empty')?.type, 'dir');
  assert.equal(restoredTree.get('hard-b')?.hardLinkGroup, join(...DEEP_DIRS, `hard-d-${'x'.repeat(100)}`));
  assert.equal(restoredTree.get('long-target-link')?.linkTarget, join(...DEEP_DIRS, `${'f'.repeat(40)}.txt`));
  assert.ok(join(root, ...DEEP_DIRS).length > 300);

  // Entries are named as GNU tar names them (absolute path minus "/"), the
  // configured path's parents are not members, and hard links are link entries.
  const listing = gnuTar(['-tvf', archivePath]);
  assert.equal(listing.status, 0, listing.stderr);
  const lines = listing.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, new RegExp(`^d.* ${escapeRegExp(root.slice(1))}/$`));
  assert.ok(!lines.some((line) => / tmp\/$/.test(line) || line.endsWith(' srv/')), 'a parent of the configured path was archived');
  assert.equal(lines.filter((line) => line.startsWith('h')).length, 3, 'expected three hard-link entries (hard-a, hard-b, links/hard-c)');
});

test('the index lists every archived entry with the sha256 of its content', async () => {
  const { facts, root, restoredRoot, sourceTree } = await awkwardBackup();
  const index = readIndex(facts);
  assert.equal(facts.indexEntries, index.length);
  assert.equal(index.length, sourceTree.size, 'index entries vs entries in the tree');
  const byPath = new Map(index.map((entry) => [entry.path, entry]));
  for (const [relative, expected] of sourceTree) {
    const path = relative === '' ? root : join(root, relative);
    const entry = byPath.get(path);
    assert.ok(entry, `index lacks ${JSON.stringify(path)}`);
    const label = JSON.stringify(relative);
    assert.equal(entry.mode, expected.mode, `mode of ${label}`);
    assert.equal(Math.floor(Date.parse(entry.mtime) / 1000), expected.mtimeSeconds, `mtime of ${label}`);
    assert.equal(`${entry.uid}:${entry.gid}`, `${expected.uid}:${expected.gid}`, `owner of ${label}`);
    if (expected.type === 'file') {
      assert.ok(entry.type === 'file' || entry.type === 'hardlink', `type of ${label}: ${entry.type}`);
      assert.equal(entry.sha256, expected.sha256, `sha256 of ${label} vs the source file`);
      assert.equal(entry.sha256, sha256(readFileSync(join(restoredRoot, relative))), `sha256 of ${label} vs the restored file`);
      assert.equal(entry.size, expected.size, `size of ${label}`);
    } else {
      assert.equal(entry.type, expected.type, `type of ${label}`);
      assert.equal(entry.sha256, undefined);
    }
    if (expected.type === 'symlink') assert.equal(entry.linkTarget, expected.linkTarget, `link target of ${label}`);
    if (entry.type === 'hardlink') {
      const first = byPath.get(entry.linkTarget!);
      assert.equal(first?.type, 'file', `hard link ${label} must point at an archived file`);
      assert.equal(sourceTree.get(first!.path.slice(root.length + 1))?.hardLinkGroup, expected.hardLinkGroup);
    }
  }
  assert.deepEqual(
    index.filter((entry) => entry.type === 'hardlink').map((entry) => entry.path.slice(root.length + 1)).sort(),
    ['hard-a', 'hard-b', 'links/hard-c'],
  );
  assert.equal(byPath.get(join(root, NEWLINE_NAME))?.sha256, sha256('a newline in the name\n'));
  const details = facts.details as { entries: Record<string, number>; contentBytes: number };
  assert.equal(details.entries.total, index.length);
  assert.equal(details.entries.hardlinks, 3);
  assert.equal(details.entries.symlinks, 5);
});

// ---------------------------------------------------------------------------
// 3: excludes and the repository

test('excludes leave out what they match, dotfiles included, and the repository is never archived', async () => {
  const base = workDir('exclude');
  const storage = join(base, 'real', 'storage');
  const files: Record<string, string> = {
    'app/keep.txt': 'keep',
    'app/debug.log': 'log by name',
    'app/.env': 'dotfile by name',
    'app/.hidden/keep-too.txt': 'dot dir kept',
    'logs/laravel.log': 'log',
    'framework/cache/data/ab/cd': 'cache entry',
    'framework/sessions/s1': 'session',
    'tmp/upload-1': 'temp',
    'tmp/new\nline': 'temp with newline',
    'app/odd\ndir/x.cache': 'cache file below a directory with a newline in its name',
    'backups/app/files/old.tar.gz': 'the repository',
  };
  for (const [relative, content] of Object.entries(files)) {
    mkdirSync(join(storage, relative, '..'), { recursive: true });
    writeFileSync(join(storage, relative), content);
  }
  // The repository sits inside the backed-up tree and is reached through a
  // symlinked parent: /base/alias -> /base/real. The driver must still see
  // that /base/alias/storage/backups/app is the repository (same inode).
  symlinkSync(join(base, 'real'), join(base, 'alias'));
  const root = join(base, 'alias', 'storage');
  const h = harness(base, {
    paths: [root],
    exclude: ['*.log', '.env', '**/framework/cache/*', `${root}/tmp/**`, '**/*.cache'],
  });
  h.context.repositoryPath = join(storage, 'backups', 'app');
  h.context.scratchDir = join(storage, 'backups', 'app', 'scratch-run');
  mkdirSync(h.context.scratchDir, { recursive: true });
  writeFileSync(join(h.context.scratchDir, 'partial'), 'scratch');
  h.archivePath = join(base, 'files.tar');

  const facts = await backUp(h);
  const archived = new Set(readIndex(facts).map((entry) => entry.path.slice(root.length + 1)));
  assert.ok(archived.has('app/keep.txt'));
  assert.ok(archived.has('app/.hidden/keep-too.txt'));
  assert.ok(archived.has('framework/sessions/s1'));
  assert.ok(archived.has('framework/cache'), '**/framework/cache/* keeps the (empty) cache directory');
  assert.ok(archived.has('app/odd\ndir'), 'the directory with a newline in its name stays');
  for (const left of ['app/odd\ndir/x.cache', 'app/debug.log', 'app/.env', 'logs/laravel.log', 'framework/cache/data', 'tmp/upload-1', 'tmp/new\nline', 'tmp']) {
    assert.ok(!archived.has(left), `${JSON.stringify(left)} should be excluded`);
  }
  assert.ok(archived.has('backups'), 'the directory holding the repository stays');
  assert.ok(![...archived].some((path) => path.startsWith('backups/app')), 'the repository (and the scratch dir in it) was archived');
  const details = facts.details as { skipped: { excluded: number; protected: number } };
  assert.equal(details.skipped.excluded, 6, 'debug.log, .env, laravel.log, framework/cache/data, tmp, x.cache');
  assert.equal(details.skipped.protected, 1);

  // What GNU tar restores agrees with the index.
  extractWithGnuTar(h.archivePath, join(base, 'restored'));
  const restored = join(base, 'restored', root);
  assert.equal(readFileSync(join(restored, 'app/keep.txt'), 'utf8'), 'keep');
  assert.deepEqual(readdirSync(join(restored, 'framework/cache')), []);
  assert.deepEqual(readdirSync(join(restored, 'backups')), []);
});

test('configuration mistakes are refused before anything is written, naming the field', async () => {
  const base = workDir('config');
  mkdirSync(join(base, 'data'));
  const refusal = async (config: Partial<FilesSourceConfig> & { paths: string[] }, repositoryPath?: string): Promise<RestorableError> => {
    const h = harness(base, config);
    if (repositoryPath) h.context.repositoryPath = repositoryPath;
    const error = await filesSource.preflight(h.context).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof RestorableError, `expected a RestorableError, got ${String(error)}`);
    // produce() checks the same things: it never streams a doomed archive.
    await assert.rejects(filesSource.produce(h.context), { code: error.code });
    return error;
  };

  const relative = await refusal({ paths: ['var/www/app/storage'] });
  assert.equal(relative.code, 'CONFIG_INVALID');
  assert.match(relative.message, /sources\.files\.paths\[0\]/);

  const missing = await refusal({ paths: [join(base, 'data'), join(base, 'not-mounted')] });
  assert.equal(missing.code, 'SOURCE_PATH_MISSING');
  assert.match(missing.message, /sources\.files\.paths\[1\]/);
  assert.match(missing.message, /not-mounted/);
  assert.ok(missing.remedy);

  const pattern = await refusal({ paths: [join(base, 'data')], exclude: ['*.tmp', 'storage/logs'] });
  assert.equal(pattern.code, 'CONFIG_INVALID');
  assert.match(pattern.message, /sources\.files\.exclude\[1\]/);

  const insideRepository = await refusal({ paths: [join(base, 'data', 'sets')] }, join(base, 'data'));
  assert.equal(insideRepository.code, 'CONFIG_INVALID');
  assert.match(insideRepository.message, /inside the backup repository/);
});

test('a file as a path, a symlink as a path, nested paths, and a name that is not UTF-8', async () => {
  const base = workDir('roots');
  const app = join(base, 'var', 'www', 'app');
  mkdirSync(join(app, 'storage', 'app'), { recursive: true });
  writeFileSync(join(app, '.env'), 'APP_KEY=base64:abc\n');
  chmodSync(join(app, '.env'), 0o640);
  writeFileSync(join(app, 'storage', 'app', 'upload.jpg'), 'jpeg');
  writeFileSync(Buffer.from(`${join(app, 'storage', 'app')}/latin1-\xe9.txt`, 'latin1'), 'not UTF-8 named');
  symlinkSync(join(app, 'storage'), join(base, 'current-storage'));
  const h = harness(base, {
    paths: [join(app, '.env'), join(app, 'storage'), join(app, 'storage', 'app'), join(base, 'current-storage')],
  });

  const report = await filesSource.preflight(h.context);
  assert.deepEqual(report.warnings, [], 'a configured symlink is followed, not a warning');
  assert.ok(report.notes.some((note) => note.includes(`${join(base, 'current-storage')} is a symlink to ${join(app, 'storage')}: its contents are archived`)));
  assert.ok(report.notes.some((note) => note.includes(`${join(app, 'storage', 'app')} is inside ${join(app, 'storage')}`)));

  const facts = await backUp(h);
  const listing = gnuTar(['-tf', h.archivePath]);
  assert.equal(listing.status, 0, listing.stderr);
  assert.deepEqual(listing.stdout.trimEnd().split('\n'), [
    join(app, '.env').slice(1),
    `${join(app, 'storage').slice(1)}/`,
    `${join(app, 'storage', 'app').slice(1)}/`,
    join(app, 'storage', 'app', 'upload.jpg').slice(1),
    `${join(base, 'current-storage').slice(1)}/`,
    `${join(base, 'current-storage', 'app').slice(1)}/`,
    join(base, 'current-storage', 'app', 'upload.jpg').slice(1),
  ], 'the file alone (no parent dirs), storage once, the configured symlink followed: its contents under its name');
  const unnameable = warningsWith(facts, 'FILE_UNNAMEABLE');
  assert.equal(unnameable.length, 2, 'once under storage, once under the followed link to it');
  assert.match(unnameable[0]!.message, /not valid UTF-8 \(bytes 6c6174696e312de92e747874\)/);
  assert.equal(facts.degraded, true, 'a file left out because of its name degrades the backup');

  // `cd / && tar -xpf` style restore, into a directory standing in for /.
  const restored = join(base, 'restored');
  extractWithGnuTar(h.archivePath, restored);
  assert.equal(readFileSync(join(restored, app, '.env'), 'utf8'), 'APP_KEY=base64:abc\n');
  assert.equal(lstatSync(join(restored, app, '.env')).mode & 0o7777, 0o640);
  assert.equal(readFileSync(join(restored, base, 'current-storage', 'app', 'upload.jpg'), 'utf8'), 'jpeg');
});

test('a configured path that is a symlink (Envoyer/Deployer style) is backed up through the link; a dangling one fails', async () => {
  const base = workDir('linked-roots');
  const shared = join(base, 'shared');
  const release = join(base, 'releases', '42');
  mkdirSync(join(shared, 'storage', 'app', 'public'), { recursive: true });
  mkdirSync(release, { recursive: true });
  writeFileSync(join(shared, 'storage', 'app', 'public', 'avatar.png'), 'png bytes');
  writeFileSync(join(shared, '.env'), 'APP_KEY=base64:xyz\n');
  chmodSync(join(shared, '.env'), 0o600);
  symlinkSync('../../shared/storage', join(release, 'storage'));
  symlinkSync('../../shared/.env', join(release, '.env'));
  // A link inside the followed tree stays a link (only the configured name is followed).
  symlinkSync('/etc/hostname', join(shared, 'storage', 'app', 'inner-link'));

  const h = harness(base, { paths: [join(release, 'storage'), join(release, '.env')] });
  const facts = await backUp(h);
  assert.equal(facts.degraded, false);
  assert.deepEqual(facts.warnings, []);
  const listing = gnuTar(['-tvf', h.archivePath]);
  assert.equal(listing.status, 0, listing.stderr);
  const restored = join(base, 'restored');
  extractWithGnuTar(h.archivePath, restored);
  assert.equal(readFileSync(join(restored, release, 'storage', 'app', 'public', 'avatar.png'), 'utf8'), 'png bytes');
  assert.equal(readFileSync(join(restored, release, '.env'), 'utf8'), 'APP_KEY=base64:xyz\n');
  assert.equal(lstatSync(join(restored, release, '.env')).mode & 0o777, 0o600, 'the target file\'s mode, as tar -h keeps it');
  assert.equal(readlinkSync(join(restored, release, 'storage', 'app', 'inner-link')), '/etc/hostname');
  const index = readIndex(facts);
  assert.ok(index.some((entry) => entry.path === join(release, 'storage', 'app', 'public', 'avatar.png') && entry.type === 'file'));
  assert.deepEqual((facts.details as { followedLinks: unknown }).followedLinks, [
    { path: join(release, 'storage'), target: join(shared, 'storage') },
    { path: join(release, '.env'), target: join(shared, '.env') },
  ]);

  symlinkSync('../../shared/gone', join(release, 'cache'));
  const dangling = harness(base, { paths: [join(release, 'cache')] });
  await assert.rejects(filesSource.preflight(dangling.context), (error: unknown) => {
    assert.ok(error instanceof RestorableError);
    assert.equal(error.code, 'SOURCE_PATH_MISSING');
    assert.match(error.message, /is a symlink to \.\.\/\.\.\/shared\/gone, which does not exist/);
    return true;
  });
});

test('a path longer than PATH_MAX is skipped with a warning (degraded), and the rest is backed up', async (t) => {
  const base = workDir('long-path');
  const root = join(base, 'tree');
  mkdirSync(root);
  writeFileSync(join(root, 'a-normal.txt'), 'normal');
  // 20 levels of 250-character names: the deepest paths are over 5000 bytes,
  // which no absolute-path system call accepts (ENAMETOOLONG).
  // rmSync cannot remove what it cannot name; GNU rm walks with openat.
  t.after(() => spawnSync('rm', ['-rf', root]));
  // Made from inside (relative mkdir + chdir), in a child: a shell's `cd` gives up at PATH_MAX.
  const script = `const fs = require('node:fs'); process.chdir(${JSON.stringify(root)}); for (let i = 0; i < 20; i++) { fs.mkdirSync('d'.repeat(250)); process.chdir('d'.repeat(250)); } fs.writeFileSync('deep.txt', 'deep');`;
  const made = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(made.status, 0, `making the deep tree failed: ${made.stderr}`);
  writeFileSync(join(root, 'z-after.txt'), 'after');

  const h = harness(base, { paths: [root] });
  const facts = await backUp(h);
  const unreadable = warningsWith(facts, 'FILE_UNREADABLE');
  assert.equal(unreadable.length, 1, JSON.stringify(facts.warnings.map((warning) => warning.message.slice(0, 80))));
  assert.match(unreadable[0]!.message, /ENAMETOOLONG: its path is longer than the system allows/);
  assert.equal(facts.degraded, true);
  const listing = gnuTar(['-tf', h.archivePath]);
  assert.equal(listing.status, 0, listing.stderr);
  assert.ok(listing.stdout.includes(`${join(root, 'z-after.txt').slice(1)}\n`), 'entries after the long path are archived');
});

// ---------------------------------------------------------------------------
// 4: special files

test('a FIFO, a unix socket and a device node are skipped with a warning, without hanging', async () => {
  const base = workDir('special');
  const root = join(base, 'tree');
  mkdirSync(root);
  writeFileSync(join(root, 'a-regular.txt'), 'regular');
  assert.equal(spawnSync('mkfifo', [join(root, 'b-fifo')]).status, 0, 'mkfifo failed');
  const server: Server = createServer();
  server.listen(join(root, 'c-socket'));
  await once(server, 'listening');
  const canMknod = process.getuid?.() === 0 && spawnSync('mknod', [join(root, 'd-null-device'), 'c', '1', '3']).status === 0;
  writeFileSync(join(root, 'z-after.txt'), 'after');
  try {
    const h = harness(base, { paths: [root] });
    const facts = await Promise.race([
      backUp(h),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the backup hung on a special file')), 15_000).unref()),
    ]);
    const skipped = warningsWith(facts, 'FILE_SPECIAL_SKIPPED').map((warning) => warning.path); // in walk order
    const expected = [join(root, 'b-fifo'), join(root, 'c-socket'), ...(canMknod ? [join(root, 'd-null-device')] : [])];
    assert.deepEqual(skipped, expected);
    assert.match(warningsWith(facts, 'FILE_SPECIAL_SKIPPED')[0]!.message, /FIFO/);
    assert.equal(facts.degraded, false);
    const listing = gnuTar(['-tf', h.archivePath]);
    assert.equal(listing.status, 0, listing.stderr);
    const names = listing.stdout.trimEnd().split('\n');
    assert.deepEqual(names, [`${root.slice(1)}/`, `${root.slice(1)}/a-regular.txt`, `${root.slice(1)}/z-after.txt`]);
  } finally {
    server.close();
  }
});

// ---------------------------------------------------------------------------
// 5: the tree changes while it is read

test('files that vanish, shrink or grow during the backup are reported and the archive stays valid', async () => {
  const base = workDir('race');
  const root = join(base, 'tree');
  mkdirSync(join(root, 'd-doomed-dir'), { recursive: true });
  const bigContent = randomBytes(32 * MiB);
  const growingContent = randomBytes(16 * MiB);
  writeFileSync(join(root, 'a-shrinks.bin'), bigContent);
  // The driver opens (and reads small files) up to LOOKAHEAD_ENTRIES entries
  // ahead; a file opened before it is deleted is rightly archived. These
  // fillers keep the doomed entries out of that window while a-shrinks.bin
  // is read, so they are deleted before the driver gets to them.
  const fillers = Array.from({ length: LOOKAHEAD_ENTRIES + 4 }, (_, i) => `b-filler-${String(i).padStart(3, '0')}`);
  for (const filler of fillers) writeFileSync(join(root, filler), filler);
  writeFileSync(join(root, 'c-doomed.txt'), 'will be deleted');
  writeFileSync(join(root, 'd-doomed-dir', 'inner.txt'), 'will be deleted with its dir');
  writeFileSync(join(root, 'e-grows.bin'), growingContent);
  writeFileSync(join(root, 'z-after.txt'), 'intact after the damage');

  const h = harness(base, { paths: [root] });
  const produced = await filesSource.produce(h.context);
  const output = createWriteStream(h.archivePath);
  let bytesSeen = 0;
  let damaged = false;
  let grown = false;
  // The driver writes lazily, about one read chunk ahead of its consumer, so
  // the consumer's position tells which file is being read.
  for await (const chunk of produced.stream as AsyncIterable<Buffer>) {
    bytesSeen += chunk.length;
    if (!damaged && bytesSeen > 2 * MiB) {
      // a-shrinks.bin (32 MiB) is being read; c and d were listed, not opened.
      truncateSync(join(root, 'a-shrinks.bin'), 8 * MiB);
      unlinkSync(join(root, 'c-doomed.txt'));
      rmSync(join(root, 'd-doomed-dir'), { recursive: true });
      damaged = true;
    }
    if (!grown && bytesSeen > 36 * MiB) {
      // e-grows.bin (16 MiB, starting at about 32 MiB) is being read.
      appendFileSync(join(root, 'e-grows.bin'), randomBytes(MiB));
      grown = true;
    }
    if (!output.write(chunk)) await once(output, 'drain');
  }
  output.end();
  await finished(output);
  const facts = await produced.completed;
  assert.ok(damaged && grown);

  const changed = warningsWith(facts, 'FILE_CHANGED');
  assert.deepEqual(changed.map((warning) => warning.path), [join(root, 'a-shrinks.bin'), join(root, 'e-grows.bin')]);
  assert.match(changed[0]!.message, /shrank from 33554432 to 8388608 bytes/);
  assert.match(changed[1]!.message, /grew from 16777216 to 17825792 bytes/);
  assert.deepEqual(
    warningsWith(facts, 'FILE_VANISHED').map((warning) => warning.path).sort(),
    [join(root, 'c-doomed.txt'), join(root, 'd-doomed-dir')],
  );
  assert.equal(facts.degraded, true, 'files that changed while read make a degraded backup (GNU tar exits 1 too)');
  assert.deepEqual(
    (facts.details as { changedPaths: string[] }).changedPaths,
    [join(root, 'a-shrinks.bin'), join(root, 'e-grows.bin')],
    'the set names the paths whose copies may be torn',
  );

  const listing = gnuTar(['-tf', h.archivePath]);
  assert.equal(listing.status, 0, listing.stderr);
  assert.equal(listing.stderr, '');
  const restored = join(base, 'restored');
  extractWithGnuTar(h.archivePath, restored);
  const restoredRoot = join(restored, root);
  const shrunk = readFileSync(join(restoredRoot, 'a-shrinks.bin'));
  assert.equal(shrunk.length, 32 * MiB, 'the header promised 32 MiB; the body keeps that promise');
  assert.ok(shrunk.subarray(0, 8 * MiB).equals(bigContent.subarray(0, 8 * MiB)), 'the bytes that were there are archived');
  assert.ok(shrunk.subarray(8 * MiB).equals(Buffer.alloc(24 * MiB)), 'the missing rest is zeros');
  assert.ok(readFileSync(join(restoredRoot, 'e-grows.bin')).equals(growingContent), 'a growing file is archived at its size when opened');
  assert.equal(readFileSync(join(restoredRoot, 'z-after.txt'), 'utf8'), 'intact after the damage');
  assert.deepEqual(readdirSync(restoredRoot).sort(), ['a-shrinks.bin', ...fillers, 'e-grows.bin', 'z-after.txt']);

  const index = new Map(readIndex(facts).map((entry) => [entry.path, entry]));
  assert.equal(index.get(join(root, 'a-shrinks.bin'))?.sha256, sha256(shrunk), 'the index hashes what was archived');
  assert.equal(index.has(join(root, 'c-doomed.txt')), false);
});

// ---------------------------------------------------------------------------
// 6: unreadable files, as an unprivileged user

interface ChildOutcome {
  facts?: SourceFacts;
  error?: { code: string; message: string; details: string[] };
}

/** Runs the driver as `nobody` (root reads everything, research V11) and returns what `completed` gave. */
function backUpAsNobody(base: string, config: FilesSourceConfig, archivePath: string): ChildOutcome {
  const script = join(base, 'run-as-nobody.mjs');
  writeFileSync(
    script,
    `
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
const { filesSource } = await import(process.env.DRIVER_URL);
const context = {
  job: 'test', sourceName: 'files', config: JSON.parse(process.env.FILES_CONFIG),
  repositoryPath: process.env.REPOSITORY, scratchDir: process.env.SCRATCH,
  log: { info() {}, warn() {} }, signal: new AbortController().signal,
};
const produced = await filesSource.produce(context);
await pipeline(produced.stream, createWriteStream(process.env.ARCHIVE));
try {
  console.log(JSON.stringify({ facts: await produced.completed }));
} catch (error) {
  console.log(JSON.stringify({ error: { code: error.code, message: error.message, details: error.details } }));
}
`,
  );
  const scratch = join(base, `scratch-${Math.random().toString(36).slice(2)}`);
  mkdirSync(scratch);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(scratch, 65534, 65534);
  const command = asRoot
    ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath]
    : [process.execPath];
  const result = spawnSync(command[0]!, [...command.slice(1), '--import', 'tsx', script], {
    cwd: projectRoot,
    encoding: 'utf8',
    env: {
      ...process.env,
      DRIVER_URL: new URL('../../src/sources/files.ts', import.meta.url).href,
      FILES_CONFIG: JSON.stringify(config),
      REPOSITORY: join(base, 'repository'),
      SCRATCH: scratch,
      ARCHIVE: archivePath,
    },
  });
  assert.equal(result.status, 0, `the unprivileged run failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as ChildOutcome;
}

test('unreadable files and directories: listed, degraded; with fail_on_unreadable the source fails naming them', async (t) => {
  if (process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status !== 0) {
    t.skip('running as root without setpriv: cannot drop privileges to make a file unreadable');
    return;
  }
  const base = workDir('unreadable');
  chmodSync(base, 0o755);
  mkdirSync(join(base, 'repository'));
  const root = join(base, 'tree');
  mkdirSync(join(root, 'locked-dir'), { recursive: true });
  writeFileSync(join(root, 'a-readable.txt'), 'readable');
  writeFileSync(join(root, 'secret.txt'), 'not for nobody');
  writeFileSync(join(root, 'locked-dir', 'inside.txt'), 'hidden');
  writeFileSync(join(root, 'z-readable.txt'), 'readable too');
  chmodSync(join(root, 'secret.txt'), 0o000);
  chmodSync(join(root, 'locked-dir'), 0o700);
  chmodSync(root, 0o755);
  if (process.getuid?.() !== 0) {
    // Without root the files belong to us: mode 0 on a dir still blocks us.
    chmodSync(join(root, 'locked-dir'), 0o000);
  }
  const outputDir = join(base, 'out');
  mkdirSync(outputDir);
  if (process.getuid?.() === 0) chownSync(outputDir, 65534, 65534);
  const config: FilesSourceConfig = { type: 'files', paths: [root], exclude: [], fail_on_unreadable: false };

  const lenient = backUpAsNobody(base, config, join(outputDir, 'lenient.tar'));
  assert.equal(lenient.error, undefined, JSON.stringify(lenient.error));
  const facts = lenient.facts!;
  assert.equal(facts.degraded, true, 'a backup that left out existing data must be degraded (exit 1)');
  const unreadable = warningsWith(facts, 'FILE_UNREADABLE').sort((a, b) => a.path!.localeCompare(b.path!));
  assert.deepEqual(unreadable.map((warning) => warning.path), [join(root, 'locked-dir'), join(root, 'secret.txt')]);
  assert.match(unreadable[1]!.message, /EACCES/);
  const listing = gnuTar(['-tf', join(outputDir, 'lenient.tar')]);
  assert.equal(listing.status, 0, listing.stderr);
  const names = listing.stdout.trimEnd().split('\n').map((name) => name.slice(root.length - 1));
  assert.deepEqual(names, ['/', '/a-readable.txt', '/locked-dir/', '/z-readable.txt']);

  const strict = backUpAsNobody(base, { ...config, fail_on_unreadable: true }, join(outputDir, 'strict.tar'));
  assert.equal(strict.facts, undefined, 'fail_on_unreadable must reject completed');
  assert.equal(strict.error?.code, 'FILES_UNREADABLE');
  assert.match(strict.error!.message, /secret\.txt/);
  assert.deepEqual([...strict.error!.details].sort(), [join(root, 'locked-dir'), join(root, 'secret.txt')]);
});

// ---------------------------------------------------------------------------
// Stopping: the run's signal, and a consumer that gives up

test('an aborted run stops packing and rejects; a consumer that stops reading does too', async () => {
  const base = workDir('abort');
  const root = join(base, 'tree');
  mkdirSync(root);
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(64 * MiB, 7));

  const controller = new AbortController();
  const h = harness(base, { paths: [root] }, { signal: controller.signal });
  const produced = await filesSource.produce(h.context);
  let bytesSeen = 0;
  const draining = (async () => {
    for await (const chunk of produced.stream as AsyncIterable<Buffer>) {
      bytesSeen += chunk.length;
      if (bytesSeen > 4 * MiB) controller.abort(new Error('operator pressed ctrl-c'));
    }
  })();
  await assert.rejects(draining);
  await assert.rejects(produced.completed, { code: 'ABORTED' });
  assert.ok(bytesSeen < 32 * MiB, `packing went on after the abort (${bytesSeen} bytes)`);

  const quitter = harness(workDir('quit'), { paths: [root] });
  const second = await filesSource.produce(quitter.context);
  for await (const _chunk of second.stream as AsyncIterable<Buffer>) break; // destroys the stream
  await assert.rejects(second.completed, { code: 'ARCHIVE_INTERRUPTED' });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
