// Owns `restorable prune [--dry-run]`: prints the retention plan (each kept
// set with its reasons, a pin's note among them; each removed set) and,
// without --dry-run, carries it out.

import type { Command } from 'commander';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { runPrune } from '../jobs/prune.ts';
import { systemClock } from '../core/ports.ts';
import { formatBytes } from '../core/units.ts';
import { createReporter, line, printJson, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';

export function registerPruneCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('prune')
    .description('apply retention: keep what the policy keeps, delete the rest (manifest first)')
    .option('--dry-run', 'print the plan, delete nothing')
    .option('--remove-damaged <sets>', 'also remove the manifest file (only that file) of these damaged sets, comma-separated ids')
    .action(
      run(async (options) => {
        const loaded = loadConfig(locateConfig(options.config), options.configSafety);
        const dryRun = options.dryRun === true;
        const removeDamaged = typeof options.removeDamaged === 'string' ? options.removeDamaged.split(',').map((id: string) => id.trim()).filter(Boolean) : undefined;
        const outcome = await runPrune({ loaded, dryRun, removeDamaged, clock: systemClock, reporter: dryRun ? createReporter({ ...output, json: true }) : createReporter(output) });
        // A damaged set left in place is worth a WARNING: nothing restores it, and it uses space.
        const damagedLeft = outcome.damaged.filter((set) => !(removeDamaged ?? []).includes(set.setId));
        const exitCode = damagedLeft.length > 0 ? ExitCode.WARNING : ExitCode.OK;
        if (output.json) {
          printJson(output, outcome);
          return exitCode;
        }
        const { retention } = loaded.config;
        const rules = (['last', 'daily', 'weekly', 'monthly', 'yearly'] as const).filter((rule) => retention[rule]).map((rule) => `${rule} ${retention[rule]}`);
        if (retention.within) rules.push(`within ${retention.within}`);
        line(output, `policy: ${rules.join(', ')} per source, pinned sets kept (periods in ${retention.timezone})`);
        for (const set of outcome.keep) line(output, `keep    ${set.setId}  ${formatBytes(set.sizeBytes).padStart(9)}  ${set.reasons.join(', ')}`);
        for (const set of outcome.remove) line(output, `${dryRun ? 'remove' : 'removed'} ${set.setId}  ${formatBytes(set.sizeBytes).padStart(9)}`);
        for (const set of outcome.damaged) {
          const removing = (removeDamaged ?? []).includes(set.setId);
          line(output, `damaged ${set.setId}  ${removing ? (dryRun ? 'its manifest would be removed' : 'its manifest was removed') : `left alone (restorable prune --remove-damaged ${set.setId} removes its manifest)`}: ${set.reason}`);
        }
        const total = outcome.remove.reduce((sum, set) => sum + set.sizeBytes, 0);
        line(output, `${outcome.keep.length} kept, ${outcome.remove.length} ${dryRun ? 'to remove' : 'removed'} (${formatBytes(total)})${dryRun ? '; dry run: nothing was deleted' : ''}`);
        return exitCode;
      }),
    );
}
