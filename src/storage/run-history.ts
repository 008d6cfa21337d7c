// Owns the run history kept in the repository (no extra database): one JSON
// line per run in `.restorable/runs.jsonl` — what `check`, `report`,
// `metrics` and notifications read to know the last outcome, durations,
// sizes and failures. Appends are small single writes; a torn last line
// (power loss) is skipped when reading, and so is any line whose shape is not
// a run record (the repository is untrusted input: a planted line must not
// turn into "NaN" durations or a crash in `check`, `report` or `metrics`).

import { join } from 'node:path';
import { z } from 'zod';
import { STATE_DIR } from './local-repository.ts';
import { appendJsonLines, readJsonLines } from './json-lines-file.ts';

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
  /** Free-form facts of the command (drill: restore times per source...). */
  details?: Record<string, unknown>;
}

export function runHistoryPath(repositoryRoot: string): string {
  return join(repositoryRoot, STATE_DIR, 'runs.jsonl');
}

export async function appendRun(repositoryRoot: string, record: RunRecord): Promise<void> {
  await appendJsonLines(runHistoryPath(repositoryRoot), [record]);
}

const finiteNonNegative = z.number().finite().nonnegative();
const instant = z.string().max(64).refine((text) => Number.isFinite(Date.parse(text)));

/** What a line must look like to count as a run (lenient on what the readers do not use). */
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
  details: z.record(z.string(), z.unknown()).optional(),
});

/** All recorded runs, oldest first; lines that are not run records are skipped. */
export async function readRuns(repositoryRoot: string): Promise<RunRecord[]> {
  return readJsonLines<RunRecord>(runHistoryPath(repositoryRoot), (value) => runRecordSchema.safeParse(value).success);
}
