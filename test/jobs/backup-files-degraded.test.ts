// A files backup that could not copy everything faithfully is never "OK":
// the run exits 1 (WARNING), the set is marked degraded with the paths it
// lacks, and `list`, `check` and the weekly report say which. Here the
// degrading path is one longer than PATH_MAX (ENAMETOOLONG), which anyone who
// may create directories under an uploads dir can make: it must be skipped
// and named, not fail every backup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli.ts';
import { makeSampleApp } from '../support/sample-app.ts';

test('a path longer than PATH_MAX degrades the set: exit 1, named by list, check and report', async (t) => {
  // GNU rm walks with openat; Node's rmSync cannot name the deepest paths.
  const base = mkdtempSync(join(tmpdir(), 'restorable-test-'));
  t.after(() => spawnSync('rm', ['-rf', base]));
  const app = makeSampleApp(base);
  const deepRoot = join(app.uploadsDir, 'public', 'deep');
  const script = `const fs = require('node:fs'); fs.mkdirSync(${JSON.stringify(deepRoot)}); process.chdir(${JSON.stringify(deepRoot)}); for (let i = 0; i < 20; i++) { fs.mkdirSync('x'.repeat(250)); process.chdir('x'.repeat(250)); } fs.writeFileSync('secret-report.pdf', 'pdf');`;
  const made = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);

  const backup = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(backup.code, 1, `a degraded backup exits 1 (WARNING)\n${backup.stdout}${backup.stderr}`);
  assert.match(backup.stdout + backup.stderr, /ENAMETOOLONG/);
  const [manifestName] = readdirSync(join(app.repository, 'manifests'));
  const manifest = JSON.parse(readFileSync(join(app.repository, 'manifests', manifestName!), 'utf8')) as { status: string; setId: string };
  assert.equal(manifest.status, 'warning');

  const list = await runCli(['-c', app.configPath, 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${manifest.setId}.*DEGRADED \\(1 path not readable: files: ${deepRoot}/x{250}/`));
  const listJson = JSON.parse((await runCli(['-c', app.configPath, 'list', '--json'])).stdout) as { sets: Array<{ degraded?: { paths: string[] } }> };
  assert.equal(listJson.sets[0]!.degraded?.paths.length, 1);

  const check = await runCli(['-c', app.configPath, 'check']);
  assert.equal(check.code, 1, check.stdout + check.stderr);
  assert.match(check.stdout, /degraded: 1 path not readable: files: /);

  const report = await runCli(['-c', app.configPath, 'report']);
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, new RegExp(`degraded set ${manifest.setId}: 1 path not readable`));
});
