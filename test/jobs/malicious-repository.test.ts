// A repository written by someone else (a leaked offsite key, a shared backup
// disk, a compromised application account) attacks the root process that
// reads it (issue 11 §1, §3, §4). Every test builds a real repository with
// real backups, plants the attack, runs the real CLI (or job) as the tests'
// user (root in CI), and then compares a canary tree BESIDE the repository
// with its snapshot from before: nothing outside the repository may be
// written, chmodded or deleted, whatever the repository says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createGzip } from 'node:zlib';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { makeSampleApp, type SampleApp } from '../support/sample-app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { silentReporter } from '../../src/core/ports.ts';
import type { Manifest } from '../../src/core/manifest.ts';

interface Scene {
  app: SampleApp;
  /** A directory beside the repository that nothing may touch. */
  outside: string;
  /** The canary files in it. */
  victim: string;
  secret: string;
  before: Map<string, string>;
}

const SECRET = 'root:$6$planted-hash-that-must-never-be-printed:19000:0:99999:7:::\n';

/** Type, mode, size, mtime and content hash (or link target) of everything under `dir`. */
function snapshot(dir: string): Map<string, string> {
  const entries = new Map<string, string>();
  const walk = (path: string): void => {
    const info = lstatSync(path);
    const kind = info.isSymbolicLink() ? 'link' : info.isDirectory() ? 'dir' : 'file';
    const content = kind === 'file' ? createHash('sha256').update(readFileSync(path)).digest('hex') : kind === 'link' ? readlinkSync(path) : '';
    entries.set(relative(dir, path) || '.', `${kind} ${(info.mode & 0o7777).toString(8)} ${kind === 'dir' ? '' : info.size} ${info.mtimeMs} ${content}`);
    if (kind === 'dir') for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return entries;
}

function assertOutsideUntouched(scene: Scene): void {
  assert.deepEqual(snapshot(scene.outside), scene.before, 'nothing outside the repository was written, chmodded or deleted');
}

/** A sample app whose repository already holds sets (config only: fast), and a canary tree beside it. */
async function scene(t: { after(fn: () => void): void }, setTimes: string[] = ['2026-03-01T03:00:00Z', '2026-03-02T03:00:00Z'], retention = '{ last: 1 }'): Promise<Scene> {
  const root = tempDir(t);
  const app = makeSampleApp(root, { retention: '{ last: 100 }' });
  for (const at of setTimes) {
    const outcome = await runBackup({ loaded: loadConfig(app.configPath), clock: { now: () => new Date(at) }, reporter: silentReporter, only: ['config'] });
    assert.equal(outcome.status, 'ok', outcome.error?.message);
  }
  // The policy under test applies from now on (so that prune wants to remove the oldest set).
  writeFileSync(app.configPath, readFileSync(app.configPath, 'utf8').replace('retention: { last: 100 }', `retention: ${retention}`));
  const outside = join(root, 'outside');
  mkdirSync(join(outside, 'dir'), { recursive: true });
  chmodSync(join(outside, 'dir'), 0o755);
  const victim = join(outside, 'victim.txt');
  const secret = join(outside, 'shadow');
  writeFileSync(victim, 'an unrelated file\n', { mode: 0o644 });
  writeFileSync(secret, SECRET, { mode: 0o640 });
  writeFileSync(join(outside, 'important.partial'), 'not ours\n', { mode: 0o644 });
  writeFileSync(join(outside, 'dir', 'important.partial'), 'not ours either\n', { mode: 0o644 });
  writeFileSync(join(outside, 'log-target.txt'), 'someone else\'s log\n', { mode: 0o644 });
  chmodSync(outside, 0o755);
  return { app, outside, victim, secret, before: snapshot(outside) };
}

/** A gzip of `mebibytes` MiB of 'a' and no newline, written chunk by chunk (memory flat); its size and sha256. */
async function writeEndlessLineGzip(path: string, mebibytes: number): Promise<{ sizeBytes: number; sha256: string }> {
  const chunk = Buffer.alloc(1024 * 1024, 'a');
  await pipeline(Readable.from((function* () { for (let i = 0; i < mebibytes; i++) yield chunk; })()), createGzip({ level: 9 }), createWriteStream(path));
  const written = readFileSync(path);
  return { sizeBytes: written.length, sha256: createHash('sha256').update(written).digest('hex') };
}

function manifestFile(app: SampleApp, setId: string): string {
  return join(app.repository, 'manifests', `${setId}.json`);
}

function readManifest(app: SampleApp, setId: string): Manifest {
  return JSON.parse(readFileSync(manifestFile(app, setId), 'utf8')) as Manifest;
}

function writeManifest(app: SampleApp, setId: string, manifest: unknown): void {
  writeFileSync(manifestFile(app, setId), JSON.stringify(manifest, null, 2));
}

const OLDEST = '2026-03-01_03-00-00';
const NEWEST = '2026-03-02_03-00-00';

// ---- §1: paths from manifests and journals are untrusted input ------------------

test('an artifact path ../ in the oldest manifest: prune deletes nothing outside, lists the set as damaged, keeps it', async (t) => {
  const s = await scene(t);
  const manifest = readManifest(s.app, OLDEST);
  manifest.artifacts[0]!.path = relative(s.app.repository, s.victim); // ../outside/victim.txt
  writeManifest(s.app, OLDEST, manifest);
  const prune = await runCli(['-c', s.app.configPath, 'prune']);
  assertOutsideUntouched(s);
  assert.equal(prune.code, 1, prune.stdout + prune.stderr);
  assert.match(prune.stdout, new RegExp(`damaged ${OLDEST} .*artifacts\\[0\\]\\.path`));
  assert.ok(existsSync(manifestFile(s.app, OLDEST)), 'a damaged manifest is never removed by retention');
  const list = await runCli(['-c', s.app.configPath, 'list']);
  assert.equal(list.code, 1, list.stdout + list.stderr);
  assert.match(list.stdout, new RegExp(`^${OLDEST}  DAMAGED: .*artifacts\\[0\\]\\.path`, 'm'));
  assert.match(list.stdout, new RegExp(`^${NEWEST} `, 'm'));
});

test('an index path ../ in a manifest: prune deletes nothing outside', async (t) => {
  const s = await scene(t);
  const manifest = readManifest(s.app, OLDEST);
  manifest.artifacts[0]!.index = { path: `config/../../outside/victim.txt`, sizeBytes: 10, sha256: 'a'.repeat(64), entries: 1 };
  writeManifest(s.app, OLDEST, manifest);
  const prune = await runCli(['-c', s.app.configPath, 'prune']);
  assertOutsideUntouched(s);
  assert.equal(prune.code, 1, prune.stdout + prune.stderr);
});

test('a crafted publish or prune journal: backup and prune delete nothing it names outside the layout', async (t) => {
  const s = await scene(t);
  const plant = () => {
    writeFileSync(join(s.app.repository, '.restorable', 'publish-2026-02-01_00-00-00.json'), JSON.stringify({ setId: '2026-02-01_00-00-00', paths: [relative(s.app.repository, s.victim)] }));
    writeFileSync(join(s.app.repository, '.restorable', 'prune-2026-02-02_00-00-00.json'), JSON.stringify({ setId: '2026-02-02_00-00-00', paths: [s.victim, 'config/../../outside/important.partial'] }));
  };
  plant();
  const backup = await runCli(['-c', s.app.configPath, 'backup', '--only', 'config']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  assert.match(backup.stdout, /publish-2026-02-01_00-00-00\.json \(a damaged journal: none of the paths it names was touched\)/);
  assertOutsideUntouched(s);
  plant();
  const prune = await runCli(['-c', s.app.configPath, 'prune']);
  assert.equal(prune.code, 0, prune.stdout + prune.stderr);
  assertOutsideUntouched(s);
  assert.deepEqual(readdirSync(join(s.app.repository, '.restorable')).filter((name) => name.endsWith('.json') && /^(publish|prune)-/.test(name)), [], 'the damaged journals are gone');
});

test('verify of a manifest pointing at a file outside never prints its size or sha256 and reports the set damaged (exit 2)', async (t) => {
  const s = await scene(t);
  const manifest = readManifest(s.app, NEWEST);
  manifest.artifacts[0]!.path = relative(s.app.repository, s.secret);
  writeManifest(s.app, NEWEST, manifest);
  const verify = await runCli(['-c', s.app.configPath, 'verify', NEWEST]);
  const said = verify.stdout + verify.stderr;
  assert.equal(verify.code, 2, said);
  assert.ok(!said.includes(createHash('sha256').update(SECRET).digest('hex')), 'the sha256 of the outside file is not printed');
  assert.ok(!new RegExp(`\\b${Buffer.byteLength(SECRET)}\\b`).test(said), `its size is not printed: ${said}`);
  assert.match(said, new RegExp(`${NEWEST}.*malformed`));
  assertOutsideUntouched(s);
});

test('a source name ../ in a manifest: drill writes nothing outside and fails (exit 2), leaving no lock or scratch dir', async (t) => {
  const s = await scene(t);
  const manifest = readManifest(s.app, NEWEST);
  const artifact = manifest.artifacts[0]!;
  artifact.source = '../outside/dir';
  writeManifest(s.app, NEWEST, manifest);
  const drill = await runCli(['-c', s.app.configPath, 'drill', NEWEST]);
  assert.equal(drill.code, 2, drill.stdout + drill.stderr);
  assertOutsideUntouched(s);
  assert.ok(!existsSync(join(s.app.repository, '.restorable', 'lock')), 'the lock is released');
  assert.deepEqual(readdirSync(join(s.app.repository, '.restorable')).filter((name) => name.startsWith('drill-')), []);
});

// ---- §1: no symlink inside the repository is followed -------------------------------

test('a layout directory that is a symlink refuses the repository: backup chmods and writes nothing outside', async (t) => {
  for (const layoutDir of ['logs', 'config', 'manifests', '.restorable']) {
    await t.test(layoutDir, async (t) => {
      const s = await scene(t, ['2026-03-01T03:00:00Z']);
      const dir = join(s.app.repository, layoutDir);
      // Keep what was there (a planted link usually replaces a real directory).
      renameSync(dir, `${dir}.moved`);
      symlinkSync(join(s.outside, 'dir'), dir);
      const backup = await runCli(['-c', s.app.configPath, 'backup', '--only', 'config']);
      assert.equal(backup.code, 2, backup.stdout + backup.stderr);
      assert.match(backup.stderr, /is unsafe: .*is a symlink/);
      assertOutsideUntouched(s);
      const prune = await runCli(['-c', s.app.configPath, 'prune']);
      assert.equal(prune.code, 2, prune.stdout + prune.stderr);
      const check = await runCli(['-c', s.app.configPath, 'check']);
      assert.equal(check.code, 2, check.stdout + check.stderr);
      assert.match(check.stdout, /^CRITICAL .*is unsafe/m);
      assertOutsideUntouched(s);
    });
  }
});

test('a planted run log link: backup neither appends to nor chmods its target', async (t) => {
  const s = await scene(t, ['2026-03-01T03:00:00Z']);
  symlinkSync(join(s.outside, 'log-target.txt'), join(s.app.repository, 'logs', 'backup_2026-03-05_03-00-00.jsonl'));
  const outcome = await runBackup({ loaded: loadConfig(s.app.configPath), clock: { now: () => new Date('2026-03-05T03:00:00Z') }, reporter: silentReporter, only: ['config'] });
  assertOutsideUntouched(s);
  assert.equal(outcome.status, 'failed');
  assert.equal(outcome.error?.code, 'REPOSITORY_UNSAFE', outcome.error?.message);
});

test('a planted run-history link: the run record is not appended to its target', async (t) => {
  const s = await scene(t, ['2026-03-01T03:00:00Z']);
  const history = join(s.app.repository, '.restorable', 'runs.jsonl');
  rmSync(history);
  symlinkSync(join(s.outside, 'log-target.txt'), history);
  await runBackup({ loaded: loadConfig(s.app.configPath), clock: { now: () => new Date('2026-03-05T03:00:00Z') }, reporter: silentReporter, only: ['config'] });
  assertOutsideUntouched(s);
});

test('a manifest that is a symlink to a file outside is a damaged set, never read through', async (t) => {
  const s = await scene(t);
  rmSync(manifestFile(s.app, OLDEST));
  symlinkSync(s.secret, manifestFile(s.app, OLDEST));
  const list = await runCli(['-c', s.app.configPath, 'list']);
  assert.equal(list.code, 1, list.stdout + list.stderr);
  assert.match(list.stdout, new RegExp(`^${OLDEST}  DAMAGED: .*symlink`, 'm'));
  const verify = await runCli(['-c', s.app.configPath, 'verify', '--all']);
  assert.equal(verify.code, 2);
  assert.ok(!(verify.stdout + verify.stderr + list.stdout).includes('root:$6$'), 'not a byte of the outside file is printed');
  const remove = await runCli(['-c', s.app.configPath, 'prune', '--remove-damaged', OLDEST]);
  assert.equal(remove.code, 0, remove.stdout + remove.stderr);
  assert.ok(!existsSync(manifestFile(s.app, OLDEST)) && lstatSync(manifestFile(s.app, OLDEST), { throwIfNoEntry: false }) === undefined, 'the link is removed');
  assertOutsideUntouched(s);
});

// ---- §3: manifests of the wrong shape ------------------------------------------------

/** A number from a manifest shown as a size or a duration that is none: "NaN B", "Infinity TB", "undefined undefined B", "-5 B". */
const BAD_NUMBER = /(NaN|Infinity|undefined) ([KMGT]?B|s)\b|-\d+(\.\d+)? ([KMGT]?B|s)\b/;

const WRONG_SHAPES: Array<[string, (manifest: Record<string, unknown>) => void]> = [
  ['artifacts:[null]', (manifest) => (manifest.artifacts = [null])],
  ['path:12345', (manifest) => ((manifest.artifacts as Array<Record<string, unknown>>)[0]!.path = 12345)],
  ['a bad setId', (manifest) => (manifest.setId = '../../x')],
  ['a setId unlike its file name', (manifest) => (manifest.setId = OLDEST)],
  ['sizeBytes Infinity', (manifest) => ((manifest.artifacts as Array<Record<string, unknown>>)[0]!.sizeBytes = 1e999)],
  ['sizeBytes -5', (manifest) => ((manifest.artifacts as Array<Record<string, unknown>>)[0]!.sizeBytes = -5)],
  ['sizeBytes missing', (manifest) => delete (manifest.artifacts as Array<Record<string, unknown>>)[0]!.sizeBytes],
  ['durationMs "NaN"', (manifest) => (manifest.durationMs = 'NaN')],
];

test('a valid-JSON manifest of the wrong shape as the NEWEST set: listed as damaged, never counted as newest, backup/list/prune/check/metrics work', async (t) => {
  for (const [name, spoil] of WRONG_SHAPES) {
    await t.test(name, async (t) => {
      const s = await scene(t, ['2026-03-01T03:00:00Z', '2026-03-02T03:00:00Z', '2026-03-03T03:00:00Z']);
      const damagedId = '2026-03-03_03-00-00';
      // JSON.stringify writes Infinity as null: write the text by hand for it.
      const manifest = readManifest(s.app, damagedId) as unknown as Record<string, unknown>;
      spoil(manifest);
      writeFileSync(manifestFile(s.app, damagedId), JSON.stringify(manifest, null, 2).replace(/"sizeBytes": null/, '"sizeBytes": 1e999'));

      const list = await runCli(['-c', s.app.configPath, 'list']);
      assert.equal(list.code, 1, list.stdout + list.stderr);
      assert.match(list.stdout, new RegExp(`^${damagedId}  DAMAGED: `, 'm'));
      assert.doesNotMatch(list.stdout + list.stderr, BAD_NUMBER);

      const dryRun = await runCli(['-c', s.app.configPath, 'prune', '--dry-run']);
      assert.equal(dryRun.code, 1, dryRun.stdout + dryRun.stderr);
      assert.doesNotMatch(dryRun.stdout, BAD_NUMBER);
      // last: 1 keeps the newest SOUND set; the damaged one is no "newest set".
      assert.match(dryRun.stdout, new RegExp(`^keep    ${NEWEST} `, 'm'));

      const metrics = await runCli(['-c', s.app.configPath, 'metrics']);
      assert.doesNotMatch(metrics.stdout, /NaN|Inf|undefined/, metrics.stdout);
      assert.match(metrics.stdout, /^restorable_sets\{job="sample"\} 2$/m);

      const check = await runCli(['-c', s.app.configPath, 'check']);
      assert.match(check.stdout, /manifest\(s\) cannot be read/, check.stdout + check.stderr);
      assert.doesNotMatch(check.stdout, /unexpected failure/);

      const backup = await runCli(['-c', s.app.configPath, 'backup', '--only', 'config']);
      assert.equal(backup.code, 0, backup.stdout + backup.stderr);
      assert.ok(existsSync(manifestFile(s.app, damagedId)), 'retention never removes a damaged manifest');

      const remove = await runCli(['-c', s.app.configPath, 'prune', '--remove-damaged', damagedId]);
      assert.equal(remove.code, 0, remove.stdout + remove.stderr);
      assert.ok(!existsSync(manifestFile(s.app, damagedId)), 'removed when asked by name');
      assert.ok(existsSync(join(s.app.repository, 'config', `config_backup_${damagedId}.tar.gz`)), 'only the manifest file: never a path it names');
      assertOutsideUntouched(s);
    });
  }
});

test('a damaged newest manifest is never `latest`: verify without a set checks the newest sound set', async (t) => {
  const s = await scene(t, ['2026-03-01T03:00:00Z', '2026-03-02T03:00:00Z', '2026-03-03T03:00:00Z']);
  const damagedId = '2026-03-03_03-00-00';
  writeManifest(s.app, damagedId, { ...readManifest(s.app, damagedId), artifacts: [null] });
  const verify = await runCli(['-c', s.app.configPath, 'verify']);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, new RegExp(`^set ${NEWEST} `, 'm'));
  const all = await runCli(['-c', s.app.configPath, 'verify', '--all']);
  assert.equal(all.code, 2, 'verify --all reports the damaged set');
  assert.match(all.stdout + all.stderr, new RegExp(`${damagedId}.*artifacts\\[0\\]`));
});

test('planted run-history lines (wrong shape, endless line) are skipped: metrics shows no NaN, check still grades the last real run', async (t) => {
  const s = await scene(t, ['2026-03-01T03:00:00Z']);
  const history = join(s.app.repository, '.restorable', 'runs.jsonl');
  const planted = [
    JSON.stringify({ runId: 'x', command: 'backup', status: 'ok', startedAt: 'soon', finishedAt: 'later', durationMs: 'NaN' }),
    JSON.stringify({ runId: 'y', command: 'backup', status: 'bogus', startedAt: '2026-03-01T03:00:00Z', finishedAt: '2026-03-01T03:00:00Z', durationMs: -5 }),
    'z'.repeat(2 * 1024 * 1024),
    '{"runId": 12',
  ];
  writeFileSync(history, readFileSync(history, 'utf8') + planted.join('\n') + '\n');
  const metrics = await runCli(['-c', s.app.configPath, 'metrics']);
  assert.equal(metrics.code, 0, metrics.stderr);
  assert.doesNotMatch(metrics.stdout, /NaN|Inf|undefined/, metrics.stdout);
  assert.match(metrics.stdout, /^restorable_last_run_status\{job="sample"\} 0$/m);
  const check = await runCli(['-c', s.app.configPath, 'check']);
  assert.doesNotMatch(check.stdout + check.stderr, /unexpected failure|NaN/);
  assertOutsideUntouched(s);
});

// ---- §3: bounded reads ------------------------------------------------------------------

test('an index that inflates to one endless line: verify reports the set damaged (exit 2), drill fails cleanly', async (t) => {
  const s = await scene(t, []);
  const outcome = await runBackup({ loaded: loadConfig(s.app.configPath), clock: { now: () => new Date('2026-03-04T03:00:00Z') }, reporter: silentReporter, only: ['files'] });
  assert.equal(outcome.status, 'ok', outcome.error?.message);
  const setId = outcome.setId!;
  const manifest = readManifest(s.app, setId);
  const artifact = manifest.artifacts[0]!;
  // 600 MiB of one line (above V8's longest string) compress to ~600 KB: quick to make.
  Object.assign(artifact.index!, await writeEndlessLineGzip(join(s.app.repository, artifact.index!.path), 600));
  writeManifest(s.app, setId, manifest);

  const started = performance.now();
  const verify = await runCli(['-c', s.app.configPath, 'verify', setId]);
  const seconds = (performance.now() - started) / 1000;
  assert.equal(verify.code, 2, verify.stdout + verify.stderr);
  assert.match(verify.stdout + verify.stderr, new RegExp(`${setId}.*longer than 1048576 bytes`));
  t.diagnostic(`verify of an index of one 600 MiB line: exit 2 after ${seconds.toFixed(1)} s`);
  assert.ok(seconds < 60, `verify took ${seconds.toFixed(1)} s`);

  const drill = await runCli(['-c', s.app.configPath, 'drill', setId]);
  assert.equal(drill.code, 2, drill.stdout + drill.stderr);
  assert.doesNotMatch(drill.stderr, /Invalid string length|unexpected failure/);
  assert.ok(!existsSync(join(s.app.repository, '.restorable', 'lock')), 'the lock is released');
  assert.deepEqual(readdirSync(join(s.app.repository, '.restorable')).filter((name) => name.startsWith('drill-') || name.startsWith('scratch-')), []);
  assertOutsideUntouched(s);
});

test('verify of the endless-line index keeps memory flat (peak RSS under 300 MB)', async (t) => {
  const s = await scene(t, []);
  const outcome = await runBackup({ loaded: loadConfig(s.app.configPath), clock: { now: () => new Date('2026-03-04T03:00:00Z') }, reporter: silentReporter, only: ['files'] });
  const manifest = readManifest(s.app, outcome.setId!);
  const artifact = manifest.artifacts[0]!;
  Object.assign(artifact.index!, await writeEndlessLineGzip(join(s.app.repository, artifact.index!.path), 400));
  writeManifest(s.app, outcome.setId!, manifest);
  let output: string;
  try {
    output = execFileSync('/usr/bin/time', ['-f', 'peak-kb %M', process.execPath, join(import.meta.dirname, '../../bin/restorable'), '-c', s.app.configPath, 'verify'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  } catch (error) {
    output = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
  }
  const peakKb = Number(/peak-kb (\d+)/.exec(output)?.[1]);
  assert.ok(peakKb > 0, output);
  t.diagnostic(`verify peak RSS ${Math.round(peakKb / 1024)} MB for an index of one 400 MiB line`);
  assert.ok(peakKb < 300 * 1024, `peak RSS ${Math.round(peakKb / 1024)} MB`);
});

// ---- §4: each warning once ---------------------------------------------------------------

test('each source warning is printed once (a FIFO in a files source)', async (t) => {
  const root = tempDir(t);
  const app = makeSampleApp(root);
  const fifo = join(app.uploadsDir, 'public', 'queue.fifo');
  execFileSync('mkfifo', [fifo]);
  const backup = await runCli(['-c', app.configPath, 'backup', '--only', 'files']);
  assert.notEqual(backup.code, 2, backup.stdout + backup.stderr);
  const printed = (backup.stdout + backup.stderr).split('\n').filter((line) => line.includes(`${fifo} is a FIFO`));
  assert.equal(printed.length, 1, backup.stdout + backup.stderr);
  assert.match(backup.stdout, /, 1 warning\(s\)$/m);
});
