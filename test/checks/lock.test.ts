// The lock check (src/checks/lock.ts): a stale lock, and a live run holding
// the lock for longer than monitor.warn_after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runCheck } from '../../src/jobs/check.ts';
import { after, at, backupAt, HOUR, result, T0 } from '../support/check-harness.ts';

test('a stale lock is WARNING with a next step; a live run past warn_after is WARNING; a young live run is OK', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const loaded = loadConfig(app.configPath);
  await backupAt(loaded, T0);
  const lock = join(app.repository, '.restorable/lock');
  const now = after(2);

  const dead = spawn('true');
  await new Promise((resolve) => dead.on('close', resolve));
  writeFileSync(lock, JSON.stringify({ pid: dead.pid, host: hostname(), startedAt: after(1).toISOString(), command: 'backup' }));
  const stale = await runCheck({ loaded, clock: at(now) });
  assert.equal(stale.state, 'WARNING');
  assert.equal(stale.exitCode, 1);
  const staleLock = result(stale, 'lock');
  assert.match(staleLock.summary, new RegExp(`stale lock: the run that took it \\(pid ${dead.pid} .*\\) is dead; it held the lock for 1h 0m`));
  assert.ok(staleLock.remedy?.includes(lock), 'the remedy names the lock file');

  const live = spawn('sleep', ['60']);
  t.after(() => live.kill());
  writeFileSync(lock, JSON.stringify({ pid: live.pid, host: hostname(), startedAt: new Date(now.getTime() - 30 * HOUR).toISOString(), command: 'backup' }));
  const stuck = await runCheck({ loaded, clock: at(now) });
  assert.equal(stuck.state, 'WARNING');
  assert.match(result(stuck, 'lock').summary, new RegExp(`^a run has been going for 30h 0m \\(pid ${live.pid} `));
  assert.match(result(stuck, 'lock').remedy ?? '', new RegExp(`kill ${live.pid}`));

  writeFileSync(lock, JSON.stringify({ pid: live.pid, host: hostname(), startedAt: new Date(now.getTime() - 10 * 60_000).toISOString(), command: 'backup' }));
  const running = await runCheck({ loaded, clock: at(now) });
  assert.equal(running.state, 'OK', running.summary);
  assert.match(result(running, 'lock').summary, /a run is in progress .* for 10m/);
});
