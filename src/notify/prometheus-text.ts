// Owns the Prometheus text exposition (format 0.0.4): every family with HELP
// and TYPE, label values escaped as the format demands; and writing it for
// node_exporter's textfile collector, atomically, so the collector never reads
// half a file.

import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RestorableError } from '../core/errors.ts';
import type { MetricFamily } from '../checks/metric-families.ts';

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
