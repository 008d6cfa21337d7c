// The last-run check (src/checks/last-run.ts): a failed last backup run is
// CRITICAL, whatever the age of the newest set, until a run succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import { tempDir } from '../support/temp.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runCheck } from '../../src/jobs/check.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { silentReporter } from '../../src/core/ports.ts';
import { after, at, backupAt, result, T0 } from '../support/check-harness.ts';

test('a failed last run is CRITICAL with its error and next step, even while the newest set is young; the next success clears it', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const loaded = loadConfig(app.configPath);
  await backupAt(loaded, T0);
  const moved = `${app.uploadsDir}-moved`;
  renameSync(app.uploadsDir, moved);
  const failed = await runBackup({ loaded, clock: at(after(0.5)), reporter: silentReporter });
  assert.equal(failed.status, 'failed');

  const report = await runCheck({ loaded, clock: at(after(1)) });
  assert.equal(report.state, 'CRITICAL');
  assert.equal(report.exitCode, 2);
  assert.equal(result(report, 'age:files').state, 'OK', 'the previous set is still young');
  const lastRun = result(report, 'last-run');
  assert.equal(lastRun.state, 'CRITICAL');
  assert.match(lastRun.summary, /the last backup run \(2026-11-26T03:30:00.000Z, 30m ago\) failed \(source files\): /);
  assert.ok(lastRun.summary.includes(app.uploadsDir), `names the missing path: ${lastRun.summary}`);
  assert.ok(lastRun.remedy && lastRun.remedy.length > 0, 'says what to do next');
  assert.ok(report.summary.startsWith('the last backup run'), report.summary);

  renameSync(moved, app.uploadsDir);
  await backupAt(loaded, after(2));
  const recovered = await runCheck({ loaded, clock: at(after(3)) });
  assert.equal(recovered.state, 'OK', recovered.summary);
  assert.match(result(recovered, 'last-run').summary, /succeeded/);
});
