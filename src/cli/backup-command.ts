// Owns `restorable backup [--only db,files] [--keep NOTE]`: runs one backup
// (pinned with a note when --keep), prints the outcome, maps it to the exit
// code (ok 0, warning 1, failed 2). SIGINT and SIGTERM stop the run cleanly:
// nothing published, no `.partial` left.

import type { Command } from 'commander';
import { ExitCode, RestorableError } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { runBackupAndNotify } from '../jobs/backup-and-notify.ts';
import { formatBytes, formatSeconds } from '../core/units.ts';
import { systemClock } from '../core/ports.ts';
import { totalSizeBytes } from '../core/manifest.ts';
import { createReporter, line, printJson, renderError, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';
import { interruptible } from './interrupt.ts';

export function registerBackupCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('backup')
    .description('back up every source (or --only some) into a new set')
    .option('--only <sources>', 'comma-separated source names, e.g. db,files')
    .option('--keep <note>', 'pin the set: retention keeps it until `restorable unpin SET`, e.g. --keep "before 2.4 deploy"')
    .action(
      run(async (options) => {
        const loaded = loadConfig(locateConfig(options.config), options.configSafety);
        const only = typeof options.only === 'string' ? options.only.split(',').map((name) => name.trim()).filter(Boolean) : undefined;
        const keep = typeof options.keep === 'string' ? pinNote(options.keep) : undefined;
        return interruptible(async (signal) => {
          const outcome = await runBackupAndNotify({ loaded, only, keep, clock: systemClock, reporter: createReporter(output), signal: signal });
          if (output.json) {
            printJson(output, {
              status: outcome.status,
              job: loaded.config.app,
              repository: loaded.repositoryPath,
              setId: outcome.setId,
              pin: outcome.manifest?.pin,
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
            if (keep !== undefined) line(output, `pinned: "${keep}" (kept by retention until \`restorable unpin ${outcome.setId}\`)`);
          }
          return outcome.status === 'ok' ? ExitCode.OK : outcome.status === 'warning' ? ExitCode.WARNING : outcome.error?.exitCode ?? ExitCode.CRITICAL;
        });
      }),
    );
}

/** A pin's note: one line of printable text, at most 200 characters (it is printed by list and prune). */
function pinNote(text: string): string {
  const note = text.trim();
  if (note === '' || note.length > 200 || /[\u0000-\u001f\u007f]/.test(note)) {
    throw new RestorableError('--keep takes a short note of one line (1-200 characters), e.g. --keep "before 2.4 deploy"', {
      code: 'USAGE',
      remedy: 'say in a few words why the set is kept',
    });
  }
  return note;
}
