// Owns `restorable drill [SET]`: the restore test on demand (the scheduler runs
// the same job). Prints per source whether it restored and compared clean and
// how long the restore took; exit 0 proven restorable, 2 not. A failed drill
// is announced through the configured channels.

import type { Command } from 'commander';
import { hostname } from 'node:os';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { LocalRepository } from '../storage/local-repository.ts';
import { runDrill } from '../jobs/drill.ts';
import { systemClock } from '../jobs/ports.ts';
import { notifierForJob } from '../jobs/job-notifier.ts';
import { formatSeconds } from '../core/units.ts';
import { createReporter, line, printJson, renderError, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';
import { interruptible } from './interrupt.ts';

export function registerDrillCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('drill')
    .argument('[set]', 'set id or latest', 'latest')
    .description('restore test: restore the set into scratch databases and directories, compare with what was recorded at backup time, record the result and the restore time')
    .action(
      run(async (options, set) => {
        const loaded = loadConfig(locateConfig(options.config));
        return interruptible(async (signal) => {
          const outcome = await runDrill({
            loaded,
            reader: new LocalRepository(loaded.repositoryPath),
            set: set as string,
            clock: systemClock,
            reporter: createReporter(output),
            signal: signal,
          });
          if (outcome.status === 'failed' && !signal.aborted) {
            const notifier = notifierForJob(loaded, systemClock, (message) => {
              if (!output.json) output.err.write(`notification: ${message}
`);
            });
            await notifier.send({
              kind: 'drill_failed',
              job: loaded.config.app,
              host: hostname(),
              at: systemClock.now().toISOString(),
              setId: outcome.setId,
              differences: outcome.results.flatMap((result) => result.differences.map((difference) => `${result.source}: ${difference}`)),
              ...(outcome.error ? { error: { message: outcome.error.message, code: outcome.error.code, where: outcome.error.where, remedy: outcome.error.remedy, details: outcome.error.details } } : {}),
            } as Parameters<typeof notifier.send>[0]);
          }
          if (output.json) {
            printJson(output, { ...outcome, error: outcome.error?.toJSON() });
          } else if (outcome.error) {
            renderError(output, outcome.error);
          } else {
            const times = outcome.results.map((result) => `${result.source} ${formatSeconds(result.restoreMs)}`).join(', ');
            line(output, `drill ${outcome.status === 'ok' ? 'OK' : 'FAILED'}: set ${outcome.setId} ${outcome.status === 'ok' ? 'is proven restorable' : 'did not restore as recorded'}; restore time ${times}`);
          }
          return outcome.status === 'ok' ? ExitCode.OK : ExitCode.CRITICAL;
        });
      }),
    );
}
