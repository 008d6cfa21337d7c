// Owns the run history kept in the repository (no extra database): one JSON
// line per run in `.restorable/runs.jsonl` — what `check`, `report`,
// `metrics` and notifications read to know the last outcome, durations,
// sizes and failures. Appends are small single writes; a torn last line
// (power loss) is skipped when reading.

import { join } from 'node:path';
import { STATE_DIR } from './local-repository.ts';
import { appendJsonLines, readJsonLines } from './json-lines-file.ts';

export interface RunRecord {
  runId: string;
  command: 'backup' | 'drill' | 'verify' | 'prune';
  status: 'ok' | 'warning' | 'failed';
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

/** All recorded runs, oldest first. */
export async function readRuns(repositoryRoot: string): Promise<RunRecord[]> {
  return readJsonLines<RunRecord>(runHistoryPath(repositoryRoot));
}
