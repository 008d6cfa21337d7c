// Owns `restorable restore db [--set SET] [--source NAME] [--into TARGET] [--yes]
// [--defaults-file FILE]`: prints the target first, asks on a TTY before
// touching a non-empty one (then names the safety set taken of it),
// shows progress on a TTY, and exits 0 restored / 2 refused or failed.

import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { openRepository } from '../storage/open-repository.ts';
import { restoreDatabase } from '../jobs/restore-db.ts';
import { formatBytes, formatSeconds } from '../core/units.ts';
import { createReporter, line, printJson, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';
import { interruptible } from './interrupt.ts';

export function registerRestoreDbCommand(restore: Command, output: Output, run: ActionWrapper): void {
  restore
    .command('db')
    .description('restore a database source of a set (into a new database by default)')
    .option('--set <set>', 'set id or latest', 'latest')
    .option('--source <name>', 'which database source (when the set has several)')
    .option('--into <target>', 'mysql: database name (created when absent); sqlite: file path')
    .option('--yes', 'restore onto a target that is not empty without asking (a safety set of it is taken first)')
    .option('--defaults-file <file>', "mysql: restore as the account in this MySQL option file's [client] section (user, password, host, port, socket) instead of restore.mysql or the source's own")
    .action(
      run(async (options) => {
        const loaded = loadConfig(locateConfig(options.config), options.configSafety);
        const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true && !output.json;
        return interruptible(async (signal) => {
          const outcome = await restoreDatabase({
            loaded,
            reader: openRepository(loaded),
            set: options.set as string,
            source: options.source as string | undefined,
            into: options.into as string | undefined,
            yes: options.yes === true,
            confirm: interactive ? askOnTerminal : undefined,
            reporter: createReporter(output),
            signal: signal,
            defaultsFile: options.defaultsFile as string | undefined,
          });
          if (output.json) printJson(output, { status: 'ok', ...outcome });
          else {
            line(output, `restored ${outcome.source} of set ${outcome.setId} into ${outcome.target}: ${formatBytes(outcome.rawBytes)} in ${formatSeconds(outcome.durationMs)}`);
            if (outcome.safetySetId) line(output, `the database as it was before is safety set ${outcome.safetySetId} (\`restorable list\`; kept for restore.keep_safety)`);
          }
          return ExitCode.OK;
        });
      }),
    );
}

export async function askOnTerminal(question: string): Promise<string> {
  const readline = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await readline.question(question);
  } finally {
    readline.close();
  }
}
