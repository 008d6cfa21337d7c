// `restorable init` for tests, synchronously and in-process: creates the
// repository a config file names (0700) with its marker, as the real command
// does, so that config writers (sample-app.ts, shop-database.ts, ...) can hand
// back a config whose `backup` runs. Tests of init itself use the CLI.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { STATE_DIR } from '../../src/storage/repository-paths.ts';
import { markerPath, newMarker } from '../../src/storage/repository-marker.ts';

/**
 * Initialises the repository `configPath` names (nothing changes when it is
 * initialised already); returns its path. A config that does not validate
 * (a test of that) gets none: no command would get as far as the repository.
 */
export function initRepositoryOf(configPath: string): string | undefined {
  let loaded;
  try {
    loaded = parseConfigText(readFileSync(configPath, 'utf8'), configPath);
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
  const root = loaded.repositoryPath;
  mkdirSync(join(root, STATE_DIR), { recursive: true, mode: 0o700 });
  if (!existsSync(markerPath(root))) writeFileSync(markerPath(root), JSON.stringify(newMarker(loaded.config.app, new Date()), null, 2) + '\n', { mode: 0o600 });
  return root;
}
