// Owns `restorable list`: the complete sets of the local repository, newest
// first, with sizes and durations (`--json` for scripts).

import type { Command } from 'commander';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { totalSizeBytes } from '../core/manifest.ts';
import { LocalRepository } from '../storage/local-repository.ts';
import { readRuns, type RunRecord } from '../storage/run-history.ts';
import { formatBytes, formatSeconds } from '../core/units.ts';
import { line, printJson, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';

interface DrillProof {
  status: 'ok' | 'warning' | 'failed';
  at: string;
  restoreSeconds: Record<string, number>;
}

/** The newest drill of each set, from the run history. */
function latestDrillPerSet(runs: RunRecord[]): Map<string, DrillProof> {
  const proofs = new Map<string, DrillProof>();
  for (const run of runs) {
    if (run.command !== 'drill' || !run.setId) continue;
    proofs.set(run.setId, { status: run.status, at: run.finishedAt, restoreSeconds: (run.details?.restoreSeconds ?? {}) as Record<string, number> });
  }
  return proofs;
}

export function registerListCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('list')
    .description('complete sets, newest first')
    .action(
      run(async (options) => {
        const loaded = loadConfig(locateConfig(options.config));
        const repository = new LocalRepository(loaded.repositoryPath);
        const unreadable: string[] = [];
        const sets = await repository.listSets((setId, error) => unreadable.push(`${setId}: ${error.message}`));
        const drills = latestDrillPerSet(await readRuns(repository.root));
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
              drill: drills.get(manifest.setId),
              artifacts: manifest.artifacts.map(({ source, path, sizeBytes, sha256, durationMs }) => ({ source, path, sizeBytes, sha256, durationMs })),
            })),
            unreadable,
          });
          return ExitCode.OK;
        }
        line(output, `${loaded.config.app}: ${sets.length} complete set(s) in ${repository.root}`);
        for (const { manifest, missing } of sets) {
          const sources = manifest.artifacts.map((artifact) => `${artifact.source} ${formatBytes(artifact.sizeBytes)}`).join(', ');
          const drill = drills.get(manifest.setId);
          const proof = drill
            ? drill.status === 'ok'
              ? `proven restorable ${drill.at.slice(0, 16).replace('T', ' ')} (restore ${Object.values(drill.restoreSeconds).reduce((sum, seconds) => sum + seconds, 0).toFixed(1)} s)`
              : `DRILL FAILED ${drill.at.slice(0, 16).replace('T', ' ')}`
            : '';
          const flags = [manifest.status === 'warning' ? 'WARNING' : '', missing.length ? `MISSING ${missing.join(' ')}` : '', proof].filter(Boolean).join('  ');
          line(output, `${manifest.setId}  ${formatBytes(totalSizeBytes(manifest)).padStart(9)}  ${formatSeconds(manifest.durationMs).padStart(7)}  ${sources}${flags ? `  ${flags}` : ''}`);
        }
        for (const entry of unreadable) line(output, `unreadable manifest ${entry}`);
        return ExitCode.OK;
      }),
    );
}
