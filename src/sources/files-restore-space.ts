// Owns the disk space side of restoring files: how much a restore will write
// (from what the backup recorded), whether the target's filesystem has room
// for it before anything is written, and what to say when it fills up anyway.
// Both name the TARGET's filesystem (its mount point), not the repository's:
// a restore or drill that fills a disk is about where it writes.

import { stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { RestorableError } from '../core/errors.ts';
import type { ArtifactRecord } from '../core/manifest.ts';
import { formatBytes } from '../core/units.ts';

/**
 * The bytes a full restore of `artifact` writes: the file data the backup
 * recorded without holes (`details.dataBytes`, when the backup measured it),
 * else the file contents' total size (`details.contentBytes`), else the size
 * of the decompressed archive. Restore writes runs of zeros as holes, so
 * this is an upper bound when the tree has sparse files.
 */
export function recordedRestoreBytes(artifact: ArtifactRecord): number {
  const details = artifact.details ?? {};
  if (typeof details.dataBytes === 'number') return details.dataBytes;
  if (typeof details.contentBytes === 'number') return details.contentBytes;
  return artifact.rawSizeBytes;
}

export interface TargetFilesystem {
  /** The mount point the target lives on. */
  mountPoint: string;
  freeBytes: number;
}

/** The filesystem `existingPath` (an existing directory) lives on: its mount point and free bytes. */
export async function targetFilesystem(existingPath: string): Promise<TargetFilesystem> {
  const space = await statfs(existingPath);
  const device = (await stat(existingPath)).dev;
  let mountPoint = existingPath;
  for (let parent = dirname(mountPoint); parent !== mountPoint; parent = dirname(mountPoint)) {
    const info = await stat(parent).catch(() => undefined);
    if (!info || info.dev !== device) break;
    mountPoint = parent;
  }
  return { mountPoint, freeBytes: space.bavail * space.bsize };
}

/**
 * Refuses to start when `neededBytes` (plus `reserveBytes` that must stay
 * free) do not fit on the filesystem of `parent`, the target's existing parent.
 */
export async function ensureRoomForRestore(parent: string, target: string, neededBytes: number, reserveBytes = 0): Promise<void> {
  const filesystem = await targetFilesystem(parent);
  if (filesystem.freeBytes - neededBytes >= reserveBytes) return;
  const reserve = reserveBytes > 0 ? `, and ${formatBytes(reserveBytes)} must stay free (monitor.min_free)` : '';
  throw new RestorableError(
    `not enough space on the target's filesystem (${filesystem.mountPoint}) for the restore into ${target}: it needs about ${formatBytes(neededBytes)}, ${formatBytes(filesystem.freeBytes)} are free${reserve}; nothing was written`,
    {
      code: 'RESTORE_NO_SPACE',
      where: { path: target },
      remedy: `free at least ${formatBytes(neededBytes + reserveBytes - filesystem.freeBytes)} on ${filesystem.mountPoint} (df -h ${filesystem.mountPoint}), or restore to another filesystem with --to (or only part of the tree with --path)`,
    },
  );
}

/** An ENOSPC/EDQUOT during the restore, explained for the target's filesystem. */
export async function targetFullError(error: unknown, parent: string, target: string, neededBytes: number, writtenBytes: number): Promise<RestorableError> {
  const filesystem = await targetFilesystem(parent).catch(() => ({ mountPoint: parent, freeBytes: 0 }));
  const quota = (error as NodeJS.ErrnoException).code === 'EDQUOT';
  return new RestorableError(
    `the target's filesystem (${filesystem.mountPoint}) is ${quota ? 'over its disk quota' : 'full'}: the restore into ${target} needs about ${formatBytes(neededBytes)} ` +
      `and stopped after writing ${formatBytes(writtenBytes)}, ${formatBytes(filesystem.freeBytes)} are free now that its partial files are removed; nothing was written to ${target}`,
    {
      code: 'DISK_FULL',
      where: { path: target },
      remedy: `free at least ${formatBytes(Math.max(neededBytes - filesystem.freeBytes, 1))} on ${filesystem.mountPoint} (df -h ${filesystem.mountPoint}), or restore to another filesystem with --to`,
      cause: error,
    },
  );
}
