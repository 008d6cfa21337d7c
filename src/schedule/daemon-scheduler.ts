// Owns `restorable daemon`'s scheduler: the long-running alternative to cron.
// It runs the jobs the config schedules (backup, check, drill, report) on
// croner timers in the configured timezone (croner keeps runs across DST
// changes, which node-cron skips), through the runner it is given: the same
// use cases the CLI commands call (jobs/daemon-jobs.ts).
// Invariants:
// - Never overlapping: a job never runs twice at once, and backup and drill
//   (which take the repository's job lock) never run together. A job due while
//   that is so is skipped and reported in the log, not queued or doubled.
// - Stop aborts the running jobs through their AbortSignal and waits for them
//   to clean up (no `.partial`, lock released) before it resolves.
// - Reload swaps in a new config only when it loads; a bad one keeps the old
//   schedule running and says why.
// - The heartbeat (storage/daemon-heartbeat.ts) is written at start, every
//   minute and after each job, into the current config's repository.

import { hostname } from 'node:os';
import { Cron } from 'croner';
import { RestorableError } from '../core/errors.ts';
import type { LoadedConfig } from '../config/load.ts';
import { ADD_SCHEDULE_REMEDY, scheduledJobs, type ScheduledJob } from '../config/schedule-schema.ts';
import { HEARTBEAT_INTERVAL_MS, writeHeartbeat } from '../storage/daemon-heartbeat.ts';
import type { Clock, RunReporter } from '../core/ports.ts';

export interface DaemonJobContext {
  loaded: LoadedConfig;
  clock: Clock;
  reporter: RunReporter;
  signal: AbortSignal;
}

/** Runs `job` to its end (or its abort); resolves to the line the daemon logs. */
export type DaemonJobRunner = (job: ScheduledJob, context: DaemonJobContext) => Promise<string>;

export interface DaemonOptions {
  /** Loads the config (at start and on reload); throws when it is bad. */
  load: () => LoadedConfig;
  clock: Clock;
  /** One line per event: job started, finished, skipped, reload, stop. */
  log: (line: string) => void;
  /** Runs one job (jobs/daemon-jobs.ts gives the real use cases; tests pass a slow one). */
  runJob: DaemonJobRunner;
}

export interface Daemon {
  /** Reloads the config; returns false (and keeps the old one) when it does not load. */
  reload(): boolean;
  /** Stops the timers, aborts the running jobs and waits for them to end. */
  stop(reason: string): Promise<void>;
  /** The config in use. */
  readonly loaded: LoadedConfig;
}

/** backup and drill hold the repository's job lock: one of them at a time. */
const TAKES_LOCK: ReadonlySet<ScheduledJob> = new Set(['backup', 'drill']);

interface RunningJob {
  job: ScheduledJob;
  startedAt: Date;
  abort: AbortController;
  done: Promise<void>;
}

/** Starts the schedule of `options.load()`; throws when that config does not load or schedules nothing. */
export function startDaemon(options: DaemonOptions): Daemon {
  const runJob = options.runJob;
  const startedAt = options.clock.now();
  const running = new Map<ScheduledJob, RunningJob>();
  let loaded = options.load();
  let timers: Array<{ job: ScheduledJob; expression: string; cron: Cron }> = [];
  let stopping = false;

  const reporterFor = (job: ScheduledJob): RunReporter => ({
    step: (message) => options.log(`${job}: ${message}`),
    warn: (message) => options.log(`${job}: WARNING ${message}`),
    progress: () => {},
  });

  // Beats in flight: stop() waits for them, so nothing writes into the repository after it resolved.
  const beats = new Set<Promise<void>>();
  const beat = (): void => {
    const writing = writeBeat().finally(() => beats.delete(writing));
    beats.add(writing);
  };
  const writeBeat = async () => {
    const config = loaded;
    try {
      await writeHeartbeat(config.repositoryPath, {
        pid: process.pid,
        host: hostname(),
        configPath: config.path,
        startedAt: startedAt.toISOString(),
        beatAt: options.clock.now().toISOString(),
        jobs: Object.fromEntries(timers.map(({ job, expression, cron }) => [job, { expression, next: cron.nextRun()?.toISOString() }])),
        running: [...running.keys()].join(',') || undefined,
      });
    } catch (error) {
      options.log(`heartbeat: cannot write into ${config.repositoryPath}: ${(error as Error).message}`);
    }
  };

  const fire = (job: ScheduledJob, dueAt: Date) => {
    if (stopping) return;
    const blocker = running.get(job) ?? (TAKES_LOCK.has(job) ? [...running.values()].find((other) => TAKES_LOCK.has(other.job)) : undefined);
    if (blocker) {
      options.log(`${job}: due at ${dueAt.toISOString()}, skipped: ${blocker.job} is still running (since ${blocker.startedAt.toISOString()})`);
      return;
    }
    const abort = new AbortController();
    const config = loaded;
    options.log(`${job}: started (due at ${dueAt.toISOString()})`);
    const entry: RunningJob = { job, startedAt: options.clock.now(), abort, done: Promise.resolve() };
    entry.done = runJob(job, { loaded: config, clock: options.clock, reporter: reporterFor(job), signal: abort.signal })
      .then((outcome) => options.log(`${job}: ${outcome}`))
      .catch((error: unknown) => options.log(`${job}: failed unexpectedly: ${(error as Error).message}`))
      .finally(() => {
        running.delete(job);
        if (!stopping) beat();
      });
    running.set(job, entry);
  };

  const schedule = (config: LoadedConfig) => {
    for (const { cron } of timers) cron.stop();
    const timezone = config.config.schedule?.timezone;
    timers = scheduledJobs(config.config.schedule).map(({ job, expression }) => {
      // protect: croner itself never starts a job's callback while its last one runs; fire() adds the lock rule.
      const cron: Cron = new Cron(expression, { mode: '5-or-6-parts', timezone, protect: true, catch: true }, () => fire(job, cron.currentRun() ?? options.clock.now()));
      return { job, expression, cron };
    });
    for (const { job, expression, cron } of timers) options.log(`${job}: scheduled "${expression}"${timezone ? ` (${timezone})` : ''}, next at ${cron.nextRun()?.toISOString() ?? 'never'}`);
  };

  if (scheduledJobs(loaded.config.schedule).length === 0) {
    throw new RestorableError(`${loaded.path} schedules nothing for the daemon to run`, {
      code: 'SCHEDULE_NOT_CONFIGURED',
      remedy: ADD_SCHEDULE_REMEDY,
    });
  }
  schedule(loaded);
  const heartbeat = setInterval(beat, HEARTBEAT_INTERVAL_MS);
  beat();

  return {
    get loaded() {
      return loaded;
    },
    reload() {
      let next: LoadedConfig;
      try {
        next = options.load();
      } catch (error) {
        options.log(`reload: the config does not load, keeping the one in use: ${(error as Error).message}`);
        return false;
      }
      loaded = next;
      options.log(`reload: ${next.path} loaded${running.size ? ` (running ${[...running.keys()].join(', ')} finish with the old config)` : ''}`);
      schedule(next);
      beat();
      return true;
    },
    async stop(reason) {
      stopping = true;
      clearInterval(heartbeat);
      for (const { cron } of timers) cron.stop();
      for (const entry of running.values()) {
        options.log(`${entry.job}: aborting (${reason})`);
        entry.abort.abort(reason);
      }
      await Promise.all([...running.values()].map((entry) => entry.done));
      await Promise.all([...beats]);
      // No last beat: the heartbeat goes stale, and `check` says the schedule no longer runs.
      options.log(`stopped (${reason})`);
    },
  };
}
