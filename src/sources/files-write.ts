// Owns writing one extracted entry's data and metadata through descriptors
// (files-extract.ts decides what to write and where): file bodies in 1 MiB
// batches whose aligned 64 KiB blocks of zeros are skipped (seek, not write)
// and the size set with ftruncate, so sparse files come back sparse; and the
// owner, mode and times of files and directories, applied to the opened
// descriptor, never through a path.

import type { FileHandle } from 'node:fs/promises';
import type { ReadEntry } from 'tar';

/** Writes are gathered into batches of this size; holes are found in blocks of HOLE_BLOCK_BYTES. */
export const WRITE_BATCH_BYTES = 1024 * 1024;
const HOLE_BLOCK_BYTES = 64 * 1024;
const ZERO_BLOCK = Buffer.alloc(HOLE_BLOCK_BYTES);

export interface FileFacts {
  mode: number;
  size: number;
  uid: number | undefined;
  gid: number | undefined;
  atime: Date | undefined;
  mtime: Date | undefined;
}

/** What a file's entry says about it, kept after the entry itself has moved on. */
export function fileFacts(entry: ReadEntry): FileFacts {
  return {
    mode: (entry.mode ?? 0o644) & 0o7777,
    size: entry.size,
    uid: typeof entry.uid === 'number' ? entry.uid : undefined,
    gid: typeof entry.gid === 'number' ? entry.gid : undefined,
    atime: entry.atime,
    mtime: entry.mtime,
  };
}

export interface DirectoryRecord {
  name: string;
  mode: number | undefined;
  uid: number | undefined;
  gid: number | undefined;
  atime: Date | undefined;
  mtime: Date | undefined;
}

/**
 * Writes the entry's body in batches (`batch` is the caller's buffer of
 * WRITE_BATCH_BYTES, reused); aligned all-zero blocks are left as
 * holes and the size is set at the end. Returns the bytes consumed.
 */
export async function writeSparseBody(handle: FileHandle, entry: ReadEntry, batch: Buffer, onWritten: (bytes: number) => void): Promise<number> {
  let filled = 0;
  let batchStart = 0; // file offset of batch[0], a multiple of WRITE_BATCH_BYTES
  let size = 0;
  let lastWrittenEnd = 0;
  const flush = async (): Promise<void> => {
    let block = 0;
    while (block < filled) {
      // Skip zero blocks, then write the run of data blocks that follows.
      const blockEnd = Math.min(block + HOLE_BLOCK_BYTES, filled);
      if (blockEnd - block === HOLE_BLOCK_BYTES && batch.subarray(block, blockEnd).equals(ZERO_BLOCK)) {
        block = blockEnd;
        continue;
      }
      let runEnd = blockEnd;
      while (runEnd < filled) {
        const nextEnd = Math.min(runEnd + HOLE_BLOCK_BYTES, filled);
        if (nextEnd - runEnd === HOLE_BLOCK_BYTES && batch.subarray(runEnd, nextEnd).equals(ZERO_BLOCK)) break;
        runEnd = nextEnd;
      }
      await writeAll(handle, batch, block, runEnd - block, batchStart + block);
      onWritten(runEnd - block);
      lastWrittenEnd = batchStart + runEnd;
      block = runEnd;
    }
    batchStart += filled;
    filled = 0;
  };
  for await (const chunk of entry as AsyncIterable<Buffer>) {
    let offset = 0;
    while (offset < chunk.length) {
      const taken = chunk.copy(batch, filled, offset, Math.min(chunk.length, offset + WRITE_BATCH_BYTES - filled));
      filled += taken;
      offset += taken;
      size += taken;
      if (filled === WRITE_BATCH_BYTES) await flush();
    }
  }
  await flush();
  if (lastWrittenEnd < size) await handle.truncate(size);
  return size;
}

/** Owner, mode and times of one directory, through its descriptor. */
export async function applyDirectoryRecord(handle: FileHandle, record: Omit<DirectoryRecord, 'name'>, preserveOwners: boolean): Promise<void> {
  if (preserveOwners && typeof record.uid === 'number' && typeof record.gid === 'number') await handle.chown(record.uid, record.gid);
  if (typeof record.mode === 'number') await handle.chmod(record.mode & 0o7777);
  if (record.mtime) await handle.utimes(record.atime ?? record.mtime, record.mtime);
}

export async function writeAll(handle: FileHandle, buffer: Buffer, offset: number, length: number, position: number): Promise<void> {
  while (length > 0) {
    const { bytesWritten } = await handle.write(buffer, offset, length, position);
    offset += bytesWritten;
    length -= bytesWritten;
    position += bytesWritten;
  }
}
