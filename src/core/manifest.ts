// Owns the manifest: the record, written last, that makes a backup set exist.
// It lists every artifact with size and sha256 and the facts drills compare
// against later (row counts, inventories, file indexes). Pure: no I/O here.

export const MANIFEST_FORMAT = 'restorable-manifest';
export const MANIFEST_VERSION = 1;

/** Something a source noticed that did not fail the run but a human should know. */
export interface SourceWarning {
  code: string; // e.g. FILE_VANISHED, FILE_CHANGED, FILE_UNREADABLE, NON_TRANSACTIONAL_TABLES
  message: string;
  path?: string;
}

export interface IndexReference {
  /** Relative path of the JSON-lines entry index; always gzip, whatever the artifact's compression. */
  path: string;
  sizeBytes: number;
  sha256: string;
  entries: number;
}

/** How artifacts are compressed; manifests written before zstd existed all say `gzip`. */
export const COMPRESSION_ALGORITHMS = ['gzip', 'zstd'] as const;
export type CompressionAlgorithm = (typeof COMPRESSION_ALGORITHMS)[number];

export interface ArtifactRecord {
  source: string;
  type: string; // mysql | sqlite | files
  /** Relative to the repository root, e.g. `db/db_backup_<set id>.sql.gz` (`.sql.zst` with zstd). */
  path: string;
  compression: CompressionAlgorithm;
  sizeBytes: number;
  sha256: string;
  /** Bytes before compression. */
  rawSizeBytes: number;
  durationMs: number;
  warnings: SourceWarning[];
  /** Kind-specific facts (server version, row counts, file counts...). */
  details: Record<string, unknown>;
  index?: IndexReference;
}

export type SetStatus = 'ok' | 'warning';

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  setId: string;
  job: string;
  runId: string;
  host: string;
  restorableVersion: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** `warning` when the set is complete but degraded (e.g. unreadable files skipped). */
  status: SetStatus;
  artifacts: ArtifactRecord[];
}

export function totalSizeBytes(manifest: Manifest): number {
  return manifest.artifacts.reduce((sum, artifact) => sum + artifact.sizeBytes + (artifact.index?.sizeBytes ?? 0), 0);
}

/** Parses and sanity-checks a manifest; throws with a reason when it is not one. */
export function parseManifest(text: string): Manifest {
  const value = JSON.parse(text) as Partial<Manifest>;
  if (value.format !== MANIFEST_FORMAT) throw new Error(`not a restorable manifest (format ${JSON.stringify(value.format)})`);
  if (value.version !== MANIFEST_VERSION) throw new Error(`unsupported manifest version ${value.version}`);
  if (typeof value.setId !== 'string' || !Array.isArray(value.artifacts)) throw new Error('manifest lacks setId or artifacts');
  return value as Manifest;
}
