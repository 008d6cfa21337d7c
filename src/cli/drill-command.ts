// Owns `restorable drill [SET]`: the restore test on demand (the scheduler runs
// the same job). Prints per source whether it restored and compared clean and
// how long the restore took; exit 0 proven restorable, 2 not. The summary line
// says what happened: which source could not be restored and why (damage, a
// refused login, a missing privilege), or which did not restore as recorded.
// A failed drill is announced through the configured channels (the job does
// that); an interrupted one (Ctrl-C, SIGTERM) is recorded as aborted, announced
// to nobody, and exits 128 + the signal's number (130 for Ctrl-C), as a shell
// reports it.

import type { Command } from 'commander';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { openRepository } from '../storage/open-repository.ts';
import type { DrillOutcome } from '../jobs/drill.ts';
import { runDrillAndNotify } from '../jobs/drill-and-notify.ts';
import { systemClock } from '../core/ports.ts';
import { formatSeconds } from '../core/units.ts';
import { createReporter, line, printJson, renderError, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';
import { interruptExitCode, interruptible } from './interrupt.ts';

export function registerDrillCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('drill')
    .argument('[set]', 'set id or latest', 'latest')
    .description('restore test: restore the set into scratch databases and directories, compare with what was recorded at backup time, record the result and the restore time')
    .action(
      run(async (options, set) => {
        const loaded = loadConfig(locateConfig(options.config), options.configSafety);
        return interruptible(async (signal) => {
          const outcome = await runDrillAndNotify(
            {
              loaded,
              reader: openRepository(loaded),
              set: set as string,
              clock: systemClock,
              reporter: createReporter(output),
              signal: signal,
            },
            (message) => {
              if (!output.json) output.err.write(`notification: ${message}\n`);
            },
          );
          if (output.json) {
            printJson(output, { ...outcome, error: outcome.error?.toJSON() });
          } else if (outcome.error) {
            renderError(output, outcome.error);
          } else {
            line(output, summaryLine(outcome));
          }
          if (outcome.status === 'aborted') return interruptExitCode(signal);
          return outcome.status === 'ok' ? ExitCode.OK : ExitCode.CRITICAL;
        });
      }),
    );
}

/** `drill OK: ...` or `drill FAILED: ...` naming per failed source what happened, with the time each restore really took. */
function summaryLine(outcome: DrillOutcome): string {
  const times = outcome.results
    .map((result) => `${result.source} ${formatSeconds(result.restoreMs)}${result.restoreFailure && result.restoreFailure.stage !== 'compare' ? ' (until it failed)' : ''}`)
    .join(', ');
  if (outcome.status === 'ok') return `drill OK: set ${outcome.setId} is proven restorable; restore time ${times}`;
  const failures = outcome.results
    .filter((result) => !result.ok)
    .map((result) =>
      result.restoreFailure
        ? `${result.source} could not be ${result.restoreFailure.stage === 'compare' ? 'compared' : 'restored'}: ${result.restoreFailure.summary}`
        : `${result.source} did not restore as recorded (${result.differences.length} difference${result.differences.length === 1 ? '' : 's'})`,
    );
  return `drill FAILED: set ${outcome.setId}: ${failures.join('; ')}; restore time ${times}`;
}
