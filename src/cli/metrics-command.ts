// Owns `restorable metrics [--textfile FILE]`: the Prometheus text exposition
// on stdout (for a scrape through a wrapper, or a pipe), or written
// atomically to FILE for node_exporter's textfile collector (run it from cron
// or after each backup). `--json` gives the same families as data. The exit
// code is 0 whenever an exposition was produced, also when it reports an
// unreadable repository: the series say so, and `check` is the alerting path.

import type { Command } from 'commander';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { collectMetricFamilies } from '../jobs/metrics.ts';
import { renderExposition, writePrometheusTextfile } from '../notify/prometheus-text.ts';
import { systemClock } from '../core/ports.ts';
import { printJson, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';

export function registerMetricsCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('metrics')
    .description('Prometheus text exposition on stdout (or --textfile for node_exporter)')
    .option('--textfile <file>', "write atomically to this .prom file (node_exporter's textfile collector) instead of stdout")
    .action(
      run(async (options) => {
        const loaded = loadConfig(locateConfig(options.config), options.configSafety);
        const families = await collectMetricFamilies({ loaded, clock: systemClock });
        const textfile = typeof options.textfile === 'string' ? options.textfile : undefined;
        if (textfile) await writePrometheusTextfile(textfile, renderExposition(families));
        if (output.json) printJson(output, textfile ? { textfile, families } : { families });
        else if (!textfile) output.out.write(renderExposition(families));
        return ExitCode.OK;
      }),
    );
}
