// Owns the small append-only JSON-lines files restorable keeps in the
// repository (run history, notification records): append whole lines in one
// write, read them back skipping a torn last line left by a crash mid-append.

import { appendFile, readFile } from 'node:fs/promises';

export async function appendJsonLines(path: string, values: unknown[]): Promise<void> {
  if (values.length === 0) return;
  await appendFile(path, values.map((value) => JSON.stringify(value) + '\n').join(''), { mode: 0o600 });
}

/** Every parsable line, oldest first; an absent file is an empty list. */
export async function readJsonLines<T>(path: string): Promise<T[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const values: T[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      values.push(JSON.parse(line) as T);
    } catch {
      // a torn line from a crash mid-append: skip it, keep the rest
    }
  }
  return values;
}
