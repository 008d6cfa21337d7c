// Owns what makes a set "degraded" in words: the paths a files source could
// not archive faithfully (changed while read, unreadable, unnameable), read
// from the warnings each artifact record carries. `list`, `check` and the
// report show it, so a WARNING set says what it lacks, not just that it lacks.
// Pure: no I/O here.

import type { Manifest } from './manifest.ts';

/** Warning codes that mean: the archive is not a faithful copy of these paths. */
const DEGRADING_CODES: Record<string, string> = {
  FILE_CHANGED: 'changed while read',
  FILE_UNREADABLE: 'not readable',
  FILE_UNNAMEABLE: 'name not UTF-8',
};

/** Paths named in a summary line; the rest are counted. */
const PATHS_IN_SUMMARY = 3;

export interface SetDegradation {
  /** e.g. "2 paths changed while read, 1 not readable: /a, /b, /c" */
  summary: string;
  /** Every affected path recorded, per source, as `source: path`. */
  paths: string[];
}

export function describeDegradation(manifest: Pick<Manifest, 'artifacts'>): SetDegradation | undefined {
  const counts = new Map<string, number>();
  const paths: string[] = [];
  for (const artifact of manifest.artifacts) {
    for (const warning of artifact.warnings ?? []) {
      const what = DEGRADING_CODES[warning.code];
      if (!what) continue;
      counts.set(what, (counts.get(what) ?? 0) + 1);
      if (warning.path) paths.push(`${artifact.source}: ${warning.path}`);
    }
  }
  if (counts.size === 0) return undefined;
  const parts = [...counts].map(([what, count]) => `${count} path${count === 1 ? '' : 's'} ${what}`);
  const named = paths.slice(0, PATHS_IN_SUMMARY).join(', ') + (paths.length > PATHS_IN_SUMMARY ? `, and ${paths.length - PATHS_IN_SUMMARY} more` : '');
  return { summary: `${parts.join(', ')}${named ? `: ${named}` : ''}`, paths };
}
