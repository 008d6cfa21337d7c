// The drill check (src/checks/drill.ts), graded on a run history we write:
// silent before drills are in use, WARNING when configured but never run or
// when the newest drill is older than monitor.drill_max_age, CRITICAL when it
// failed; an aborted drill proves nothing and is skipped. (End-to-end drills
// graded by `check` are in test/jobs/drill*.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.ts';
import { drillCheck } from '../../src/checks/drill.ts';
import type { CheckContext } from '../../src/checks/check.ts';
import type { RunRecord } from '../../src/storage/state-store.ts';
import { after, HOUR, T0 } from '../support/check-harness.ts';

const SOURCES = 'sources:\n  db: { type: sqlite, path: /srv/app/database.sqlite }\n';

function contextWith(runs: RunRecord[], extraConfig = ''): CheckContext {
  const { config } = parseConfigText(`app: shop\n${SOURCES}${extraConfig}`, '/etc/restorable/restorable.yml');
  // The drill check reads the config, the clock and the run history only.
  return { job: 'shop', config, repositoryRoot: '/var/backups/shop', now: T0, sets: [], unreadableManifests: [], runs, space: { error: 'not measured' }, lock: { path: '/var/backups/shop/.restorable/lock', present: false } };
}

function drillRun(finishedAt: Date, status: RunRecord['status'], details: Record<string, unknown> = {}, setId = '2026-11-20T030000Z'): RunRecord {
  return { runId: `drill-${finishedAt.getTime()}`, command: 'drill', status, startedAt: finishedAt.toISOString(), finishedAt: finishedAt.toISOString(), durationMs: 1000, setId, details };
}

test('before any drill: no result without smoke queries; with them, a WARNING saying how to start', async () => {
  assert.deepEqual(await drillCheck(contextWith([])), []);
  const [configured] = await drillCheck(contextWith([], 'drill: { queries: [{ sql: "SELECT COUNT(*) FROM users", min: 1 }] }\n'));
  assert.equal(configured?.state, 'WARNING');
  assert.equal(configured?.summary, 'drills are configured but none has run yet');
  assert.match(configured?.remedy ?? '', /restorable drill/);
});

test('a passed drill younger than drill_max_age is OK with the restore time; older, WARNING naming the setting', async () => {
  const [fresh] = await drillCheck(contextWith([drillRun(after(-24), 'ok', { restoreSeconds: { db: 1.25, files: 0.5 } })]));
  assert.equal(fresh?.state, 'OK');
  assert.equal(fresh?.summary, 'set 2026-11-20T030000Z proven restorable 24h 0m ago (restore 1.8 s)');
  assert.deepEqual(fresh?.perfdata, [
    { label: 'drill_age', value: 24 * 3600, unit: 's', warn: String(8 * 24 * 3600), min: 0 },
    { label: 'restore_time', value: 1.8, unit: 's', min: 0 },
  ]);

  const [stale] = await drillCheck(contextWith([drillRun(new Date(T0.getTime() - 9 * 24 * HOUR), 'ok')], 'monitor: { drill_max_age: 8d }\n'));
  assert.equal(stale?.state, 'WARNING');
  assert.equal(stale?.summary, 'the last restore drill passed but is 216h 0m old (monitor.drill_max_age 8d)');
});

test('a failed drill is CRITICAL naming the source that did not restore as recorded; an aborted one after it changes nothing', async () => {
  const failed = drillRun(after(-2), 'failed', { results: [{ source: 'db', ok: true }, { source: 'files', ok: false, differences: ['uploads/a.jpg: sha256 differs'] }] });
  const aborted = drillRun(after(-1), 'aborted');
  const [result] = await drillCheck(contextWith([failed, aborted]));
  assert.equal(result?.state, 'CRITICAL');
  assert.equal(result?.summary, 'the last restore drill (set 2026-11-20T030000Z, 2h 0m ago) failed: files did not restore as recorded: uploads/a.jpg: sha256 differs');
});
