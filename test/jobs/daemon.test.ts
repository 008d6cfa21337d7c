// `restorable daemon` (src/jobs/daemon.ts, src/cli/daemon-command.ts) on
// per-second schedules (croner's 6-field expressions). In process, with a
// backup that waits until the test lets it end: the next due runs are
// skipped and reported, never doubled, and the runs never overlap; a bad
// config on reload keeps the old one. As a child process: SIGHUP reloads
// while a backup runs, then SIGTERM in the middle of it aborts it cleanly (no `.partial`, lock released,
// nothing published) and the daemon exits 0; its heartbeat was written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon } from '../../src/jobs/daemon-jobs.ts';
import type { DaemonJobRunner } from '../../src/jobs/daemon-jobs.ts';
import { loadConfig } from '../../src/config/load.ts';
import { systemClock } from '../../src/core/ports.ts';
import { readHeartbeat } from '../../src/storage/daemon-heartbeat.ts';
import { lockPath } from '../../src/storage/job-lock.ts';
import { readRuns } from '../../src/storage/state-store.ts';
import { writeFilesOnlyConfig } from '../support/files-only-app.ts';
import { runCli, startCli } from '../support/cli.ts';
import { tempDir } from '../support/temp.ts';

async function filesApp(t: Parameters<typeof tempDir>[0], schedule: string, fill?: (data: string) => void) {
  const base = tempDir(t);
  const data = join(base, 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'a.txt'), 'hello\n');
  fill?.(data);
  const configPath = writeFilesOnlyConfig(base, data, 'shop');
  appendFileSync(configPath, `schedule: ${schedule}\n`);
  const init = await runCli(['-c', configPath, 'init']);
  assert.equal(init.code, 0, init.stdout + init.stderr);
  return { base, configPath };
}

/** Resolves when `predicate` holds for the log; checked on every new line (no clock involved). */
function logWatcher() {
  const lines: string[] = [];
  const waiters: Array<{ predicate: (lines: string[]) => boolean; resolve: () => void }> = [];
  const log = (line: string) => {
    lines.push(line);
    for (const waiter of [...waiters]) if (waiter.predicate(lines)) waiters.splice(waiters.indexOf(waiter), 1), waiter.resolve();
  };
  const until = (predicate: (lines: string[]) => boolean) => new Promise<void>((resolve) => (predicate(lines) ? resolve() : waiters.push({ predicate, resolve })));
  return { lines, log, until };
}

test('a backup still running when the next is due: the due runs are skipped and reported, runs never overlap', async (t) => {
  const { configPath } = await filesApp(t, '{ backup: "* * * * * *" }');
  const watcher = logWatcher();
  let active = 0;
  let mostAtOnce = 0;
  let started = 0;
  let releaseFirst!: () => void;
  const firstMayEnd = new Promise<void>((resolve) => (releaseFirst = resolve));
  const runJob: DaemonJobRunner = async (job) => {
    active += 1;
    started += 1;
    mostAtOnce = Math.max(mostAtOnce, active);
    try {
      if (started === 1) await firstMayEnd;
      return `${job} done`;
    } finally {
      active -= 1;
    }
  };
  const daemon = startDaemon({ load: () => loadConfig(configPath), clock: systemClock, log: watcher.log, runJob });
  t.after(() => daemon.stop('test over'));
  await watcher.until((lines) => lines.filter((line) => /^backup: due at .*, skipped: backup is still running/.test(line)).length >= 2);
  assert.equal(started, 1, 'no second backup while the first runs');
  releaseFirst();
  await watcher.until((lines) => lines.filter((line) => line.startsWith('backup: started')).length >= 3);
  await daemon.stop('test over');
  assert.equal(mostAtOnce, 1);
  assert.ok(watcher.lines.includes('backup: backup done'));
  const heartbeat = await readHeartbeat(loadConfig(configPath).repositoryPath);
  assert.equal(heartbeat?.pid, process.pid);
  assert.equal(heartbeat?.jobs.backup?.expression, '* * * * * *');
});

test('SIGHUP-style reload: a config that does not load keeps the one in use and says why', async (t) => {
  const { configPath } = await filesApp(t, '{ check: "0 0 1 1 *" }');
  const watcher = logWatcher();
  let broken = false;
  const daemon = startDaemon({
    load: () => (broken ? loadConfig(join(configPath, 'missing.yml')) : loadConfig(configPath)),
    clock: systemClock,
    log: watcher.log,
    runJob: async () => 'ran',
  });
  t.after(() => daemon.stop('test over'));
  const before = daemon.loaded;
  broken = true;
  assert.equal(daemon.reload(), false);
  assert.equal(daemon.loaded, before);
  assert.ok(watcher.lines.some((line) => /^reload: the config does not load, keeping the one in use: cannot read the configuration/.test(line)), watcher.lines.join('\n'));
  broken = false;
  assert.equal(daemon.reload(), true);
  assert.ok(watcher.lines.some((line) => line.startsWith(`reload: ${configPath} loaded`)));
  await daemon.stop('test over');
});

test('SIGTERM in the middle of a backup: the daemon aborts it cleanly (no .partial, lock released, nothing published) and exits 0', async (t) => {
  // Incompressible data, so the backup is still writing when the signal comes.
  const { base, configPath } = await filesApp(t, '{ backup: "* * * * * *", check: "0 0 1 1 *" }', (data) => {
    for (let index = 0; index < 8; index += 1) writeFileSync(join(data, `random-${index}.bin`), randomBytes(8 * 1024 * 1024));
  });
  const repository = join(base, 'backups');
  const { child, result } = startCli(['-c', configPath, 'daemon']);
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout!.on('data', (chunk: string) => (output += chunk));
  while (!/backup: files: 1 path\(s\)/.test(output)) await once(child.stdout!, 'data');
  assert.ok(existsSync(lockPath(repository)), 'the backup holds the lock when the signal comes');
  child.kill('SIGHUP');
  while (!/reload: .* loaded \(running backup finish with the old config\)/.test(output)) await once(child.stdout!, 'data');
  child.kill('SIGTERM');
  const ended = await result;
  assert.equal(ended.code, 0, ended.stdout + ended.stderr);
  assert.match(ended.stdout, /backup: aborting \(stopped by SIGTERM\)/);
  assert.match(ended.stdout, /backup: failed: the backup was stopped by SIGTERM; nothing was published/);
  assert.match(ended.stdout, /stopped \(stopped by SIGTERM\)\n$/);
  assert.equal(existsSync(lockPath(repository)), false, 'lock released');
  const leftovers = (readdirSync(repository, { recursive: true }) as string[]).filter((name) => name.endsWith('.partial'));
  assert.deepEqual(leftovers, []);
  assert.deepEqual(readdirSync(join(repository, 'manifests')).filter((name) => !name.startsWith('.')), [], 'nothing published');
  // The stop is recorded as aborted, so the monitor does not page for a run someone stopped.
  assert.equal((await readRuns(repository)).filter((run) => run.command === 'backup').at(-1)?.status, 'aborted');
  const check = await runCli(['-c', configPath, 'check', '--json']);
  assert.notEqual((JSON.parse(check.stdout) as { checks: Array<{ name: string; state: string }> }).checks.find((entry) => entry.name === 'last-run')?.state, 'CRITICAL');
});
