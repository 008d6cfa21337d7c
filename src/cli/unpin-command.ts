// Owns `restorable unpin SET`: takes the pin (`backup --keep NOTE`) off a set,
// so retention treats it like any other from the next prune on. Exit 0 when
// the pin was taken off or the set had none (said so); 2 when the set does
// not exist, its manifest is damaged, or another run holds the lock.

import type { Command } from 'commander';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { systemClock } from '../core/ports.ts';
import { unpinSet } from '../jobs/unpin.ts';
import { line, printJson, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';

export function registerUnpinCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('unpin')
    .description('take the pin (backup --keep NOTE) off a set: retention decides about it again from the next prune on')
    .argument('<set>', 'the id of the pinned set (`restorable list` shows it as PINNED)')
    .action(
      run(async (options, set) => {
        const loaded = loadConfig(locateConfig(options.config), options.configSafety);
        const outcome = await unpinSet({ loaded, set: set as string, clock: systemClock });
        if (output.json) printJson(output, { status: 'ok', job: loaded.config.app, ...outcome, unpinned: outcome.removedNote !== undefined });
        else if (outcome.removedNote === undefined) line(output, `set ${outcome.setId} is not pinned; nothing changed`);
        else line(output, `unpinned set ${outcome.setId} ("${outcome.removedNote}"); retention decides about it from the next prune on`);
        return ExitCode.OK;
      }),
    );
}
