// Owns reading a filesystem's space (statfs) and turning `monitor.min_free`
// ("10%" or "5GB") into the bytes that must stay free on it: the backup's
// guard before a run and the restore's before it writes both ask here.

import { statfs } from 'node:fs/promises';
import { parseFreeSpace } from '../core/free-space.ts';

export interface FilesystemSpace {
  freeBytes: number;
  totalBytes: number;
}

export async function filesystemSpace(path: string): Promise<FilesystemSpace> {
  const stats = await statfs(path);
  return { freeBytes: stats.bavail * stats.bsize, totalBytes: stats.blocks * stats.bsize };
}

/** Bytes that must stay free, from `monitor.min_free` ("10%" or "5GB"). */
export function reserveBytes(minFree: string, totalBytes: number): number {
  const parsed = parseFreeSpace(minFree);
  return 'percent' in parsed ? Math.ceil((totalBytes * parsed.percent) / 100) : parsed.bytes;
}
