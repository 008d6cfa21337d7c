// The age check (src/checks/age.ts): each source graded by the age of its
// newest backup still on disk, against monitor.warn_after and critical_after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir } from '../support/temp.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runCheck } from '../../src/jobs/check.ts';
import { after, at, backupAt, result, T0 } from '../support/check-harness.ts';

test('the newest set is graded by age: OK at 1 h, WARNING at 26.5 h, CRITICAL at 48.5 h, with perfdata in seconds', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const loaded = loadConfig(app.configPath);
  const setId = await backupAt(loaded, T0);

  const fresh = await runCheck({ loaded, clock: at(after(1)) });
  assert.equal(fresh.state, 'OK', fresh.summary);
  assert.equal(fresh.exitCode, 0);
  assert.match(fresh.summary, new RegExp(`^newest set ${setId} is 1h 0m old, 3 sources, \\d+(\\.\\d)?% free$`));
  assert.deepEqual(result(fresh, 'age:db').perfdata, [{ label: 'db_age', value: 3600, unit: 's', warn: '93600', crit: '172800', min: 0 }]);

  const late = await runCheck({ loaded, clock: at(after(26.5)) });
  assert.equal(late.state, 'WARNING');
  assert.equal(late.exitCode, 1);
  for (const source of ['db', 'files', 'config']) {
    assert.equal(result(late, `age:${source}`).state, 'WARNING');
    assert.match(result(late, `age:${source}`).summary, new RegExp(`newest ${source} backup is 26h 30m old \\(set ${setId}; warning after 26h`));
  }
  assert.equal(result(late, 'last-run').state, 'OK', 'only the age is late');
  assert.match(late.summary, /^newest db backup is 26h 30m old/);
  assert.match(result(late, 'age:db').remedy ?? '', /restorable backup/);

  const dead = await runCheck({ loaded, clock: at(after(48.5)) });
  assert.equal(dead.state, 'CRITICAL');
  assert.equal(dead.exitCode, 2);
  assert.match(result(dead, 'age:db').summary, /48h 30m old .*critical after 48h/);
  assert.equal(dead.perfdata.find((item) => item.label === 'db_age')?.value, 48.5 * 3600);
});

test('each source is graded by its own newest backup: a set made with --only does not make the others look fresh', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const loaded = loadConfig(app.configPath);
  const full = await backupAt(loaded, T0);
  const configOnly = await backupAt(loaded, after(25), ['config']);
  const report = await runCheck({ loaded, clock: at(after(26.5)) });
  assert.equal(report.state, 'WARNING');
  assert.match(result(report, 'age:db').summary, new RegExp(`26h 30m old \\(set ${full};`));
  assert.equal(result(report, 'age:files').state, 'WARNING');
  assert.equal(result(report, 'age:config').state, 'OK');
  assert.match(result(report, 'age:config').summary, new RegExp(`1h 30m old \\(set ${configOnly};`));
});

test('no set at all is CRITICAL', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const report = await runCheck({ loaded: loadConfig(app.configPath), clock: at(T0) });
  assert.equal(report.state, 'CRITICAL');
  assert.match(result(report, 'age').summary, /^no complete backup set in /);
});
