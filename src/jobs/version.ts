// Owns the version string restorable records in manifests and prints.
import { readFileSync } from 'node:fs';

export const RESTORABLE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
