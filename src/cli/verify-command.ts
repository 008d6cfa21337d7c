// Owns `restorable verify [SET|latest] [--all]`: runs the deep check of one set
// (the newest by default) or of every complete set, prints one line per stored
// file as it is checked, and maps the outcome to the exit code: 0 when every
// file passed, 2 naming the first failed file and its verify check. Ctrl-C or
// SIGTERM stops it with 128 + the signal's number (130 for Ctrl-C), as for
// drill: a file cut short by the interruption is not reported as damaged.

import type { Command } from 'commander';
import { ExitCode, RestorableError } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { formatBytes, formatSeconds } from '../core/units.ts';
import { describeFailure, runVerify, verificationError, type FileVerification, type VerifyOutcome } from '../jobs/verify.ts';
import { openRepository } from '../storage/open-repository.ts';
import { scratchParentFor } from '../storage/state-store.ts';
import { line, printJson, renderError, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';
import { interruptExitCode, interruptible } from './interrupt.ts';

export function registerVerifyCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('verify')
    .description('deep check of a set: sha256, full decompression, archive readable, dump complete')
    .argument('[set]', 'set id or `latest`', 'latest')
    .option('--all', 'verify every complete set')
    .action(
      run(async (options, set) => {
        const loaded = loadConfig(locateConfig(options.config), options.configSafety);
        const repository = openRepository(loaded);
        let currentSet: string | undefined;
        return interruptible(async (signal) => {
          let outcome: VerifyOutcome;
          try {
            outcome = await runVerify({
              reader: repository,
              set: typeof set === 'string' ? set : undefined,
              all: options.all === true,
              // SQLite copies are checked from a scratch file.
              scratchParent: scratchParentFor(repository.root),
              signal,
              onFile: (setId, file) => {
                if (output.json) return;
                if (setId !== currentSet) {
                  currentSet = setId;
                  line(output, `set ${setId} in ${repository.root}:`);
                }
                line(output, `  ${describeFileLine(file)}`);
              },
            });
          } catch (error) {
            if (!signal.aborted) throw error;
            return interrupted(output, signal);
          }
          if (signal.aborted) return interrupted(output, signal);
          const failure = verificationError(outcome);
          if (output.json) {
            printJson(output, { ...outcome, job: loaded.config.app, error: failure?.toJSON() });
          } else {
            for (const unreadable of outcome.sets.filter((each) => each.error)) line(output, `set ${unreadable.setId}: FAILED ${unreadable.error!.message}`);
            if (failure) renderError(output, failure);
            else {
              const files = outcome.sets.reduce((sum, each) => sum + each.files.length, 0);
              line(output, `verify OK: ${outcome.sets.length} set(s), ${files} file(s) checked`);
            }
          }
          return failure ? failure.exitCode : ExitCode.OK;
        });
      }),
    );
}

/** An interrupted verify proves nothing either way: it says so and exits as a shell reports the signal. */
function interrupted(output: Output, signal: AbortSignal): number {
  renderError(output, new RestorableError(`verify was ${String(signal.reason)}`, { code: 'INTERRUPTED', remedy: 'run verify again' }));
  return interruptExitCode(signal);
}

/** `ok      db/db_backup_X.sqlite.gz  8.3 KB  size sha256 gzip sqlite row-counts  0.1 s` or `FAILED  <path>: <first failure>`. */
function describeFileLine(file: FileVerification): string {
  if (file.status === 'failed') return `FAILED  ${describeFailure(file)}`;
  const size = typeof file.facts.sizeBytes === 'number' ? formatBytes(file.facts.sizeBytes) : '?';
  const entries = typeof file.facts.entries === 'number' ? `, ${file.facts.entries} entries` : '';
  return `ok      ${file.path}  ${size}${entries}  [${file.passed.join(' ')}]  ${formatSeconds(file.durationMs)}`;
}
