// Owns `restorable restore all --set SET (--to-root DIR | --in-place)
// [--into SOURCE=TARGET]... [--yes]`: every source of a set in one command.
// Prints the plan (what goes where) before anything is written, then each
// restore as it completes, and for the databases the names they got.
// Exit 0 restored, 2 refused or failed (what, where, next step).

import type { Command } from 'commander';
import { ExitCode, RestorableError } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { formatBytes, formatSeconds } from '../core/units.ts';
import { runRestoreAll, type RestorePlan } from '../jobs/restore-all.ts';
import { openRepository } from '../storage/open-repository.ts';
import { createReporter, line, printJson, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';
import { interruptible } from './interrupt.ts';
import { askOnTerminal } from './restore-db-command.ts';
import { describeFilesRestored } from './restore-command.ts';

export function registerRestoreAllCommand(restore: Command, output: Output, run: ActionWrapper): void {
  restore
    .command('all')
    .description('restore every source of a set, databases and files, in one command (a plan is printed first)')
    .requiredOption('--set <set>', 'set id or `latest`')
    .option('--to-root <dir>', 'recreate the files under DIR (new or empty) and restore each database into a new one')
    .option('--in-place', 'over the live app: files into /, each database into the target --into names (asks first, or --yes)')
    .option('--into <source=target>', 'a database source\'s target, e.g. db=shop (repeatable; required for each database with --in-place)', collectPair, {} as Record<string, string>)
    .option('--yes', 'go on without asking (in place; onto a non-empty database target, after taking a safety set of it)')
    .action(
      run(async (options) => {
        const toRoot = options.toRoot as string | undefined;
        if ((toRoot === undefined) === (options.inPlace !== true)) {
          throw new RestorableError('restore all needs exactly one of --to-root DIR and --in-place', {
            code: 'USAGE',
            remedy: 'e.g. `restorable restore all --set latest --to-root /srv/restore` to rebuild the app beside the live one',
          });
        }
        const loaded = loadConfig(locateConfig(options.config), options.configSafety);
        const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true && !output.json;
        const outcome = await interruptible((signal) =>
          runRestoreAll({
            loaded,
            reader: openRepository(loaded),
            set: options.set as string,
            mode: toRoot !== undefined ? { kind: 'to-root', root: toRoot } : { kind: 'in-place' },
            into: options.into as Record<string, string>,
            yes: options.yes === true,
            confirm: interactive ? askOnTerminal : undefined,
            onPlan: (plan) => {
              if (!output.json) printPlan(output, plan);
            },
            reporter: createReporter(output),
            signal,
          }),
        );
        if (output.json) {
          printJson(output, { status: 'ok', job: loaded.config.app, ...outcome });
          return ExitCode.OK;
        }
        for (const files of outcome.files) line(output, describeFilesRestored(files));
        for (const database of outcome.databases) {
          line(output, `restored ${database.source} of set ${database.setId} into ${database.target}: ${formatBytes(database.rawBytes)} in ${formatSeconds(database.durationMs)}`);
          if (database.safetySetId) line(output, `the database as it was before is safety set ${database.safetySetId} (\`restorable list\`; kept for restore.keep_safety)`);
        }
        line(output, `restore all OK: ${outcome.plan.steps.length} source(s) of set ${outcome.plan.setId} in ${formatSeconds(outcome.durationMs)}`);
        return ExitCode.OK;
      }),
    );
}

function printPlan(output: Output, plan: RestorePlan): void {
  line(output, `plan: restore set ${plan.setId} ${plan.mode === 'in-place' ? 'in place' : 'into a new root'}:`);
  for (const step of plan.steps) line(output, `  ${step.source} (${step.type}) -> ${step.target}`);
}

function collectPair(value: string, previous: Record<string, string>): Record<string, string> {
  const match = /^([^=]+)=(.+)$/.exec(value);
  if (!match) throw new RestorableError(`--into takes SOURCE=TARGET, got ${JSON.stringify(value)}`, { code: 'USAGE', remedy: 'e.g. --into db=shop_copy' });
  return { ...previous, [match[1]!.trim()]: match[2]!.trim() };
}
