// Owns `restorable backup [--only db,files]`: runs one backup, prints the
// outcome, maps it to the exit code (ok 0, warning 1, failed 2). SIGINT and
// SIGTERM stop the run cleanly: nothing published, no `.partial` left.

import type { Command } from 'commander';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { runBackupAndNotify } from '../jobs/backup-and-notify.ts';
import { formatBytes, formatSeconds } from '../core/units.ts';
import { systemClock } from '../jobs/ports.ts';
import { totalSizeBytes } from '../core/manifest.ts';
import { createReporter, line, printJson, renderError, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';
import { interruptible } from './interrupt.ts';

export function registerBackupCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('backup')
    .description('back up every source (or --only some) into a new set')
    .option('--only <sources>', 'comma-separated source names, e.g. db,files')
    .action(
      run(async (options) => {
        const loaded = loadConfig(locateConfig(options.config), options.configSafety);
        const only = typeof options.only === 'string' ? options.only.split(',').map((name) => name.trim()).filter(Boolean) : undefined;
        return interruptible(async (signal) => {
          const outcome = await runBackupAndNotify({ loaded, only, clock: systemClock, reporter: createReporter(output), signal: signal });
          if (output.json) {
            printJson(output, {
              status: outcome.status,
              job: loaded.config.app,
              repository: loaded.repositoryPath,
              setId: outcome.setId,
              durationMs: outcome.durationMs,
              artifacts: outcome.manifest?.artifacts.map(({ source, path, sizeBytes, rawSizeBytes, sha256, durationMs, warnings }) => ({
                source,
                path,
                sizeBytes,
                rawSizeBytes,
                sha256,
                durationMs,
                warnings,
              })),
              warnings: outcome.warnings,
              error: outcome.error?.toJSON(),
              runLog: outcome.runLogPath,
            });
          } else if (outcome.status === 'failed') {
            renderError(output, outcome.error!);
            output.err.write('  nothing was published; earlier sets are untouched\n');
          } else {
            const manifest = outcome.manifest!;
            const summary = `backup ${outcome.status === 'ok' ? 'OK' : 'WARNING'}: set ${outcome.setId}, ${formatBytes(totalSizeBytes(manifest))} in ${formatSeconds(outcome.durationMs)}`;
            line(output, outcome.warnings.length ? `${summary}, ${outcome.warnings.length} warning(s)` : summary);
          }
          return outcome.status === 'ok' ? ExitCode.OK : outcome.status === 'warning' ? ExitCode.WARNING : outcome.error?.exitCode ?? ExitCode.CRITICAL;
        });
      }),
    );
}
