// Owns the job lock: one run per repository at a time. The lock file records
// who holds it (pid, host, start time, the process's kernel start tick so a
// recycled pid is not mistaken for the holder). A second run is refused,
// naming the holder; a lock whose holder is dead is taken over with a warning.
// The lock is created with O_EXCL|O_NOFOLLOW inside a `.restorable/` that must
// be a real directory (a planted link there refuses the repository), and read
// back bounded and without following links.

import { readFileSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RestorableError } from '../core/errors.ts';
import { STATE_DIR } from './local-repository.ts';
import { checkLayoutDirectory, CREATE_EXCLUSIVE, readSmallFileNoFollow } from './repository-paths.ts';

/** A lock file is one short JSON line. */
const MAX_LOCK_BYTES = 64 * 1024;

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
  /** Field 22 of /proc/<pid>/stat: distinguishes a recycled pid. */
  processStartTicks?: string;
}

export interface HeldLock {
  holder: LockHolder;
  /** Set when a dead holder's lock was taken over. */
  tookOverFrom?: LockHolder;
  release(): Promise<void>;
}

export function lockPath(repositoryRoot: string): string {
  return join(repositoryRoot, STATE_DIR, 'lock');
}

export async function acquireJobLock(repositoryRoot: string, command: string, now: Date): Promise<HeldLock> {
  const path = lockPath(repositoryRoot);
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    startedAt: now.toISOString(),
    command,
    processStartTicks: processStartTicks(process.pid),
  };
  let tookOverFrom: LockHolder | undefined;
  await checkLayoutDirectory(repositoryRoot, STATE_DIR);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, CREATE_EXCLUSIVE, 0o600);
      await handle.writeFile(JSON.stringify(holder) + '\n');
      await handle.sync();
      await handle.close();
      return {
        holder,
        tookOverFrom,
        release: async () => {
          const current = await readHolder(path);
          if (current?.pid === holder.pid && current.startedAt === holder.startedAt) await unlink(path).catch(() => {});
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const current = await readHolder(path);
    if (current && isHolderAlive(current)) {
      throw new RestorableError(
        `another run holds the lock: pid ${current.pid} on ${current.host} (\`${current.command}\`), started ${current.startedAt}`,
        {
          code: 'LOCKED',
          where: { path },
          remedy: `wait for it to finish; if pid ${current.pid} is not restorable, remove ${path}`,
        },
      );
    }
    // Dead holder (or an unreadable, half-written lock): take it over. If two
    // runs race here, only one wins the exclusive create on the next attempt.
    tookOverFrom = current ?? { pid: 0, host: 'unknown', startedAt: 'unknown', command: 'unknown' };
    await unlink(path).catch(() => {});
  }
  throw new RestorableError('another run took the lock at the same moment', { code: 'LOCKED', where: { path }, remedy: 'try again' });
}

/** Who holds the lock now, or undefined. For `check` and messages. */
export async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const holder = JSON.parse(await readSmallFileNoFollow(path, MAX_LOCK_BYTES)) as LockHolder | null;
    // Only a lock of the right shape names a holder; anything else is an unreadable lock.
    if (typeof holder?.pid !== 'number' || !Number.isSafeInteger(holder.pid) || holder.pid <= 0 || typeof holder.host !== 'string') return undefined;
    return holder;
  } catch {
    return undefined;
  }
}

export function isHolderAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true; // cannot tell for another host: assume alive
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (holder.processStartTicks && processStartTicks(holder.pid) !== holder.processStartTicks) return false;
  return true;
}

function processStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
