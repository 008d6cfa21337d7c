// Owns the vocabulary of `restorable doctor` (jobs/doctor.ts): a finding (a
// status, what was found, the remedy), what every question group is given,
// and a finding made from an error. Here, below jobs/, so that the question
// groups that need no job (doctor-repository.ts, doctor-space.ts,
// doctor-tools.ts) live beside the monitor's checks.

import { asRestorableError } from '../core/errors.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { Clock } from '../core/ports.ts';

/** `skipped`: the question could not be asked here (the finding says why); it does not change the exit code. */
export type FindingStatus = 'ok' | 'warning' | 'critical' | 'skipped';

export interface Finding {
  /** What was asked, as a short name: `repository writable`, `source db`, `tool zstd`. */
  name: string;
  status: FindingStatus;
  /** What was found, one line. */
  found: string;
  /** What to do about it (absent when there is nothing to do). */
  remedy?: string;
  /** Extra lines: the GRANT statements, each insecure path. */
  details?: string[];
}

export interface DoctorReport {
  job: string;
  repository: string;
  status: 'OK' | 'WARNING' | 'CRITICAL';
  findings: Finding[];
  exitCode: 0 | 1 | 2;
}

export interface DoctorRequest {
  loaded: LoadedConfig;
  clock: Clock;
  /** The user passed --allow-insecure-config: sources are examined even when others can change the config. */
  allowInsecureConfig: boolean;
  /** PATH to look for tools on; process.env.PATH by default (tests plant a PATH without a tool). */
  searchPath?: string;
  /** Aborted (Ctrl-C): no further question is asked; the report holds those answered so far. */
  signal?: AbortSignal;
  /** How scheduled runs start restorable (node and bin, absolute), to compare an installed schedule with the config. */
  invocation?: { node: string; bin: string };
  /** Told each finding as soon as it is made (a database that times out takes a while). */
  onFinding?: (finding: Finding) => void;
}

/** What every question group gets. */
export interface DoctorContext extends DoctorRequest {
  now: Date;
}

export type FindingGroup = (context: DoctorContext) => Promise<Finding[]>;

/** A finding from an error: its message, its remedy, its details (a preflight that refused). */
export function findingFromError(name: string, error: unknown, status: FindingStatus = 'critical'): Finding {
  const failure = asRestorableError(error);
  return {
    name,
    status,
    found: failure.message,
    remedy: failure.remedy ?? 'rerun with RESTORABLE_DEBUG=1 and report it if the cause is not obvious',
    details: failure.details.length > 0 ? failure.details : undefined,
  };
}
