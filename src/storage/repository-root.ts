// Owns the one answer to "is the configured repository there?": a path that
// does not exist (an unmounted backup disk, a typo) is
// REPOSITORY_MISSING, naming `restorable init`, for every command that reads
// or writes a repository (list, check, verify, backup, ...), never an empty
// listing: "0 sets" on an unmounted disk would hide the problem.

import { stat } from 'node:fs/promises';
import { RestorableError } from '../core/errors.ts';

const INIT_REMEDY = 'create it with `restorable init` (with the same -c or $RESTORABLE_CONFIG)';

export function repositoryMissing(root: string): RestorableError {
  return new RestorableError(`the repository ${root} does not exist`, {
    code: 'REPOSITORY_MISSING',
    where: { path: root },
    remedy: `if this is a new setup, ${INIT_REMEDY}; if the backups live on a disk, mount it; otherwise check \`repository\` in the config for a typo`,
  });
}

/**
 * Throws REPOSITORY_MISSING when `root` does not exist. Anything else (not a
 * directory, no permission) is left to the caller's own reading, which names
 * the system's error (check: REPOSITORY_UNREADABLE).
 */
export async function requireRepositoryRoot(root: string): Promise<void> {
  try {
    await stat(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw repositoryMissing(root);
  }
}
