// Owns `.restorable/`, the state restorable keeps in the repository beside the
// sets (no extra database): the run history (`runs.jsonl`), what became of
// every notification (`notifications.jsonl`) and the notify memory
// (`notify-state.json`). Other modules store their records through here and
// never build a path into `.restorable/` themselves. The job lock (job-lock.ts)
// and the publish/prune journals and scratch space (local-repository.ts) live
// in the same directory under their own owners.
//
// Invariants:
// - `.restorable` is created (0700) inside an existing repository, never the
//   repository itself: an unmounted backup disk must stay visibly missing.
// - Files are 0600 and never written or read through a link planted in the
//   repository; the repository is untrusted input, so readers skip a torn last
//   line (a crash mid-append) and every line whose shape is not theirs.
// - An append is one write, so concurrent writers (backup and check) never
//   interleave lines; a JSON state file is replaced atomically (rename).

import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { STATE_DIR } from './local-spool.ts';
import { writeFileAtomically } from './private-files.ts';
import { appendJsonLines, readJsonLines } from './json-lines-file.ts';
import { readSmallFileNoFollow } from './repository-paths.ts';

/** The files this store keeps; each has one owner of its shape (run history here, the others in notify/). */
export type StateFile = 'runs.jsonl' | 'notifications.jsonl' | 'notify-state.json';

/** A JSON state file is a few hundred bytes; anything far larger was not written by restorable. */
const MAX_STATE_JSON_BYTES = 1024 * 1024;

export function statePath(repositoryPath: string, file: StateFile): string {
  return join(repositoryPath, STATE_DIR, file);
}

/** Creates `.restorable` (0700) inside an existing repository, but never the repository itself. */
export async function ensureStateDir(repositoryPath: string): Promise<void> {
  try {
    await mkdir(join(repositoryPath, STATE_DIR), { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/**
 * Where a job puts short-lived scratch files: beside the backups (where space
 * is planned for them) when the repository has its state directory, else the
 * system's temporary directory.
 */
export function scratchParentFor(repositoryPath: string): string {
  const stateDir = join(repositoryPath, STATE_DIR);
  return existsSync(stateDir) ? stateDir : tmpdir();
}

/** Appends whole lines in one write; creates `.restorable` when missing. */
export async function appendStateLines(repositoryPath: string, file: StateFile, values: readonly unknown[]): Promise<void> {
  if (values.length === 0) return;
  await ensureStateDir(repositoryPath);
  await appendJsonLines(statePath(repositoryPath, file), [...values]);
}

/** Every line `accept` takes (all parsable ones without it), oldest first; an absent file is an empty list. */
export async function readStateLines<T>(repositoryPath: string, file: StateFile, accept?: (value: unknown) => boolean): Promise<T[]> {
  return readJsonLines<T>(statePath(repositoryPath, file), accept);
}

/** The parsed JSON of a state file; undefined when it is absent, unreadable or not JSON (the caller decides what that means). */
export async function readStateJson(repositoryPath: string, file: StateFile): Promise<unknown> {
  try {
    return JSON.parse(await readSmallFileNoFollow(statePath(repositoryPath, file), MAX_STATE_JSON_BYTES)) as unknown;
  } catch {
    return undefined;
  }
}

export async function writeStateJson(repositoryPath: string, file: StateFile, value: unknown): Promise<void> {
  await ensureStateDir(repositoryPath);
  await writeFileAtomically(statePath(repositoryPath, file), JSON.stringify(value, null, 2) + '\n');
}

// ---- the run history: what `check`, `report`, `metrics`, `list` and notifications read to know past runs

export interface RunRecord {
  runId: string;
  command: 'backup' | 'drill' | 'verify' | 'prune';
  /** `aborted`: interrupted (a drill stopped by Ctrl-C); proves nothing either way. */
  status: 'ok' | 'warning' | 'failed' | 'aborted';
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  setId?: string;
  /** Per source: compressed size and duration of its artifact. */
  sources?: Record<string, { sizeBytes: number; rawSizeBytes: number; durationMs: number }>;
  warnings?: number;
  error?: { code: string; message: string; remedy?: string; source?: string };
  details?: RunDetails;
}

/** Facts of the command beyond the common fields; a drill records these two, other commands their own. */
export type RunDetails = {
  /** Drill: seconds each source took to restore, by source name. */
  restoreSeconds?: Record<string, number>;
  /** Drill: the per-source results, as the drill job shapes them. */
  results?: unknown;
  [fact: string]: unknown;
};

export function runHistoryPath(repositoryPath: string): string {
  return statePath(repositoryPath, 'runs.jsonl');
}

/**
 * Appends one run. Unlike the other appends it does not create `.restorable`:
 * every run that records itself took the job lock there first.
 */
export async function appendRun(repositoryPath: string, record: RunRecord): Promise<void> {
  await appendJsonLines(runHistoryPath(repositoryPath), [record]);
}

const finiteNonNegative = z.number().finite().nonnegative();
const instant = z.string().max(64).refine((text) => Number.isFinite(Date.parse(text)));

/**
 * What a line must look like to count as a run, lenient on what the readers do
 * not use: a planted line must not turn into "NaN" durations or a crash in
 * `check`, `report` or `metrics`.
 */
const runRecordSchema = z.looseObject({
  runId: z.string().max(200),
  command: z.string().max(40),
  status: z.enum(['ok', 'warning', 'failed', 'aborted']),
  startedAt: instant,
  finishedAt: instant,
  durationMs: finiteNonNegative,
  setId: z.string().max(64).optional(),
  sources: z.record(z.string(), z.looseObject({ sizeBytes: finiteNonNegative, rawSizeBytes: finiteNonNegative, durationMs: finiteNonNegative })).optional(),
  warnings: finiteNonNegative.optional(),
  details: z.looseObject({ restoreSeconds: z.record(z.string(), finiteNonNegative).optional() }).optional(),
});

/** All recorded runs, oldest first; lines that are not run records are skipped. */
export async function readRuns(repositoryPath: string): Promise<RunRecord[]> {
  return readStateLines<RunRecord>(repositoryPath, 'runs.jsonl', (value) => runRecordSchema.safeParse(value).success);
}
