// Owns the manifest: the record, written last, that makes a backup set exist.
// It lists every artifact with size and sha256 and the facts drills compare
// against later (row counts, inventories, file indexes). Pure: no I/O here.
//
// A manifest is read from the repository, which anyone holding a leaked
// offsite key or a shared backup disk may have written: it is untrusted input.
// parseManifest validates it against a schema that is strict on everything
// the code acts on (set id, source names, the exact layout path of every file,
// sizes, hashes) and lenient on `details` and on fields other versions add.
// A manifest that fails is a damaged set: listed as such, never acted on.

import { z } from 'zod';
import { isArtifactPath, isIndexPath, SET_ID_PATTERN, SOURCE_NAME_PATTERN } from './naming.ts';

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
  /**
   * Present on a safety set: the dump of a non-empty database that `restore
   * db` took before writing over it. It restores like any set, but it is no
   * backup of the source: it counts in no timeline, is never `latest`, and
   * retention keeps it until `expiresAt`, then removes it.
   */
  safety?: SafetyMarker;
}

export interface SafetyMarker {
  /** The database it is a copy of (the restore's target). */
  of: string;
  /** The set whose restore it protects against. */
  restoring: string;
  /** ISO time after which retention removes it (`restore.keep_safety`). */
  expiresAt: string;
}

export function isSafetySet(manifest: Pick<Manifest, 'safety'>): boolean {
  return manifest.safety !== undefined;
}

export function totalSizeBytes(manifest: Manifest): number {
  return manifest.artifacts.reduce((sum, artifact) => sum + artifact.sizeBytes + (artifact.index?.sizeBytes ?? 0), 0);
}

/** Manifests larger than this are refused unread (a real one is a few KB; file sources add no per-entry data). */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

const byteCount = z.int().nonnegative();
const duration = z.number().finite().nonnegative();
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, { message: 'expected 64 lowercase hex digits' });
const instant = z.string().refine((text) => Number.isFinite(Date.parse(text)), { message: 'expected an ISO 8601 date' });

const sourceWarningSchema = z.looseObject({ code: z.string(), message: z.string(), path: z.string().optional() });

const indexReferenceSchema = z.looseObject({ path: z.string(), sizeBytes: byteCount, sha256: sha256Hex, entries: byteCount });

const artifactSchema = z.looseObject({
  source: z.string().regex(SOURCE_NAME_PATTERN, { message: 'expected a source name of lowercase letters, digits, - and _' }),
  type: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, { message: 'expected an artifact type such as mysql, sqlite or files' }),
  path: z.string(),
  compression: z.enum(COMPRESSION_ALGORITHMS).default('gzip'),
  sizeBytes: byteCount,
  sha256: sha256Hex,
  rawSizeBytes: byteCount,
  durationMs: duration,
  warnings: z.array(sourceWarningSchema).default([]),
  details: z.record(z.string(), z.unknown()).default({}),
  index: indexReferenceSchema.optional(),
});

const manifestSchema = z
  .looseObject({
    format: z.literal(MANIFEST_FORMAT),
    version: z.literal(MANIFEST_VERSION),
    setId: z.string().regex(SET_ID_PATTERN, { message: 'expected a set id like 2026-01-31_03-00-00' }),
    job: z.string(),
    runId: z.string(),
    host: z.string(),
    restorableVersion: z.string(),
    startedAt: instant,
    finishedAt: instant,
    durationMs: duration,
    status: z.enum(['ok', 'warning']),
    artifacts: z.array(artifactSchema),
    // Added by `restore db` to a safety set (see SafetyMarker); validated because retention acts on it.
    safety: z.looseObject({ of: z.string().max(200), restoring: z.string().max(64), expiresAt: instant }).optional(),
  })
  .superRefine((manifest, context) => {
    const seen = new Set<string>();
    manifest.artifacts.forEach((artifact, position) => {
      // Every path must be exactly where this set's files live: nothing else is ever opened or deleted.
      if (!isArtifactPath(artifact.path, artifact.source, manifest.setId)) {
        context.addIssue({ code: 'custom', path: ['artifacts', position, 'path'], message: `expected ${artifact.source}/${artifact.source}_backup_${manifest.setId}.<extension>` });
      }
      if (artifact.index && !isIndexPath(artifact.index.path, artifact.source, manifest.setId)) {
        context.addIssue({ code: 'custom', path: ['artifacts', position, 'index', 'path'], message: `expected ${artifact.source}/${artifact.source}_index_${manifest.setId}.jsonl.gz` });
      }
      if (seen.has(artifact.source)) context.addIssue({ code: 'custom', path: ['artifacts', position, 'source'], message: `source ${artifact.source} appears twice` });
      seen.add(artifact.source);
    });
  });

/**
 * Parses and validates a manifest; throws with a reason when it is not a
 * sound one. `expectedSetId` is the id its file name carries: a manifest that
 * claims another set is damaged (two files must never name one set).
 */
export function parseManifest(text: string, expectedSetId?: string): Manifest {
  if (text.length > MAX_MANIFEST_BYTES) throw new Error(`the manifest is ${text.length} bytes, more than the ${MAX_MANIFEST_BYTES} a manifest may have`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message})`);
  }
  const head = value as Partial<Manifest> | null;
  if (head?.format !== MANIFEST_FORMAT) throw new Error(`not a restorable manifest (format ${JSON.stringify(head?.format)?.slice(0, 80)})`);
  if (head.version !== MANIFEST_VERSION) throw new Error(`unsupported manifest version ${JSON.stringify(head.version)?.slice(0, 40)}`);
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) throw new Error(describeIssues(parsed.error.issues));
  if (expectedSetId !== undefined && parsed.data.setId !== expectedSetId) {
    throw new Error(`the manifest says set ${parsed.data.setId} but its file name says ${expectedSetId}`);
  }
  return parsed.data as unknown as Manifest;
}

/** `artifacts[0].path: expected db/db_backup_<id>.<extension>; ...` (at most three, short). */
function describeIssues(issues: z.core.$ZodIssue[]): string {
  const parts = issues.slice(0, 3).map((issue) => {
    const where = issue.path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('').replace(/^\./, '');
    return `${where || 'manifest'}: ${issue.message}`.slice(0, 200);
  });
  if (issues.length > 3) parts.push(`${issues.length - 3} more problem(s)`);
  return `the manifest is malformed: ${parts.join('; ')}`;
}
