// Owns the version string restorable records in manifests and prints. Read
// on first use (no I/O at import time), from the package.json next to src/.
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function restorableVersion(): string {
  cached ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return cached;
}
