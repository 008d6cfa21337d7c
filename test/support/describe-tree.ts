// Describes a directory tree the way an operator compares two of them: per
// relative path its type, mode, size, content hash, link target, mtime to the
// second, owner and hard-link grouping. Shared by the archive and restore tests.
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface DescribedEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  size: number;
  sha256?: string;
  linkTarget?: string;
  mtimeSeconds: number;
  uid: number;
  gid: number;
  /** Files with more than one link: the smallest relative path sharing the inode. */
  hardLinkGroup?: string;
}

/** Every entry under `root` (root itself as ""), by relative path, as an operator would compare them. */
export function describeTree(root: string): Map<string, DescribedEntry> {
  const entries = new Map<string, DescribedEntry>();
  const inodes = new Map<string, string[]>();
  const pending = [''];
  while (pending.length > 0) {
    const relative = pending.pop()!;
    const absolute = relative === '' ? root : join(root, relative);
    const stats = lstatSync(absolute);
    const type = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : 'other';
    const entry: DescribedEntry = {
      type,
      mode: stats.mode & 0o7777,
      size: type === 'file' ? stats.size : 0,
      mtimeSeconds: Math.floor(stats.mtimeMs / 1000),
      uid: stats.uid,
      gid: stats.gid,
    };
    if (type === 'file') entry.sha256 = sha256(readFileSync(absolute));
    if (type === 'symlink') entry.linkTarget = readlinkSync(absolute);
    if (type === 'file' && stats.nlink > 1) {
      const key = `${stats.dev}:${stats.ino}`;
      inodes.set(key, [...(inodes.get(key) ?? []), relative]);
    }
    entries.set(relative, entry);
    if (type === 'dir') for (const name of readdirSync(absolute)) pending.push(relative === '' ? name : `${relative}/${name}`);
  }
  for (const group of inodes.values()) {
    const leader = [...group].sort()[0]!;
    for (const member of group) entries.get(member)!.hardLinkGroup = leader;
  }
  return entries;
}
