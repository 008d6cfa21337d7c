// Owns `restorable list`: the complete sets of the local repository, newest
// first, with sizes, durations and pins (`--json` for scripts). A damaged manifest
// (unreadable, or failing the manifest schema) is listed as DAMAGED with its
// reason and makes the exit code 1 (WARNING): no command uses such a set.

import type { Command } from 'commander';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { totalSizeBytes } from '../core/manifest.ts';
import { describeDegradation } from '../core/set-degradation.ts';
import { formatBytes, formatSeconds } from '../core/units.ts';
import { listSets } from '../jobs/list-sets.ts';
import { line, printJson, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';

export function registerListCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('list')
    .description('complete sets, newest first')
    .action(
      run(async (options) => {
        const loaded = loadConfig(locateConfig(options.config), options.configSafety);
        const { repository, sets, damaged, drills } = await listSets(loaded);
        const exitCode = damaged.length > 0 ? ExitCode.WARNING : ExitCode.OK;
        if (output.json) {
          printJson(output, {
            job: loaded.config.app,
            repository,
            sets: sets.map(({ manifest, missing }) => ({
              setId: manifest.setId,
              status: manifest.status,
              startedAt: manifest.startedAt,
              durationMs: manifest.durationMs,
              sizeBytes: totalSizeBytes(manifest),
              missing,
              degraded: describeDegradation(manifest),
              safety: manifest.safety,
              pin: manifest.pin,
              drill: drills.get(manifest.setId),
              artifacts: manifest.artifacts.map(({ source, path, sizeBytes, sha256, durationMs }) => ({ source, path, sizeBytes, sha256, durationMs })),
            })),
            unreadable: damaged.map((entry) => `${entry.setId}: ${entry.reason}`),
            damaged,
          });
          return exitCode;
        }
        line(output, `${loaded.config.app}: ${sets.length} complete set(s) in ${repository}`);
        for (const { manifest, missing } of sets) {
          const sources = manifest.artifacts.map((artifact) => `${artifact.source} ${formatBytes(artifact.sizeBytes)}`).join(', ');
          const drill = drills.get(manifest.setId);
          const proof = drill
            ? drill.status === 'ok'
              ? `proven restorable ${drill.at.slice(0, 16).replace('T', ' ')} (restore ${Object.values(drill.restoreSeconds).reduce((sum, seconds) => sum + seconds, 0).toFixed(1)} s)`
              : `DRILL FAILED ${drill.at.slice(0, 16).replace('T', ' ')}`
            : '';
          // A safety set restores like a backup but is none: say so, and until when it stays.
          const safety = manifest.safety ? `SAFETY COPY of ${manifest.safety.of} (taken before restoring ${manifest.safety.restoring} over it; kept until ${manifest.safety.expiresAt.slice(0, 16).replace('T', ' ')})` : '';
          const pin = manifest.pin ? `PINNED "${manifest.pin.note}" (kept until \`restorable unpin ${manifest.setId}\`)` : '';
          const flags = [pin, safety, manifest.status === 'warning' ? degradedFlag(manifest) : '', missing.length ? `MISSING ${missing.join(' ')}` : '', proof].filter(Boolean).join('  ');
          line(output, `${manifest.setId}  ${formatBytes(totalSizeBytes(manifest)).padStart(9)}  ${formatSeconds(manifest.durationMs).padStart(7)}  ${sources}${flags ? `  ${flags}` : ''}`);
        }
        for (const entry of damaged) {
          line(output, `${entry.setId}  DAMAGED: ${entry.reason}; no command uses this set (remove its manifest: restorable prune --remove-damaged ${entry.setId})`);
        }
        return exitCode;
      }),
    );
}

/** `DEGRADED (2 paths changed while read: ...)`: what a WARNING set lacks, not just that it lacks something. */
function degradedFlag(manifest: Parameters<typeof describeDegradation>[0]): string {
  const degradation = describeDegradation(manifest);
  return degradation ? `DEGRADED (${degradation.summary})` : 'WARNING';
}
