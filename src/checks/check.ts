// Owns the vocabulary of monitor checks (not verify's checks of a stored file,
// nor a source's pre-flight): the four Nagios states and how they combine, a
// check's result with its perfdata, the context every check reads (facts about
// the repository gathered once per `check`), and how results read in the Nagios
// plugin format (`label=value[UOM];warn;crit;min;max`). A check is a function
// `(context) => Promise<CheckResult[]>`: one check may grade several things
// (age: one result per source) or nothing at all (a schedule check with no
// schedule configured), so offsite lag slots in later as one more function in
// the list (src/checks/registry.ts). Invariant: every check grades the one
// context, so all results describe the same moment.

import type { Config } from '../config/schema.ts';
import type { StoredSet } from '../storage/set-reader.ts';
import type { RunRecord } from '../storage/state-store.ts';

export type CheckState = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';

/** The plugin exit code of each state (DESIGN.md exit codes). */
export const STATE_EXIT_CODE: Record<CheckState, 0 | 1 | 2 | 3> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };

/**
 * How bad each state is when results combine. UNKNOWN ranks above OK (a check
 * that could not look must not hide behind the others' OK) but below WARNING
 * and CRITICAL: a problem we did see is more urgent than one we could not
 * evaluate. This is `max_state_alt` of the monitoring-plugins project.
 */
const SEVERITY: Record<CheckState, number> = { OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3 };

export function worstState(states: Iterable<CheckState>): CheckState {
  let worst: CheckState = 'OK';
  for (const state of states) if (SEVERITY[state] > SEVERITY[worst]) worst = state;
  return worst;
}

export function compareBySeverity(a: CheckState, b: CheckState): number {
  return SEVERITY[b] - SEVERITY[a];
}

/** One performance value. Thresholds are Nagios ranges: `93600` (alert above), `1000:` (alert below). */
export interface Perfdata {
  label: string;
  value: number;
  /** Nagios units: s (seconds), B (bytes), % (percent), c (counter), '' (a number). */
  unit: 's' | 'B' | '%' | 'c' | '';
  warn?: string;
  crit?: string;
  min?: number;
  max?: number;
}

export interface CheckResult {
  /** Stable name, also the `check` label of `restorable_check_state`: `age:db`, `last-run`, `disk`. */
  name: string;
  state: CheckState;
  /** One line for a human: what was found, with the numbers. */
  summary: string;
  /** What to do next, when not OK. */
  remedy?: string;
  perfdata: Perfdata[];
}

export interface FilesystemSpaceFact {
  /** The directory measured: the repository, or its nearest existing parent before the first run. */
  measuredAt: string;
  freeBytes: number;
  totalBytes: number;
}

/** Everything the checks grade, read once so that every check sees the same moment. */
export interface CheckContext {
  job: string;
  config: Config;
  repositoryRoot: string;
  /** From the injected clock. */
  now: Date;
  /** Complete sets (with a manifest), newest first, each with what its manifest names but the disk lacks. */
  sets: StoredSet[];
  /** Manifests that exist but cannot be parsed. */
  unreadableManifests: Array<{ setId: string; message: string }>;
  /** Recorded runs of every command, oldest first. */
  runs: RunRecord[];
  /** Free space, or why it could not be measured. */
  space: FilesystemSpaceFact | { error: string };
  lock: { path: string; present: boolean; holder?: LockHolderFacts };
}

/** The run holding the job lock, as its lock file names it, and whether that process still lives. */
export interface LockHolderFacts {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
  /** False when it is gone (a stale lock); true when it lives or cannot be told (another host). */
  alive: boolean;
}

export type Check = (context: CheckContext) => Promise<CheckResult[]>;

/** `45s`, `12m`, `1h 2m`, `49h 30m`: hours are not rolled into days, so they compare with `26h`/`48h` at a glance. */
export function formatAge(ms: number): string {
  const totalSeconds = Math.max(0, Math.floor(ms / 1000));
  if (totalSeconds < 60) return `${totalSeconds}s`;
  const totalMinutes = Math.floor(totalSeconds / 60);
  if (totalMinutes < 60) return `${totalMinutes}m`;
  return `${Math.floor(totalMinutes / 60)}h ${totalMinutes % 60}m`;
}

/** `db_age=3600s;93600;172800`, `free=5000B;1000:;500:;0;10000`. Labels with odd characters are quoted. */
export function formatPerfdata(perfdata: Perfdata): string {
  const label = /^[A-Za-z0-9_.:-]+$/.test(perfdata.label) ? perfdata.label : `'${perfdata.label.replaceAll("'", "''")}'`;
  const fields = [`${roundForPerfdata(perfdata.value)}${perfdata.unit}`, perfdata.warn ?? '', perfdata.crit ?? '', perfdata.min?.toString() ?? '', perfdata.max?.toString() ?? ''];
  while (fields.length > 1 && fields[fields.length - 1] === '') fields.pop();
  return `${label}=${fields.join(';')}`;
}

function roundForPerfdata(value: number): string {
  return Number.isInteger(value) ? value.toString() : value.toFixed(2).replace(/\.?0+$/, '');
}

/** Plugin output must stay on its line and keep `|` for the perfdata separator. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replaceAll('|', '/');
}
