// Owns the `restorable restore` command group: `restore files` today, with
// `restore db` to slot in beside it (registerRestoreCommand creates the group
// and hands it to one register function per subcommand). Prints the target
// before anything is written and maps the outcome to the exit code: 0
// restored, 2 refused or failed (what, where, next step; never a stack trace).

import type { Command } from 'commander';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { formatBytes, formatSeconds } from '../core/units.ts';
import { runRestoreFiles } from '../jobs/restore-files.ts';
import { LocalRepository } from '../storage/local-repository.ts';
import { createReporter, line, printJson, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';
import { registerRestoreDbCommand } from './restore-db-command.ts';
import { interruptible } from './interrupt.ts';

/** Creates `restore` and its subcommands; returns the group so more can be added. */
export function registerRestoreCommand(program: Command, output: Output, run: ActionWrapper): Command {
  const restore = program.command('restore').description('restore from a set: a database (into a new database by default) or files (into a directory, safely)');
  registerRestoreDbCommand(restore, output, run);
  registerRestoreFilesCommand(restore, output, run);
  return restore;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function registerRestoreFilesCommand(restore: Command, output: Output, run: ActionWrapper): void {
  restore
    .command('files')
    .description('restore a files artifact into DIR (it recreates the absolute paths under DIR); DIR must be new or empty unless --force')
    .requiredOption('--to <dir>', 'target directory, e.g. /tmp/restore (created; must not exist or be empty)')
    .option('--set <set>', 'set id or `latest`', 'latest')
    .option('--source <name>', 'which files source (required when the set has several, e.g. files and config)')
    .option('--path <path>', 'restore only this path and what is under it (repeatable), e.g. /var/www/app/storage/app/public', collect, [] as string[])
    .option('--force', 'merge into a non-empty DIR, replacing entries of the same name')
    .action(
      run(async (options) => {
        const loaded = loadConfig(locateConfig(options.config), options.configSafety);
        const repository = new LocalRepository(loaded.repositoryPath);
        const outcome = await interruptible((signal) =>
          runRestoreFiles({
            reader: repository,
            set: options.set as string,
            source: options.source as string | undefined,
            to: options.to as string,
            paths: options.path as string[],
            force: options.force === true,
            reporter: createReporter(output),
            signal,
          }),
        );
        if (output.json) {
          printJson(output, { status: 'ok', job: loaded.config.app, ...outcome });
        } else {
          const { entries } = outcome;
          line(
            output,
            `restore OK: ${entries.files + entries.dirs + entries.symlinks + entries.hardlinks} entries of ${outcome.source} from set ${outcome.setId} ` +
              `(${formatBytes(outcome.sizeBytes)} read, sha256 verified) in ${outcome.target}, ${formatSeconds(outcome.durationMs)}`,
          );
        }
        return ExitCode.OK;
      }),
    );
}
