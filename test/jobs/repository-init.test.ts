// A repository is initialised, not guessed: `restorable init` creates the one
// the config names (0700 + marker) and changes nothing the second time; a
// backup refuses a path that does not exist or has no marker, naming `init`
// (and creates nothing), adopts a repository of an earlier version, and
// reports a read-only repository as such; list/check/verify on a missing
// repository exit 2 with the same message. Runs the CLI in-process (main()).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import { markerPath } from '../../src/storage/repository-marker.ts';
import { tempDir } from '../support/temp.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk, _encoding, done) {
        append(String(chunk));
        done();
      },
    });
  const code = await main(args, { out: sink((text) => (stdout += text)), err: sink((text) => (stderr += text)) });
  return { code, stdout, stderr };
}

/** A files-only config whose repository (`repository`, default <base>/backups) is NOT created. */
function writeConfig(base: string, repository = join(base, 'backups')): string {
  const data = join(base, 'data');
  mkdirSync(data, { recursive: true });
  writeFileSync(join(data, 'hello.txt'), 'hello\n');
  const configPath = join(base, 'restorable.yml');
  writeFileSync(configPath, `app: shop\nrepository: ${JSON.stringify(repository)}\nsources:\n  files: { type: files, paths: [${JSON.stringify(data)}] }\nmonitor: { min_free: 1MB }\n`);
  return configPath;
}

/** Every path under `dir` with its mode and mtime: what "changes nothing" compares. */
function snapshot(dir: string): string[] {
  return [dir, ...readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((name) => join(dir, name))]
    .sort()
    .map((path) => {
      const info = statSync(path);
      return `${path} ${(info.mode & 0o777).toString(8)} ${info.mtimeMs} ${info.isFile() ? readFileSync(path, 'utf8') : ''}`;
    });
}

test('init creates the repository 0700 with its marker; init again changes nothing and says so', async (t) => {
  const base = tempDir(t);
  const configPath = writeConfig(base);
  const repository = join(base, 'backups');
  const first = await cli(['-c', configPath, 'init']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /initialised the repository .*backups for shop/);
  for (const dir of ['', '.restorable', 'manifests', 'logs', 'files']) assert.equal(statSync(join(repository, dir)).mode & 0o777, 0o700, `${dir || 'root'} is 0700`);
  const marker = JSON.parse(readFileSync(markerPath(repository), 'utf8'));
  assert.equal(marker.app, 'shop');
  assert.equal(statSync(markerPath(repository)).mode & 0o777, 0o600);

  const before = snapshot(repository);
  const second = await cli(['-c', configPath, 'init']);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /initialised already .*nothing changed/);
  assert.deepEqual(snapshot(repository), before);

  const backup = await cli(['-c', configPath, 'backup']);
  assert.equal(backup.code, 0, backup.stderr);
});

test('a moved repository keeps working: the marker does not record its path', async (t) => {
  const base = tempDir(t);
  const configPath = writeConfig(base);
  assert.equal((await cli(['-c', configPath, 'init'])).code, 0);
  assert.equal((await cli(['-c', configPath, 'backup'])).code, 0);
  renameSync(join(base, 'backups'), join(base, 'moved'));
  writeConfig(base, join(base, 'moved'));
  const backup = await cli(['-c', configPath, 'backup']);
  assert.equal(backup.code, 0, backup.stderr);
  const list = await cli(['-c', configPath, '--json', 'list']);
  assert.equal(JSON.parse(list.stdout).sets.length, 2);
});

test('backup into a missing path refuses naming init and creates nothing; list, check and verify say the same', async (t) => {
  const base = tempDir(t);
  const configPath = writeConfig(base);
  const repository = join(base, 'backups');
  const backup = await cli(['-c', configPath, 'backup']);
  assert.equal(backup.code, 2);
  assert.match(backup.stderr, /the repository .*backups does not exist/);
  assert.match(backup.stderr, /restorable init/);
  assert.doesNotMatch(backup.stderr, /unexpected|bug/);
  assert.equal(existsSync(repository), false, 'nothing created');

  for (const command of ['list', 'verify']) {
    const result = await cli(['-c', configPath, command]);
    assert.equal(result.code, 2, command);
    assert.match(result.stderr, /does not exist[\s\S]*restorable init/, command);
  }
  const check = await cli(['-c', configPath, 'check']);
  assert.equal(check.code, 2);
  assert.match(check.stdout, /^RESTORABLE CRITICAL - .*backups does not exist/);
  assert.match(check.stdout, /restorable init/);
  assert.equal(existsSync(repository), false, 'still nothing created');
});

test('a directory without a marker is refused, and check sees that refused run', async (t) => {
  const base = tempDir(t);
  const configPath = writeConfig(base);
  mkdirSync(join(base, 'backups'));
  const backup = await cli(['-c', configPath, 'backup']);
  assert.equal(backup.code, 2);
  assert.match(backup.stderr, /is not initialised[\s\S]*restorable init/);
  assert.equal(existsSync(join(base, 'backups/manifests')), false, 'no layout made in a directory that is not ours');
  const check = await cli(['-c', configPath, 'check']);
  assert.equal(check.code, 2);
  assert.match(check.stdout, /the last backup run .* failed: the repository .* is not initialised/);
});

test('a repository made by an earlier version (layout and sets, no marker) gets its marker from backup, with a note', async (t) => {
  const base = tempDir(t);
  const configPath = writeConfig(base);
  assert.equal((await cli(['-c', configPath, 'init'])).code, 0);
  assert.equal((await cli(['-c', configPath, 'backup'])).code, 0);
  rmSync(markerPath(join(base, 'backups')));
  const backup = await cli(['-c', configPath, 'backup']);
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stdout + backup.stderr, /made by an earlier restorable version: wrote its marker/);
  const marker = JSON.parse(readFileSync(markerPath(join(base, 'backups')), 'utf8'));
  assert.equal(marker.app, 'shop');
  assert.equal(marker.adopted, true);
});

test('a repository of another app is refused', async (t) => {
  const base = tempDir(t);
  const configPath = writeConfig(base);
  assert.equal((await cli(['-c', configPath, 'init'])).code, 0);
  writeFileSync(configPath, readFileSync(configPath, 'utf8').replace('app: shop', 'app: blog'));
  const backup = await cli(['-c', configPath, 'backup']);
  assert.equal(backup.code, 2);
  assert.match(backup.stderr, /belongs to app "shop", not "blog"/);
});

test('a read-only repository is reported as such, by backup and by check', { skip: process.getuid?.() !== 0 && 'mounting needs root' }, async (t) => {
  // A read-only bind mount of the repository: EROFS, as a disk remounted read-only after I/O errors.
  // Its hook is registered first so that it runs first: unmounted before the repository is removed.
  const readOnly = mkdtempSync(join(tmpdir(), 'restorable-read-only-'));
  let mounted = false;
  t.after(() => {
    if (mounted) execFileSync('umount', ['-l', readOnly]);
    rmSync(readOnly, { recursive: true, force: true });
  });
  const base = tempDir(t);
  const configPath = writeConfig(base);
  assert.equal((await cli(['-c', configPath, 'init'])).code, 0);
  assert.equal((await cli(['-c', configPath, 'backup'])).code, 0);
  execFileSync('mount', ['--bind', join(base, 'backups'), readOnly]);
  mounted = true;
  execFileSync('mount', ['-o', 'remount,bind,ro', readOnly]);
  writeConfig(base, readOnly);
  const backup = await cli(['-c', configPath, 'backup']);
  assert.equal(backup.code, 2);
  assert.match(backup.stderr, /is on a read-only filesystem/);
  assert.doesNotMatch(backup.stderr, /unexpected|EACCES|bug/);
  const check = await cli(['-c', configPath, 'check']);
  assert.equal(check.code, 2, check.stdout);
  assert.match(check.stdout, /read-only filesystem: the next backup will fail/);
});

test('init --laravel DIR -o FILE writes FILE with retention.within 48h and creates its repository', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, '.env'), `APP_NAME=Shop\nDB_CONNECTION=sqlite\nDB_DATABASE=${dir}/database.sqlite\n`);
  const target = join(dir, 'restorable.yml');
  const init = await cli(['init', '--laravel', dir, '-o', target, '--repository', join(dir, 'backups')]);
  assert.equal(init.code, 0, init.stderr);
  assert.match(readFileSync(target, 'utf8'), /within: 48h/);
  assert.equal(JSON.parse(readFileSync(markerPath(join(dir, 'backups')), 'utf8')).app, 'shop');
  assert.equal(statSync(join(dir, 'backups')).mode & 0o777, 0o700);
});
