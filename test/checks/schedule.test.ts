// The schedule check (src/checks/schedule.ts): nothing graded without a
// `schedule` section; WARNING when the configured schedule is installed
// nowhere (remedy `restorable schedule install`); installed but not firing
// (no backup since the last due time plus the grace) WARNING for one missed
// run, CRITICAL for two; a fresh install is not an alarm; a fresh daemon
// heartbeat counts as installed. Installations are written under a scratch
// root with the real `schedule install` job, the clock is chosen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scheduleCheck, scheduleCheckWith } from '../../src/checks/schedule.ts';
import { defaultChecks } from '../../src/checks/registry.ts';
import { gatherCheckContext } from '../../src/checks/check-snapshot.ts';
import { installSchedule } from '../../src/schedule/schedule-installer.ts';
import { loadConfig } from '../../src/config/load.ts';
import { writeHeartbeat } from '../../src/storage/daemon-heartbeat.ts';
import { writeFilesOnlyConfig } from '../support/files-only-app.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/temp.ts';
import { backupAt } from '../support/check-harness.ts';

const INSTALLED_AT = new Date('2026-11-26T00:00:00.000Z');
const hoursAfter = (hours: number) => new Date(INSTALLED_AT.getTime() + hours * 3_600_000);

async function app(t: Parameters<typeof tempDir>[0], schedule?: string) {
  const base = tempDir(t);
  const data = join(base, 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'a.txt'), 'hello\n');
  const configPath = writeFilesOnlyConfig(base, data, 'shop');
  if (schedule) appendFileSync(configPath, `schedule: ${schedule}\n`);
  const init = await runCli(['-c', configPath, 'init']);
  assert.equal(init.code, 0, init.stdout + init.stderr);
  const root = join(base, 'root');
  const loaded = loadConfig(configPath);
  const grade = async (now: Date) => scheduleCheckWith({ root })(await gatherCheckContext(loaded, now));
  const install = () => installSchedule({ loaded, target: 'cron.d', root, node: process.execPath, bin: '/opt/restorable/bin/restorable', now: INSTALLED_AT, user: 'root' });
  return { loaded, root, grade, install };
}

test('with no schedule configured the check returns no result, and `check` runs it', async (t) => {
  const { grade } = await app(t);
  assert.deepEqual(await grade(hoursAfter(5)), []);
  assert.ok(defaultChecks.includes(scheduleCheck));
});

test('a configured schedule installed nowhere is a WARNING naming `restorable schedule install`', async (t) => {
  const { grade } = await app(t, '{ backup: "0 3 * * *", check: "0 * * * *" }');
  const [result] = await grade(hoursAfter(5));
  assert.equal(result!.state, 'WARNING');
  assert.match(result!.summary, /not installed/);
  assert.match(result!.remedy!, /restorable schedule install/);
});

test('installed but not firing: one missed backup is a WARNING, two are CRITICAL; a backup after the due time is OK', async (t) => {
  const { grade, install, loaded } = await app(t, '{ backup: "0 3 * * *", timezone: UTC }');
  await install();
  // 03:00 is due, 04:00 is its grace: before 04:00 nothing is missed yet.
  assert.equal((await grade(hoursAfter(3.5)))[0]!.state, 'OK');
  const [missedOnce] = await grade(hoursAfter(5));
  assert.equal(missedOnce!.state, 'WARNING');
  assert.match(missedOnce!.summary, /not firing: backup was due at 2026-11-26T03:00:00.000Z/);
  assert.match(missedOnce!.remedy!, /schedule status/);
  assert.equal((await grade(hoursAfter(29)))[0]!.state, 'CRITICAL');
  await backupAt(loaded, hoursAfter(27));
  const [fired] = await grade(hoursAfter(29));
  assert.equal(fired!.state, 'OK', fired!.summary);
  assert.match(fired!.summary, /installed in .*etc\/cron\.d\/restorable; next backup 2026-11-28T03:00:00.000Z/);
});

test('a schedule installed after the last due time is not reported as not firing', async (t) => {
  const { grade, root, loaded } = await app(t, '{ backup: "0 3 * * *", timezone: UTC }');
  await installSchedule({ loaded, target: 'cron.d', root, node: process.execPath, bin: '/opt/restorable/bin/restorable', now: hoursAfter(4.5), user: 'root' });
  assert.equal((await grade(hoursAfter(6)))[0]!.state, 'OK');
});

test('installed without a job the config schedules is a WARNING', async (t) => {
  const { install, loaded, root } = await app(t, '{ backup: "0 3 * * *" }');
  await install();
  const withDrill = { ...loaded, config: { ...loaded.config, schedule: { backup: '0 3 * * *', drill: '30 4 * * 0' } } };
  const [result] = await scheduleCheckWith({ root })(await gatherCheckContext(withDrill, hoursAfter(2)));
  assert.equal(result!.state, 'WARNING');
  assert.match(result!.summary, /lacks drill/);
});

test("a fresh daemon heartbeat counts as installed; a stale one is named in the WARNING", async (t) => {
  const { grade, loaded } = await app(t, '{ backup: "0 3 * * *", timezone: UTC }');
  const heartbeat = { pid: 4242, host: 'backup-host', configPath: loaded.path, startedAt: hoursAfter(1).toISOString(), beatAt: hoursAfter(2).toISOString(), jobs: {} };
  await writeHeartbeat(loaded.repositoryPath, heartbeat);
  const [fresh] = await grade(hoursAfter(2.01));
  assert.equal(fresh!.state, 'OK', fresh!.summary);
  assert.match(fresh!.summary, /the daemon \(pid 4242 on backup-host\)/);
  const [stale] = await grade(hoursAfter(8));
  assert.equal(stale!.state, 'WARNING');
  assert.match(stale!.summary, /not installed.*last heartbeat is 6h 0m old \(pid 4242 on backup-host\)/);
});
