// Which events a finished backup raises, from its outcome and the run history:
// a failure at once (counting the streak it belongs to), a recovery only for the
// first success after failures, a success every time; drills and prunes in the
// history neither start nor end a streak. Plus what the texts say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RestorableError } from '../../src/core/errors.ts';
import type { Manifest } from '../../src/core/manifest.ts';
import type { BackupOutcome } from '../../src/jobs/backup.ts';
import type { RunRecord } from '../../src/storage/state-store.ts';
import { eventsForBackupOutcome } from '../../src/jobs/backup-events.ts';
import { renderEvent } from '../../src/notify/render.ts';
import type { BackupHasFailed, BackupHasRecovered, BackupHasSucceeded } from '../../src/notify/events.ts';

const NOW = new Date('2026-02-05T03:01:00Z');

function run(command: RunRecord['command'], status: RunRecord['status'], startedAt: string, runId = `run-${command}-${startedAt}`): RunRecord {
  return { runId, command, status, startedAt, finishedAt: startedAt, durationMs: 1000 };
}

function success(runId = 'run-now', status: 'ok' | 'warning' = 'ok'): BackupOutcome {
  const manifest: Manifest = {
    format: 'restorable-manifest',
    version: 1,
    setId: '2026-02-05_03-00-00',
    job: 'askproai',
    runId,
    host: 'web1',
    restorableVersion: '0.1.0',
    startedAt: '2026-02-05T03:00:00.000Z',
    finishedAt: NOW.toISOString(),
    durationMs: 60_000,
    status,
    artifacts: [
      { source: 'db', type: 'mysql', path: 'db/db_backup_2026-02-05_03-00-00.sql.gz', compression: 'gzip', sizeBytes: 1_500_000, sha256: 'a'.repeat(64), rawSizeBytes: 9_000_000, durationMs: 3000, warnings: [], details: {} },
      { source: 'files', type: 'files', path: 'files/files_backup_2026-02-05_03-00-00.tar.gz', compression: 'gzip', sizeBytes: 1_500_000_000, sha256: 'b'.repeat(64), rawSizeBytes: 1_600_000_000, durationMs: 50_000, warnings: [], details: {} },
    ],
  };
  return {
    status,
    setId: manifest.setId,
    manifest,
    warnings: status === 'warning' ? [{ source: 'files', code: 'FILE_UNREADABLE', message: 'skipped storage/app/locked.pdf: permission denied' }] : [],
    durationMs: 60_000,
  };
}

const failure: BackupOutcome = {
  status: 'failed',
  error: new RestorableError('the disk is full: no space left on device', { code: 'DISK_FULL', remedy: 'free space on /var/backups', where: { job: 'askproai', source: 'files', path: '/var/backups/askproai/files' } }),
  warnings: [],
  durationMs: 30_000,
  runLogPath: 'logs/backup_2026-02-05_03-00-00.jsonl',
};

test('a first failure is one backup_failed event, its streak starting with this run', () => {
  const events = eventsForBackupOutcome(failure, [run('backup', 'ok', '2026-02-04T03:00:00Z')], 'askproai', 'web1', NOW);

  assert.equal(events.length, 1);
  const failed = events[0] as BackupHasFailed;
  assert.equal(failed.kind, 'backup_failed');
  assert.equal(failed.consecutiveFailures, 1);
  assert.equal(failed.failingSince, '2026-02-05T03:00:30.000Z', 'this run started durationMs before it ended');
  assert.deepEqual(failed.error, {
    message: 'the disk is full: no space left on device',
    code: 'DISK_FULL',
    remedy: 'free space on /var/backups',
    where: { job: 'askproai', source: 'files', path: '/var/backups/askproai/files' },
    details: [],
  });
  const text = renderEvent(failed).text;
  assert.match(text, /The previous backup run did not fail\./);
  assert.match(text, /Where:\s+job askproai, source files, path \/var\/backups\/askproai\/files/);
  assert.match(text, /Run log: logs\/backup_2026-02-05_03-00-00\.jsonl/);
});

test('a repeated failure counts the streak; drills and prunes in between do not break it', () => {
  const history = [
    run('backup', 'ok', '2026-02-02T03:00:00Z'),
    run('backup', 'failed', '2026-02-03T03:00:00Z'),
    run('drill', 'ok', '2026-02-03T05:00:00Z'),
    run('backup', 'failed', '2026-02-04T03:00:00Z'),
    run('prune', 'ok', '2026-02-04T04:00:00Z'),
  ];
  const [failed] = eventsForBackupOutcome(failure, history, 'askproai', 'web1', NOW) as [BackupHasFailed];

  assert.equal(failed.consecutiveFailures, 3);
  assert.equal(failed.failingSince, '2026-02-03T03:00:00Z');
  assert.match(renderEvent(failed).text, /It has failed 3 times in a row, since 2026-02-03 03:00:00 UTC\./);
});

test('the first success after failures is a recovery (how long, how many) and a success; the next success only a success', () => {
  const history = [run('backup', 'ok', '2026-02-01T03:00:00Z'), run('backup', 'failed', '2026-02-02T03:00:00Z'), run('drill', 'failed', '2026-02-02T05:00:00Z'), run('backup', 'failed', '2026-02-03T03:00:00Z')];

  const events = eventsForBackupOutcome(success(), history, 'askproai', 'web1', NOW);

  assert.deepEqual(events.map((e) => e.kind), ['backup_recovered', 'backup_succeeded']);
  const recovered = events[0] as BackupHasRecovered;
  assert.equal(recovered.failingSince, '2026-02-02T03:00:00Z');
  assert.equal(recovered.failedRuns, 2);
  assert.equal(recovered.failedForMs, 3 * 86_400_000 + 60_000);
  assert.equal(recovered.setId, '2026-02-05_03-00-00');
  assert.match(renderEvent(recovered).text, /It had been failing for 3 days 0 h \(2 failed runs since 2026-02-02 03:00:00 UTC\)\./);

  const next = eventsForBackupOutcome(success('run-next'), [...history, run('backup', 'ok', '2026-02-05T03:00:00Z', 'run-now')], 'askproai', 'web1', NOW);
  assert.deepEqual(next.map((e) => e.kind), ['backup_succeeded']);
});

test('a history read after the run (holding the run itself) gives the same events for a success', () => {
  const before = [run('backup', 'failed', '2026-02-04T03:00:00Z')];
  const afterward = [...before, run('backup', 'ok', '2026-02-05T03:00:00Z', 'run-now')];

  assert.deepEqual(eventsForBackupOutcome(success('run-now'), afterward, 'askproai', 'web1', NOW), eventsForBackupOutcome(success('run-now'), before, 'askproai', 'web1', NOW));
});

test('a degraded backup is a success with status warning, its warnings and sizes listed', () => {
  const [succeeded] = eventsForBackupOutcome(success('run-now', 'warning'), [], 'askproai', 'web1', NOW) as [BackupHasSucceeded];

  assert.equal(succeeded.status, 'warning');
  assert.equal(succeeded.totalSizeBytes, 1_501_500_000);
  assert.deepEqual(succeeded.warnings, ['files: skipped storage/app/locked.pdf: permission denied']);
  const message = renderEvent(succeeded);
  assert.equal(message.severity, 'warning');
  assert.equal(message.subject, '[restorable] WARNING: backup of askproai on web1 completed with 1 warning (set 2026-02-05_03-00-00, 1.5 GB)');
  assert.match(message.text, /files: 1\.5 GB \(1\.6 GB before compression\)/);
  assert.match(message.text, /Warnings:\n  files: skipped storage\/app\/locked\.pdf: permission denied/);
});

test('a failed outcome without an error still yields a failure event', () => {
  const [failed] = eventsForBackupOutcome({ status: 'failed', warnings: [], durationMs: 5 }, [], 'askproai', 'web1', NOW) as [BackupHasFailed];
  assert.equal(failed.kind, 'backup_failed');
  assert.equal(failed.error.code, 'BACKUP_FAILED');
  assert.match(renderEvent(failed).subject, /CRITICAL: backup of askproai on web1 failed \(BACKUP_FAILED\)/);
});
