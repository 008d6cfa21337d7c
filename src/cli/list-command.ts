// Owns `restorable list`: the complete sets of the local repository, newest
// first, with sizes and durations (`--json` for scripts).

import type { Command } from 'commander';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { totalSizeBytes } from '../core/manifest.ts';
import { LocalRepository } from '../storage/local-repository.ts';
import { formatBytes, formatSeconds } from '../core/units.ts';
import { line, printJson, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';

export function registerListCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('list')
    .description('complete sets, newest first')
    .option('-c, --config <file>', 'configuration file')
    .option('--json', 'machine-readable output')
    .action(
      run(async (options) => {
        const loaded = loadConfig(locateConfig(options.config));
        const repository = new LocalRepository(loaded.repositoryPath);
        const unreadable: string[] = [];
        const sets = await repository.listSets((setId, error) => unreadable.push(`${setId}: ${error.message}`));
        if (output.json) {
          printJson(output, {
            job: loaded.config.app,
            repository: repository.root,
            sets: sets.map(({ manifest, missing }) => ({
              setId: manifest.setId,
              status: manifest.status,
              startedAt: manifest.startedAt,
              durationMs: manifest.durationMs,
              sizeBytes: totalSizeBytes(manifest),
              missing,
              artifacts: manifest.artifacts.map(({ source, path, sizeBytes, sha256, durationMs }) => ({ source, path, sizeBytes, sha256, durationMs })),
            })),
            unreadable,
          });
          return ExitCode.OK;
        }
        line(output, `${loaded.config.app}: ${sets.length} complete set(s) in ${repository.root}`);
        for (const { manifest, missing } of sets) {
          const sources = manifest.artifacts.map((artifact) => `${artifact.source} ${formatBytes(artifact.sizeBytes)}`).join(', ');
          const flags = [manifest.status === 'warning' ? 'WARNING' : '', missing.length ? `MISSING ${missing.join(' ')}` : ''].filter(Boolean).join(' ');
          line(output, `${manifest.setId}  ${formatBytes(totalSizeBytes(manifest)).padStart(9)}  ${formatSeconds(manifest.durationMs).padStart(7)}  ${sources}${flags ? `  ${flags}` : ''}`);
        }
        for (const entry of unreadable) line(output, `unreadable manifest ${entry}`);
        return ExitCode.OK;
      }),
    );
}
