// Owns the question "could this source be restored and drilled, as the config
// says, right now?", asked by `restorable doctor` before a real restore has to
// find out: for kinds whose restore needs more than the backup (a database
// account that may create databases and load the dump's objects), the kind's
// probe answers it. A kind without a probe has nothing more to check than its
// backup pre-flight. Jobs look a probe up here by kind, never branch on one.

import type { LoadedConfig } from '../config/load.ts';
import { mysqlReadiness } from './mysql-readiness.ts';

export interface ReadinessRequest {
  /** The source's driver settings, as the registry prepared them. */
  settings: unknown;
  sourceName: string;
  loaded: LoadedConfig;
  /** What the newest set recorded about this source (its artifact's details), when there is one. */
  details?: Record<string, unknown>;
  setId?: string;
}

export interface ReadinessResult {
  /** `restore` or `drill`: what was checked. */
  purpose: string;
  /** What was found when it would work. */
  found: string;
  /** Things that may still go wrong but need not. */
  warnings: string[];
  /** Why it would not work (a RestorableError with the remedy, e.g. the GRANT). */
  error?: unknown;
}

export type ReadinessProbe = (request: ReadinessRequest) => Promise<ReadinessResult[]>;

const PROBES = new Map<string, ReadinessProbe>([['mysql', mysqlReadiness]]);

export function readinessProbeFor(type: string): ReadinessProbe | undefined {
  return PROBES.get(type);
}
