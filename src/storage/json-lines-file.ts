// Owns the small append-only JSON-lines files restorable keeps in the
// repository (run history, notification records): append whole lines in one
// write, read them back skipping a torn last line left by a crash mid-append.
// Both directions refuse to go through a symlink planted in the repository
// (O_NOFOLLOW), and reading bounds every line (bounded-lines.ts): a line that
// is not JSON, is too long, or fails the caller's shape check is skipped.

import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { APPEND_NO_FOLLOW, openRegularFileNoFollow } from './repository-paths.ts';
import { BoundedLineSplitter, MAX_LINE_BYTES } from './bounded-lines.ts';

export async function appendJsonLines(path: string, values: unknown[]): Promise<void> {
  if (values.length === 0) return;
  const handle = await open(path, APPEND_NO_FOLLOW, 0o600);
  try {
    if (!(await handle.stat()).isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EINVAL' });
    await handle.write(values.map((value) => JSON.stringify(value) + '\n').join(''));
  } finally {
    await handle.close();
  }
}

/**
 * Every parsable line that `accept` (when given) takes, oldest first; an
 * absent file is an empty list.
 */
export async function readJsonLines<T>(path: string, accept?: (value: unknown) => boolean): Promise<T[]> {
  let handle;
  try {
    handle = await openRegularFileNoFollow(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const values: T[] = [];
  const splitter = new BoundedLineSplitter(
    (line) => {
      if (!line.trim()) return;
      try {
        const value = JSON.parse(line) as unknown;
        if (!accept || accept(value)) values.push(value as T);
      } catch {
        // a torn line from a crash mid-append: skip it, keep the rest
      }
    },
    () => {}, // far too long to be ours: skipped like a torn line
    MAX_LINE_BYTES,
  );
  for await (const chunk of createReadStream('', { fd: handle, highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) splitter.push(chunk);
  splitter.end();
  return values;
}
