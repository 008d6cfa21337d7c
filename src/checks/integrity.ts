// Owns the shallow integrity check (the seed's "Backup-Integrität", hourly):
// every file the newest set's manifest names (artifacts and entry indexes) is
// on disk with the size the manifest records. It reads no contents: hashes,
// decompression and dump completeness are `restorable verify`'s job, too slow
// for an hourly monitor. Also reported: manifests that exist but cannot be
// parsed (a damaged set that every command now ignores).

import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Check, CheckResult } from './check.ts';

export const integrityCheck: Check = async (context) => {
  const results: CheckResult[] = [];
  const newest = context.sets[0];
  if (newest) {
    const { manifest } = newest;
    const problems: string[] = [];
    let checked = 0;
    for (const artifact of manifest.artifacts) {
      const files = [{ path: artifact.path, sizeBytes: artifact.sizeBytes }, ...(artifact.index ? [{ path: artifact.index.path, sizeBytes: artifact.index.sizeBytes }] : [])];
      for (const file of files) {
        checked++;
        try {
          // lstat: a link planted in place of an artifact is "not a regular file", and the size of what it points to is never shown.
          const info = await lstat(join(context.repositoryRoot, file.path));
          if (!info.isFile()) problems.push(`${file.path} is not a regular file`);
          else if (info.size !== file.sizeBytes) problems.push(`${file.path} is ${info.size} B, the manifest says ${file.sizeBytes} B`);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          problems.push(code === 'ENOENT' ? `${file.path} is missing` : `${file.path} cannot be read (${code ?? (error as Error).message})`);
        }
      }
    }
    results.push(
      problems.length === 0
        ? { name: 'integrity', state: 'OK', summary: `set ${manifest.setId}: all ${checked} file(s) present with the sizes in its manifest`, perfdata: [] }
        : {
            name: 'integrity',
            state: 'CRITICAL',
            summary: `set ${manifest.setId} is damaged: ${problems.join('; ')}`,
            remedy:
              'run `restorable backup` for a fresh set and `restorable verify` on the older ones; find out what touched the repository ' +
              '(another cleanup job? a full disk?) — until then restore from an older set or an offsite copy',
            perfdata: [],
          },
    );
  }
  if (context.unreadableManifests.length > 0) {
    const names = context.unreadableManifests.map((entry) => `${entry.setId} (${entry.message})`);
    results.push({
      name: 'manifests',
      state: 'WARNING',
      summary: `${names.length} manifest(s) cannot be read, so those sets are ignored: ${names.join('; ')}`,
      remedy: `look at ${context.repositoryRoot}/manifests/<set id>.json; a set without a readable manifest cannot be restored by restorable`,
      perfdata: [],
    });
  }
  return results;
};
