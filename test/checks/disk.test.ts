// The disk check (src/checks/disk.ts): free space on the repository's
// filesystem against monitor.min_free (WARNING below it, CRITICAL below half).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statfsSync } from 'node:fs';
import { tempDir } from '../support/temp.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runCheck } from '../../src/jobs/check.ts';
import { gradeFreeSpace } from '../../src/checks/disk.ts';
import { at, result, setConfig, T0 } from '../support/check-harness.ts';

test('before the first set, free space is measured on the initialised repository', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const report = await runCheck({ loaded: loadConfig(app.configPath), clock: at(T0) });
  assert.equal(result(report, 'disk').state, 'OK', 'measured on the empty, initialised repository');
  assert.match(result(report, 'disk').summary, new RegExp(` on ${app.repository} `));
});

test('free space: WARNING below min_free, CRITICAL below half of it, for a percentage and an absolute size', () => {
  const total = 100e9;
  const grade = (freeBytes: number, minFree: string) => gradeFreeSpace({ freeBytes, totalBytes: total }, minFree).state;
  assert.equal(grade(11e9, '10%'), 'OK');
  assert.equal(grade(10e9, '10%'), 'OK', 'exactly min_free is enough');
  assert.equal(grade(9.9e9, '10%'), 'WARNING');
  assert.equal(grade(5e9, '10%'), 'WARNING');
  assert.equal(grade(4.9e9, '10%'), 'CRITICAL');
  assert.equal(grade(6e9, '5GB'), 'OK');
  assert.equal(grade(4e9, '5GB'), 'WARNING');
  assert.equal(grade(2.4e9, '5GB'), 'CRITICAL');
  const perfdata = gradeFreeSpace({ freeBytes: 8e9, totalBytes: total }, '10%').perfdata;
  assert.deepEqual(perfdata, [
    { label: 'free', value: 8e9, unit: 'B', warn: '10000000000:', crit: '5000000000:', min: 0, max: total },
    { label: 'free_pct', value: 8, unit: '%', warn: '10:', crit: '5:', min: 0, max: 100 },
  ]);
});

test('the disk check reads the real filesystem: a min_free above what is free warns, one above twice that is critical', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const stats = statfsSync(app.root);
  const free = stats.bavail * stats.bsize;
  const gigabytes = (bytes: number) => `${(bytes / 1e9).toFixed(3)}GB`;
  const diskAt = async (minFree: string) => {
    setConfig(app, (text) => text.replace(/monitor: .*/, `monitor: { min_free: ${minFree} }`));
    return result(await runCheck({ loaded: loadConfig(app.configPath), clock: at(T0) }), 'disk');
  };
  // Margins of a third either way: other tests writing meanwhile cannot flip the grade.
  const warning = await diskAt(gigabytes(free * 1.5));
  assert.equal(warning.state, 'WARNING', warning.summary);
  assert.match(warning.remedy ?? '', /^free at least .* on that filesystem \(df -h /);
  assert.equal((await diskAt(gigabytes(free * 3))).state, 'CRITICAL');
  assert.equal((await diskAt(gigabytes(free * 0.5))).state, 'OK');
});
