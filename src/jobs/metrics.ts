// Owns `restorable metrics` as a use case: one monitoring snapshot (the same
// as `restorable check` takes), its check results, and the metric families of
// checks/metric-families.ts rendered as Prometheus text (notify/prometheus-text.ts).

import { RestorableError } from '../core/errors.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { Check, CheckContext } from '../checks/check.ts';
import { defaultChecks } from '../checks/registry.ts';
import { checkStateFamily, metricFamilies, readableFamily, type MetricFamily } from '../checks/metric-families.ts';
import { renderExposition } from '../notify/prometheus-text.ts';
import { evaluateChecks, gatherCheckContext } from '../checks/check-snapshot.ts';
import type { Clock } from '../core/ports.ts';

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
    if (!(error instanceof RestorableError) || !['REPOSITORY_UNREADABLE', 'REPOSITORY_UNSAFE', 'REPOSITORY_MISSING'].includes(error.code)) throw error;
    // Nothing else can be known; say so in a series an alert can match (an unsafe or missing repository is CRITICAL, as in `check`).
    const state = error.code === 'REPOSITORY_UNREADABLE' ? 'UNKNOWN' : 'CRITICAL';
    return [readableFamily(job, false), checkStateFamily(job, [{ name: 'repository', state, summary: error.message, perfdata: [] }])];
  }
  const results = await evaluateChecks(context, request.checks ?? defaultChecks);
  return metricFamilies(context, results);
}
