// `restorable doctor` on the repository's faults, through the real CLI: a
// repository on a read-only mount (root can write through mode bits, not
// through a read-only mount), one missing, one never initialised and too open;
// a config that cannot be loaded; Ctrl-C mid-run (130); the text form; and the
// growth trend's arithmetic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runCli, startCli } from '../support/cli.ts';
import { tempDir } from '../support/temp.ts';
import { waitForOutput } from '../support/wait-for-output.ts';
import { freeLoopbackPort } from '../support/loopback-port.ts';
import { mountSmallTmpfs } from '../support/small-tmpfs.ts';
import { doctor, finding, init, noStack, writeConfig } from '../support/doctor-run.ts';
import { trendFinding } from '../../src/checks/doctor-space.ts';
import type { Manifest } from '../../src/core/manifest.ts';

test('a repository on a read-only mount: not writable, with the remount as remedy; the round trip is not tried', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a read-only filesystem needs root');
  const base = tempDir(t);
  let mount: string;
  try {
    mount = mountSmallTmpfs(t, '8m', 'restorable-doctor-ro-');
  } catch {
    return t.skip('cannot mount a tmpfs here');
  }
  const setup = writeConfig(base, { repository: join(mount, 'backups') });
  await init(setup.config);
  execFileSync('mount', ['-o', 'remount,ro', mount]);
  const { code, report } = await doctor(setup.config);
  assert.equal(code, 2);
  const writable = finding(report, 'repository writable');
  assert.equal(writable.status, 'critical');
  assert.match(writable.found, /read-only filesystem/);
  assert.match(writable.remedy!, /remount/);
  assert.equal(report.findings.find((entry) => entry.name.startsWith('destination round trip'))?.status, 'skipped');
  assert.equal(finding(report, 'repository initialised').status, 'ok', 'a read-only repository is still recognised');
});

test('a repository that is missing, or there but never initialised: critical, naming `restorable init`', async (t) => {
  const base = tempDir(t);
  const setup = writeConfig(base);
  const missing = await doctor(setup.config);
  assert.equal(missing.code, 2);
  assert.equal(finding(missing.report, 'repository present').status, 'critical');
  assert.match(finding(missing.report, 'repository present').remedy!, /restorable init/);

  mkdirSync(setup.repository, { mode: 0o755 });
  const uninitialised = await doctor(setup.config);
  assert.equal(uninitialised.code, 2);
  assert.equal(finding(uninitialised.report, 'repository initialised').status, 'critical');
  assert.match(finding(uninitialised.report, 'repository initialised').remedy!, /restorable init/);
  const mode = finding(uninitialised.report, 'repository owner and mode');
  assert.equal(mode.status, 'warning');
  assert.match(mode.remedy!, /chmod 0700/);

  const text = await runCli(['-c', setup.config, 'doctor']);
  assert.equal(text.code, 2, text.stdout + text.stderr);
  assert.match(text.stdout, /^CRITICAL repository initialised: .*\n  next: .*restorable init/m);
  assert.match(text.stdout, /^restorable doctor: CRITICAL - \d+ critical, \d+ warning, \d+ ok, \d+ skipped \(job shop, repository /m);
});

test('a config that cannot be loaded is itself the critical finding; Ctrl-C stops the doctor with 130', async (t) => {
  const base = tempDir(t);
  const broken = join(base, 'broken.yml');
  writeFileSync(broken, 'app: shop\nsources: 3\n');
  const result = await runCli(['-c', broken, 'doctor']);
  assert.equal(result.code, 2);
  assert.match(result.stdout, /^CRITICAL config: /m);
  assert.doesNotMatch(result.stderr + result.stdout, noStack);

  // A database that accepts connections but never answers keeps the doctor busy until interrupted.
  const port = await freeLoopbackPort();
  const silent = createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
  t.after(() => silent.close());
  const setup = writeConfig(base, { db: `{ type: mysql, host: 127.0.0.1, port: ${port}, database: shop, user: app, password_env: DOCTOR_TEST_PW }` });
  const { child, result: interrupted } = startCli(['-c', setup.config, 'doctor'], { env: { DOCTOR_TEST_PW: 'pw' } });
  await waitForOutput(child, /tool gzip/);
  child.kill('SIGINT');
  const outcome = await interrupted;
  assert.equal(outcome.code, 130, outcome.stdout + outcome.stderr);
  assert.doesNotMatch(outcome.stderr, noStack);
});

test('growth trend: days until full from the sets stored, per source, times the sets kept', () => {
  const now = new Date('2026-12-03T12:00:00Z');
  const day = 24 * 3_600_000;
  const manifest = (daysAgo: number, dbBytes: number, filesBytes?: number): Manifest =>
    ({
      setId: 'x',
      startedAt: new Date(now.getTime() - daysAgo * day).toISOString(),
      artifacts: [
        { source: 'db', sizeBytes: dbBytes },
        ...(filesBytes === undefined ? [] : [{ source: 'files', sizeBytes: filesBytes }]),
      ],
    }) as unknown as Manifest;
  // db grows 1 MB/day per set, files 1 MB/day; a set made with --only db in between changes nothing.
  const sets = [manifest(0, 11e6, 21e6), manifest(5, 6e6), manifest(10, 1e6, 11e6)];
  const growing = trendFinding(sets, now, 60e6); // 2 MB/day per set x 3 sets = 6 MB/day: 10 days
  assert.equal(growing.status, 'warning');
  assert.match(growing.found, /full in about 10 day\(s\)/);
  assert.equal(trendFinding(sets, now, 30e6).status, 'critical');
  assert.equal(trendFinding(sets, now, 600e6).status, 'ok');
  assert.equal(trendFinding([manifest(0, 5e6), manifest(3, 5e6)], now, 1e6).status, 'ok');
  assert.equal(trendFinding([manifest(0, 5e6)], now, 1e6).status, 'skipped');
});

test('a schedule in the config that nothing runs: a warning naming `restorable schedule install`, exit 1', async (t) => {
  const setup = writeConfig(tempDir(t));
  writeFileSync(setup.config, `${readFileSync(setup.config, 'utf8')}schedule: { backup: "0 3 * * *" }\n`);
  await init(setup.config);
  const { code, report } = await doctor(setup.config);
  const schedule = finding(report, 'schedule');
  assert.equal(schedule.status, 'warning');
  assert.match(schedule.found, /not installed/);
  assert.match(schedule.remedy!, /restorable schedule install/);
  assert.equal(code, 1, JSON.stringify(report.findings.filter((entry) => entry.status !== 'ok' && entry.status !== 'skipped')));
});
