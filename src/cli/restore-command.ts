// Owns the `restorable restore` command group (registerRestoreCommand creates
// the group and hands it to one register function per subcommand: `db`,
// `all` in their own files) and `restore files`: every files source of the
// set into DIR, or the one --source names. Prints the target before anything
// is written and maps the outcome to the exit code: 0 restored, 2 refused or
// failed (what, where, next step; never a stack trace).

import type { Command } from 'commander';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { formatBytes, formatSeconds } from '../core/units.ts';
import { runRestoreFilesOfSet, type RestoreFilesOutcome } from '../jobs/restore-files.ts';
import { openRepository } from '../storage/open-repository.ts';
import { createReporter, line, printJson, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';
import { registerRestoreDbCommand } from './restore-db-command.ts';
import { registerRestoreAllCommand } from './restore-all-command.ts';
import { interruptible } from './interrupt.ts';

/** Creates `restore` and its subcommands; returns the group so more can be added. */
export function registerRestoreCommand(program: Command, output: Output, run: ActionWrapper): Command {
  const restore = program.command('restore').description('restore from a set: a database (into a new database by default) or files (into a directory, safely)');
  registerRestoreDbCommand(restore, output, run);
  registerRestoreFilesCommand(restore, output, run);
  registerRestoreAllCommand(restore, output, run);
  return restore;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function registerRestoreFilesCommand(restore: Command, output: Output, run: ActionWrapper): void {
  restore
    .command('files')
    .description('restore the files sources of a set into DIR (it recreates the absolute paths under DIR); DIR must be new or empty unless --force')
    .requiredOption('--to <dir>', 'target directory, e.g. /tmp/restore (created; must not exist or be empty)')
    .option('--set <set>', 'set id or `latest`', 'latest')
    .option('--source <name>', 'only this files source (default: every files source of the set, e.g. files and config)')
    .option('--path <path>', 'restore only this path and what is under it (repeatable), e.g. /var/www/app/storage/app/public', collect, [] as string[])
    .option('--force', 'merge into a non-empty DIR, replacing entries of the same name')
    .action(
      run(async (options) => {
        const loaded = loadConfig(locateConfig(options.config), options.configSafety);
        const repository = openRepository(loaded);
        const outcomes = await interruptible((signal) =>
          runRestoreFilesOfSet({
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
          // One source: its outcome as ever; several: each in `restored`.
          const [first] = outcomes;
          printJson(output, outcomes.length === 1 ? { status: 'ok', job: loaded.config.app, ...first } : { status: 'ok', job: loaded.config.app, setId: first!.setId, target: first!.target, restored: outcomes });
        } else {
          for (const outcome of outcomes) line(output, describeFilesRestored(outcome));
        }
        return ExitCode.OK;
      }),
    );
}

/** `restore OK: 12 entries of files from set ... (... read, sha256 verified) in DIR, 0.4 s` */
export function describeFilesRestored(outcome: RestoreFilesOutcome): string {
  const { entries } = outcome;
  return (
    `restore OK: ${entries.files + entries.dirs + entries.symlinks + entries.hardlinks} entries of ${outcome.source} from set ${outcome.setId} ` +
    `(${formatBytes(outcome.sizeBytes)} read, sha256 verified) in ${outcome.target}, ${formatSeconds(outcome.durationMs)}`
  );
}
