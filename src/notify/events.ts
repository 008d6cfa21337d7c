// Owns what can be announced, as plain data: one type per event, told apart by
// a snake_case `kind` that matches the config's event names (`notify.*.events`).
// Events carry facts only (ISO times, byte counts, lines of text); how they read
// in a mail subject, a chat line or a ping lives in render.ts. Plain JSON data on
// purpose: the json webhook sends an event as it is, and redaction can walk it.

import type { NotifyEventName } from '../config/schema.ts';

/** Every event kind: the configurable ones plus `backup_started`, which only feeds the healthchecks /start ping. */
export type NotifyEventKind = NotifyEventName | 'backup_started';

/** How loud an event is: decides subject prefixes, ntfy priorities, mail priority. */
export type Severity = 'critical' | 'warning' | 'ok' | 'info';

/** The monitor's grades, as `check` prints them (Nagios style). */
export type CheckState = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';

/** An ISO 8601 time, e.g. `2026-01-31T03:00:12.000Z`. */
export type IsoTime = string;

interface EventBase {
  job: string;
  host: string;
  /** When it happened. */
  at: IsoTime;
}

/** A RestorableError, flattened to what an operator needs in an alert. */
export interface ErrorFacts {
  message: string;
  code: string;
  /** What to do next, when known. */
  remedy?: string;
  /** Where it failed: job, source, destination, path. */
  where: { job?: string; source?: string; destination?: string; path?: string };
  /** Extra lines (a child's stderr tail); redacted before anything is sent. */
  details: string[];
}

export interface BackupHasStarted extends EventBase {
  kind: 'backup_started';
}

export interface BackupHasFailed extends EventBase {
  kind: 'backup_failed';
  error: ErrorFacts;
  /** This failure and the failed runs right before it (1 = the first failure). */
  consecutiveFailures: number;
  /** Start of the first failed run of the streak (this run's time when it is the first). */
  failingSince: IsoTime;
  /** The run's log, relative to the repository, when one was opened. */
  runLogPath?: string;
}

export interface BackupHasRecovered extends EventBase {
  kind: 'backup_recovered';
  /** The set the successful run published. */
  setId: string;
  /** Start of the first failed run of the streak that just ended. */
  failingSince: IsoTime;
  /** From failingSince to this success. */
  failedForMs: number;
  failedRuns: number;
}

export interface SourceSize {
  source: string;
  sizeBytes: number;
  rawSizeBytes: number;
}

export interface BackupHasSucceeded extends EventBase {
  kind: 'backup_succeeded';
  setId: string;
  /** `warning`: published, but degraded (files skipped, retention failed...). */
  status: 'ok' | 'warning';
  durationMs: number;
  totalSizeBytes: number;
  sources: SourceSize[];
  /** One line per warning, `source: message`. */
  warnings: string[];
}

export interface CheckStateHasChanged extends EventBase {
  kind: 'check_state_changed';
  /** The state last announced (OK when nothing was ever announced). */
  from: CheckState;
  to: CheckState;
  /** The check's first line, e.g. "WARNING: last backup 27 h old". */
  summary: string;
  /** One line per check that is not OK. */
  problems: string[];
  /** True when this repeats a state already announced (`repeat_after` passed). */
  repeated: boolean;
  /** Since when the state has been `to`. */
  since: IsoTime;
}

export interface RestoreDrillHasFailed extends EventBase {
  kind: 'drill_failed';
  setId: string;
  /** What differed between the restored data and the facts recorded at backup time. */
  differences: string[];
  /** When the drill could not even finish. */
  error?: ErrorFacts;
}

export interface WeeklyReport extends EventBase {
  kind: 'report';
  subject: string;
  text: string;
  html: string;
}

export type NotifyEvent =
  | BackupHasStarted
  | BackupHasFailed
  | BackupHasRecovered
  | BackupHasSucceeded
  | CheckStateHasChanged
  | RestoreDrillHasFailed
  | WeeklyReport;

export function severityOf(event: NotifyEvent): Severity {
  switch (event.kind) {
    case 'backup_failed':
    case 'drill_failed':
      return 'critical';
    case 'backup_recovered':
      return 'ok';
    case 'backup_succeeded':
      return event.status === 'ok' ? 'ok' : 'warning';
    case 'check_state_changed':
      return severityOfCheckState(event.to);
    case 'backup_started':
    case 'report':
      return 'info';
  }
}

export function severityOfCheckState(state: CheckState): Severity {
  switch (state) {
    case 'OK':
      return 'ok';
    case 'WARNING':
      return 'warning';
    case 'CRITICAL':
      return 'critical';
    // UNKNOWN means the monitor could not look: not an emergency by itself, but
    // nobody is watching the backups until it is fixed.
    case 'UNKNOWN':
      return 'warning';
  }
}
