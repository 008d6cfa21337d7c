// Owns the files kind's read side as the driver presents it: `restore files`
// (files-restore.ts) and the drill, which restores the artifact into the
// drill's scratch directory exactly as `restore files` would (the same guard,
// extraction and placement, `monitor.min_free` kept free) and compares every
// entry of the set's index with what came back: type, mode, size, sha256,
// link target.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ArtifactRecord } from '../core/manifest.ts';
import { readIndex, type IndexEntry } from './files-index.ts';
import { restoreFiles, tarByHand } from './files-restore.ts';
import { MAX_LISTED_DIFFERENCES, wrongTarget, type DrillContext, type DrillMeasurement, type RestoreSide } from './source-restore.ts';

export const filesRestoreSide: RestoreSide = {
  restore: (context, target) => (target.content === 'files' ? restoreFiles(context, target) : wrongTarget(context.artifact, target)),
  drill: drillFiles,
  restoreByHand: (artifact: ArtifactRecord) => tarByHand(artifact.compression, 'xp', ' -C DIR'),
};

const SILENT = { step() {}, warn() {}, progress() {} };

async function drillFiles(context: DrillContext): Promise<DrillMeasurement> {
  const { artifact, stopwatch } = context;
  const target = join(context.scratchDir, artifact.source);
  stopwatch.start();
  await restoreFiles({ ...context, log: SILENT }, { content: 'files', to: target, paths: [], force: false, keepFree: context.loaded.config.monitor.min_free });
  const restoreMs = stopwatch.stop();
  const compareStarted = performance.now();
  const differences: string[] = [];
  let entries = 0;
  if (!artifact.index) {
    differences.push('the set has no entry index for this source: nothing to compare with');
  } else {
    const index = await readIndex(
      context.reader,
      artifact,
      async (entry) => {
        context.signal?.throwIfAborted();
        entries++;
        // Compared paths stay inside the scratch target: an index is read from the (untrusted) repository.
        if (!entry.path.startsWith('/') || entry.path.split('/').includes('..')) throw new Error(`index line ${entries} is not an entry under an absolute path`);
        const difference = await compareEntry(join(target, entry.path), entry);
        if (difference && differences.length < MAX_LISTED_DIFFERENCES) differences.push(difference);
        else if (difference && differences.length === MAX_LISTED_DIFFERENCES) differences.push('… more differences not listed');
      },
      context.signal,
    );
    if (index.problem) throw new Error(`the entry index ${index.record.path} cannot be used: ${index.problem}`);
    if (entries !== artifact.index.entries) differences.push(`the index lists ${entries} entries, the manifest says ${artifact.index.entries}`);
  }
  await rm(target, { recursive: true, force: true });
  return { ok: differences.length === 0, restoreMs, compareMs: Math.round(performance.now() - compareStarted), compared: `${entries} entr${entries === 1 ? 'y' : 'ies'}`, differences, notes: [] };
}

async function compareEntry(path: string, entry: IndexEntry): Promise<string | undefined> {
  let info;
  try {
    info = await lstat(path);
  } catch {
    return `${entry.path} is missing after the restore`;
  }
  const type = info.isSymbolicLink() ? 'symlink' : info.isDirectory() ? 'dir' : info.isFile() ? 'file' : 'other';
  const expectedType = entry.type === 'hardlink' ? 'file' : entry.type;
  if (type !== expectedType) return `${entry.path} is a ${type} after the restore, a ${expectedType} at backup time`;
  if (type === 'symlink') {
    const target = await readlink(path);
    return target === entry.linkTarget ? undefined : `${entry.path} points to ${target} after the restore, to ${entry.linkTarget} at backup time`;
  }
  if ((info.mode & 0o7777) !== (entry.mode & 0o7777)) return `${entry.path} has mode ${(info.mode & 0o7777).toString(8)} after the restore, ${(entry.mode & 0o7777).toString(8)} at backup time`;
  if (type === 'file') {
    if (info.size !== entry.size) return `${entry.path} has ${info.size} bytes after the restore, ${entry.size} at backup time`;
    if (entry.sha256) {
      const hash = createHash('sha256');
      await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), hash);
      if (hash.digest('hex') !== entry.sha256) return `${entry.path}: content differs from backup time (sha256)`;
    }
  }
  return undefined;
}
