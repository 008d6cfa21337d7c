// Owns the Prometheus text exposition (format 0.0.4) behind `restorable
// metrics`: built from the same snapshot and the same checks as `restorable
// check`, so a dashboard and the Nagios line never disagree. Every family has
// HELP and TYPE; label values are escaped as the format demands. Also owns
// writing it for node_exporter's textfile collector, atomically, so the
// collector never reads half a file.

import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RestorableError } from '../core/errors.ts';
import { totalSizeBytes } from '../core/manifest.ts';
import type { LoadedConfig } from '../config/load.ts';
import { STATE_EXIT_CODE, type Check, type CheckContext, type CheckResult } from '../checks/check.ts';
import { defaultChecks } from '../checks/registry.ts';
import { newestSetPerSource, setStartedAt } from '../checks/age.ts';
import { evaluateChecks, gatherCheckContext } from './check.ts';
import type { Clock } from './ports.ts';

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

export interface MetricsRequest {
  loaded: LoadedConfig;
  clock: Clock;
  checks?: readonly Check[];
}

/** The exposition text for the job's repository (what `restorable metrics` prints). */
export async function buildMetrics(request: MetricsRequest): Promise<string> {
  return renderExposition(await collectMetricFamilies(request));
}

/** The metric families, for callers that want data rather than text (`metrics --json`, the daemon). */
export async function collectMetricFamilies(request: MetricsRequest): Promise<MetricFamily[]> {
  const job = request.loaded.config.app;
  let context: CheckContext;
  try {
    context = await gatherCheckContext(request.loaded, request.clock.now());
  } catch (error) {
    if (!(error instanceof RestorableError) || (error.code !== 'REPOSITORY_UNREADABLE' && error.code !== 'REPOSITORY_UNSAFE')) throw error;
    // Nothing else can be known; say so in a series an alert can match (an unsafe repository is CRITICAL, as in `check`).
    const state = error.code === 'REPOSITORY_UNSAFE' ? 'CRITICAL' : 'UNKNOWN';
    return [readableFamily(job, false), checkStateFamily(job, [{ name: 'repository', state, summary: error.message, perfdata: [] }])];
  }
  const results = await evaluateChecks(context, request.checks ?? defaultChecks);
  return metricFamilies(context, results);
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

function readableFamily(job: string, readable: boolean): MetricFamily {
  return {
    name: 'restorable_repository_readable',
    help: '1 when the local repository could be read; 0 when nothing else could be measured.',
    type: 'gauge',
    samples: [{ labels: { [JOB_LABEL]: job }, value: readable ? 1 : 0 }],
  };
}

function checkStateFamily(job: string, results: CheckResult[]): MetricFamily {
  return {
    name: 'restorable_check_state',
    help: 'State of each `restorable check` check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.',
    type: 'gauge',
    samples: results.map((result) => ({ labels: { [JOB_LABEL]: job, check: result.name }, value: STATE_EXIT_CODE[result.state] })),
  };
}

/** Text exposition format 0.0.4: `# HELP`, `# TYPE`, then `name{label="value"} number` per sample. */
export function renderExposition(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
      lines.push(`${family.name}${labels.length ? `{${labels.join(',')}}` : ''} ${formatSampleValue(sample.value)}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** In a label value, backslash, double quote and line feed must be escaped. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

/** In HELP text, backslash and line feed must be escaped (quotes may stand). */
function escapeHelp(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/**
 * Writes the exposition for node_exporter's textfile collector
 * (`--collector.textfile.directory`): into `<path>.<pid>.partial` in the same
 * directory, fsynced, then renamed over `path`, so the collector reads either
 * the old file or the new one, never a torn one (it ignores names not ending
 * in `.prom`). Mode 0644, unlike everything else restorable writes: the
 * collector usually runs as its own user, and the metrics hold no secrets.
 */
export async function writePrometheusTextfile(path: string, text: string): Promise<void> {
  if (!basename(path).endsWith('.prom')) {
    // node_exporter would silently never read it: refuse rather than write a file nobody sees.
    throw new RestorableError(`the Prometheus textfile ${path} does not end in .prom, so node_exporter's textfile collector would ignore it`, {
      code: 'TEXTFILE_NAME',
      where: { path },
      remedy: `name it e.g. ${join(dirname(path), 'restorable.prom')}`,
    });
  }
  // Per process, so a backup refreshing the file and a cron `metrics` never write into one partial.
  const partial = `${path}.${process.pid}.partial`;
  try {
    const handle = await open(partial, 'w', 0o644);
    try {
      await handle.writeFile(text);
      await handle.chmod(0o644); // the umask may have narrowed it
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(partial, path);
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (error) {
    await rm(partial, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    throw new RestorableError(`cannot write the Prometheus textfile ${path}: ${code ?? (error as Error).message}`, {
      code: 'TEXTFILE_WRITE_FAILED',
      where: { path },
      remedy:
        code === 'ENOENT'
          ? `create ${dirname(path)} (the directory node_exporter's --collector.textfile.directory points at) or fix the path`
          : `make ${dirname(path)} writable for the user running restorable`,
      cause: error,
    });
  }
}
