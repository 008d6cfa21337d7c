// Owns the restore side of the source-driver contract: how a kind restores one
// of its artifacts into a target, and how a drill restores it into scratch and
// compares it with what the manifest recorded.
//
// Invariants:
//   - A driver's `content` says which command restores its artifacts:
//     `restore db` those whose content is 'database' (a target name, --yes,
//     --defaults-file), `restore files` those whose content is 'files' (a
//     directory, --path, --force). The target a job passes always has the
//     driver's content; `restoreInto` checks the answer has it too.
//   - The job resolves the set, chooses the artifact, makes and removes the
//     scratch directory, times and reports; the driver does everything that
//     depends on what the artifact holds, and never imports jobs/.
//   - A drill never fails by throwing over a difference: differences are
//     returned; a throw means the restore (or the read-back) itself failed,
//     and the job reports it with the time the restore ran until then.

import type { ArtifactRecord, Manifest } from '../core/manifest.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { SetReader } from '../storage/set-reader.ts';
import { RestorableError } from '../core/errors.ts';

/** What a restore may say while it works; the job's reporter satisfies it. */
export interface RestoreLog {
  step(message: string): void;
  warn(message: string): void;
  /** Bytes of the artifact read so far (a progress line on a TTY). */
  progress(sourceName: string, bytes: number): void;
}

export interface RestoreContext {
  /** The set the artifact belongs to (its id; `safety` when it is a safety set). */
  manifest: Manifest;
  artifact: ArtifactRecord;
  /** Where the set is read from: every byte of the artifact and its index comes through it. */
  reader: SetReader;
  /**
   * The kind's resolved settings of the artifact's source as configured now,
   * or undefined when the config has no source of that name and kind (or the
   * job runs without one). Read only when needed: resolving may read password files.
   */
  settings(): unknown;
  log: RestoreLog;
  signal?: AbortSignal;
}

/** `restore db`: a database into a server or a file. */
export interface DatabaseTarget {
  content: 'database';
  /** The configuration the job runs with: the restore accounts (restore.mysql), the config's path for the commands a message suggests. */
  loaded: LoadedConfig;
  /** A private directory for this restore (credential pipes), removed by the job afterwards. */
  scratchDir: string;
  /** mysql: a database name; sqlite: a file path; the kind's default when absent. */
  into?: string;
  /** Restore onto a non-empty target without asking. */
  yes: boolean;
  /** On a TTY: asks the operator to type the target's name; undefined elsewhere. */
  confirm?: (question: string) => Promise<string>;
  /** mysql: restore as the account of this option file's [client] section. */
  defaultsFile?: string;
  /** The source the operator named (--source), repeated in the commands a message suggests. */
  source?: string;
  /**
   * Dumps the target as it is now into a safety set (the backup machinery of
   * the job) before the restore writes over it; resolves with its set id.
   * `settings` are the kind's settings that back up the target.
   */
  takeSafetySet(settings: unknown, targetName: string): Promise<string>;
}

/** `restore files`: a tree under a directory. */
export interface FilesTarget {
  content: 'files';
  /** The target directory; it must not exist, or be empty, unless `force`. */
  to: string;
  /** Only entries equal to or under these paths (absolute on the backed-up machine, with or without the leading `/`). */
  paths: string[];
  /** Merge into a non-empty target, replacing entries of the same name. */
  force: boolean;
  /** Space that must stay free on the target's filesystem (`monitor.min_free` syntax). */
  keepFree?: string;
}

export type RestoreTarget = DatabaseTarget | FilesTarget;

export interface DatabaseRestored {
  content: 'database';
  /** "database shop_restored at 127.0.0.1:3306" or "file /srv/app/database.sqlite". */
  target: string;
  created: boolean;
  rawBytes: number;
  /** mysql: the account that restored (CURRENT_USER()). */
  account?: string;
  /** The safety set taken of the target before it was written over. */
  safetySetId?: string;
}

export interface RestoredCounts {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
}

export interface FilesRestored {
  content: 'files';
  /** Absolute path of the target directory. */
  target: string;
  /** `created`: the target was new or empty; `merged`: --force into a non-empty target. */
  placement: 'created' | 'merged';
  /** The selection, as archive names (no leading `/`); empty for everything. */
  paths: string[];
  entries: RestoredCounts;
  /** Compressed bytes read (equal to the manifest's size). */
  sizeBytes: number;
}

export type Restored = DatabaseRestored | FilesRestored;

/** Times the restore alone, so the measured RTO leaves the comparison out. */
export interface RestoreStopwatch {
  start(): void;
  /** Stops and returns the milliseconds since start. */
  stop(): number;
}

export interface DrillContext extends RestoreContext {
  /** The configuration the drill runs with: its account (drill.mysql), smoke queries, `monitor.min_free`, the repository. */
  loaded: LoadedConfig;
  /** The drill's private scratch directory, removed by the job afterwards. */
  scratchDir: string;
  /** Started right before the restore writes, stopped once it is restored: read by the job also when the drill fails. */
  stopwatch: RestoreStopwatch;
}

/** A drill lists at most this many differences of one source (and says when there were more). */
export const MAX_LISTED_DIFFERENCES = 50;

/** What a drill of one artifact found. */
export interface DrillMeasurement {
  ok: boolean;
  /** How long the restore alone took: the measured RTO of this source. */
  restoreMs: number;
  compareMs: number;
  /** What was compared, e.g. "3 table(s), 3 row digest(s), 5 object(s), 1 query" or "1204 entries". */
  compared: string;
  differences: string[];
  /** What was not compared and why, or what differed without being a failure. */
  notes: string[];
}

export interface DrillSweepContext {
  loaded: LoadedConfig;
  /** The artifacts of this kind in the set being drilled, with their sources' settings. */
  artifacts: Array<{ artifact: ArtifactRecord; settings(): unknown }>;
  log: RestoreLog;
}

export interface RestoreSide {
  /** Restores the artifact into the target; the target's content is the driver's. */
  restore(context: RestoreContext, target: RestoreTarget): Promise<Restored>;
  /** Restores the artifact into scratch and compares it with the manifest's facts; the scratch copy is removed. */
  drill(context: DrillContext): Promise<DrillMeasurement>;
  /** The stock commands that restore an artifact without restorable, for hints ("gzip -dc artifact | mysql DB"). */
  restoreByHand(artifact: ArtifactRecord): string;
  /**
   * Removes what drills of this repository that were killed left outside the
   * scratch directory (scratch databases on a server); returns their names.
   * Kinds that restore only into the scratch directory have nothing to sweep.
   */
  sweepDrillLeftovers?(context: DrillSweepContext): Promise<string[]>;
}

/** Restores through `driver` and types the answer by the target's content. */
export async function restoreInto<Target extends RestoreTarget>(
  driver: RestoreSide,
  context: RestoreContext,
  target: Target,
): Promise<Extract<Restored, { content: Target['content'] }>> {
  const restored = await driver.restore(context, target);
  if (restored.content !== target.content) throw new Error(`a ${target.content} restore of ${context.artifact.path} answered with ${restored.content}`);
  return restored as Extract<Restored, { content: Target['content'] }>;
}

/** A driver's answer to a target of the other content (the job chose the artifact by content, so this is a bug). */
export function wrongTarget(artifact: ArtifactRecord, target: RestoreTarget): never {
  throw new RestorableError(`${artifact.source} (${artifact.type}) is not restored by \`restore ${target.content === 'database' ? 'db' : 'files'}\``, {
    code: 'USAGE',
    remedy: target.content === 'database' ? 'restore it with `restorable restore files`' : 'restore it with `restorable restore db`',
  });
}

/**
 * A target that is not empty is changed only when the operator said so:
 * `--yes`, or its name typed at the prompt; otherwise nothing was changed.
 */
export async function confirmOverwrite(target: DatabaseTarget, name: string, problem: string): Promise<void> {
  if (target.yes) return;
  if (target.confirm) {
    const typed = await target.confirm(`${problem}. Restoring will change it. Type its name (${name}) to go on: `);
    if (typed.trim() === name) return;
  }
  throw new RestorableError(`${problem}; nothing was changed`, {
    code: 'RESTORE_REFUSED',
    remedy: 'restore into a new database with --into NEW (the default), or pass --yes to restore onto it',
  });
}
