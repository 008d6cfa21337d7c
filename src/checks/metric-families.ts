// Owns the metric families of one monitoring snapshot: what `restorable
// metrics` exposes, built from the same snapshot and the same check results as
// `restorable check`, so a dashboard and the Nagios line never disagree. Pure:
// no I/O.

import { totalSizeBytes } from '../core/manifest.ts';
import { STATE_EXIT_CODE, type CheckContext, type CheckResult } from './check.ts';
import { newestSetPerSource, setStartedAt } from './age.ts';

/**
 * The label carrying the job (the configured `app`). Note: Prometheus sets its
 * own `job` label per scrape target; a scraped `job` label is renamed to
 * `exported_job` unless the scrape config has `honor_labels: true`.
 */
const JOB_LABEL = 'job';

export interface MetricSample {
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: MetricSample[];
}

/** Pure: the families for one snapshot and its check results. */
export function metricFamilies(context: CheckContext, results: CheckResult[]): MetricFamily[] {
  const job = context.job;
  const only = (labels: Record<string, string> = {}) => ({ [JOB_LABEL]: job, ...labels });
  const perSource = newestSetPerSource(context.sets, Object.keys(context.config.sources));
  const lastBackup = context.runs.filter((run) => run.command === 'backup').at(-1);
  const families: MetricFamily[] = [readableFamily(job, true)];

  families.push({
    name: 'restorable_last_success_timestamp_seconds',
    help: 'Start time (the moment its data is from) of the newest complete set holding this source, in seconds since the epoch.',
    type: 'gauge',
    samples: [...perSource].flatMap(([source, stored]) => (stored ? [{ labels: only({ source }), value: setStartedAt(stored.manifest).getTime() / 1000 }] : [])),
  });
  families.push({
    name: 'restorable_set_size_bytes',
    help: "Compressed size of this source's artifact (with its entry index) in the newest complete set holding it.",
    type: 'gauge',
    samples: [...perSource].flatMap(([source, stored]) => {
      const artifacts = stored?.manifest.artifacts.filter((artifact) => artifact.source === source) ?? [];
      if (artifacts.length === 0) return [];
      const value = artifacts.reduce((sum, artifact) => sum + artifact.sizeBytes + (artifact.index?.sizeBytes ?? 0), 0);
      return [{ labels: only({ source }), value }];
    }),
  });
  families.push({
    name: 'restorable_sets',
    help: 'Number of complete sets (with a manifest) in the local repository.',
    type: 'gauge',
    samples: [{ labels: only(), value: context.sets.length }],
  });
  families.push({
    name: 'restorable_repository_size_bytes',
    help: 'Bytes the complete sets of the local repository occupy, as their manifests record.',
    type: 'gauge',
    samples: [{ labels: only(), value: context.sets.reduce((sum, stored) => sum + totalSizeBytes(stored.manifest), 0) }],
  });
  if (lastBackup) {
    families.push({
      name: 'restorable_last_run_status',
      help: 'Outcome of the last backup run: 0 ok, 1 warning (published, degraded), 2 failed (nothing published).',
      type: 'gauge',
      samples: [{ labels: only(), value: { ok: 0, warning: 1, failed: 2, aborted: 2 }[lastBackup.status] }],
    });
    families.push({
      name: 'restorable_last_run_timestamp_seconds',
      help: 'When the last backup run finished, in seconds since the epoch.',
      type: 'gauge',
      samples: [{ labels: only(), value: Date.parse(lastBackup.finishedAt) / 1000 }],
    });
    families.push({
      name: 'restorable_last_run_duration_seconds',
      help: 'How long the last backup run took.',
      type: 'gauge',
      samples: [{ labels: only(), value: lastBackup.durationMs / 1000 }],
    });
  }
  if (!('error' in context.space)) {
    families.push({
      name: 'restorable_repository_free_bytes',
      help: 'Bytes available to restorable on the filesystem of the local repository.',
      type: 'gauge',
      samples: [{ labels: only(), value: context.space.freeBytes }],
    });
    families.push({
      name: 'restorable_repository_filesystem_size_bytes',
      help: 'Total size of the filesystem of the local repository.',
      type: 'gauge',
      samples: [{ labels: only(), value: context.space.totalBytes }],
    });
  }
  families.push(checkStateFamily(job, results));
  return families.filter((family) => family.samples.length > 0);
}

export function readableFamily(job: string, readable: boolean): MetricFamily {
  return {
    name: 'restorable_repository_readable',
    help: '1 when the local repository could be read; 0 when nothing else could be measured.',
    type: 'gauge',
    samples: [{ labels: { [JOB_LABEL]: job }, value: readable ? 1 : 0 }],
  };
}

export function checkStateFamily(job: string, results: CheckResult[]): MetricFamily {
  return {
    name: 'restorable_check_state',
    help: 'State of each `restorable check` check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.',
    type: 'gauge',
    samples: results.map((result) => ({ labels: { [JOB_LABEL]: job, check: result.name }, value: STATE_EXIT_CODE[result.state] })),
  };
}
