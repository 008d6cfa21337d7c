// A config with one files source over `root` and its repository under
// `base`, backed up once through the real CLI: the start of most restore
// files tests.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './cli.ts';
import { initRepositoryOf } from './initialised-repository.ts';

/** Writes `<base>/restorable.yml` (app `app`, repository `<base>/backups`, initialised); returns its path. */
export function writeFilesOnlyConfig(base: string, root: string, app: string): string {
  const configPath = join(base, 'restorable.yml');
  writeFileSync(
    configPath,
    `app: ${app}\nrepository: ${JSON.stringify(join(base, 'backups'))}\nsources:\n  files: { type: files, paths: [${JSON.stringify(root)}] }\nmonitor: { min_free: 1MB }\n`,
  );
  initRepositoryOf(configPath);
  return configPath;
}

/** The config above, and one backup of it that must succeed; returns the config path. */
export async function backUpFilesOnly(base: string, root: string, app: string): Promise<string> {
  const configPath = writeFilesOnlyConfig(base, root, app);
  const backup = await runCli(['-c', configPath, 'backup']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  return configPath;
}
