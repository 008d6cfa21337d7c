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
// `details` are typed per kind (ArtifactDetails) as the drivers write them,
// but not validated: a reader that acts on a value still checks its type.

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
  /** Kind-specific facts (server version, row counts, file counts...): see ArtifactDetails. */
  details: ArtifactDetails;
  index?: IndexReference;
}

/**
 * The facts a kind's driver records in `details`, as the drivers write them
 * today. Every field is optional: manifests of older versions lack some, and
 * the schema does not validate them (details are lenient, see parseManifest),
 * so a reader that acts on a value still checks its type. Each shape lets
 * other fields through: a later version may add some, and a kind this
 * version does not know (a test's fake kind) records its own.
 */
export type ArtifactDetails = MysqlArtifactDetails | SqliteArtifactDetails | FilesArtifactDetails;

/** What every kind carries besides its own facts. */
type CommonDetails = {
  /** Set by the backup job: the source noticed something that makes the set `warning` (files changed while read, paths left out). */
  degraded?: boolean;
  [fact: string]: unknown;
};

/** A table as the mysql dump recorded it; a drill re-dumps the restored copy and compares. */
export type RecordedMysqlTable = {
  engine?: string | null;
  /** Rows the dump inserts (counted in the dump itself); null when unreadable. */
  rows?: number | null;
  approximateBytes?: number;
  /** Digest of the rows as the dump writes them; absent when the rows are unknown. */
  rowDigest?: string;
  /** Bytes of the largest row in the dump. */
  maxRowBytes?: number;
  /** Sets made before row digests: CHECKSUM TABLE from a separate snapshot. */
  checksum?: number | string | null;
  systemVersioned?: boolean;
  historyDumped?: boolean;
};

/** The database objects a mysql dump recreates, by kind, sorted by name. */
export type RecordedMysqlInventory = Partial<Record<'tables' | 'views' | 'sequences' | 'procedures' | 'functions' | 'triggers' | 'events', string[]>>;

export type MysqlArtifactDetails = CommonDetails & {
  tool?: { name: string; path: string; version: string };
  server?: { version?: string; flavor?: string };
  /** `host:port` or the socket, never a password. */
  endpoint?: string;
  /** CURRENT_USER() of the dump's connection. */
  account?: string;
  /** DEFINER accounts of views, routines, triggers and events. */
  definers?: string[];
  /** The database dumped (the restore's default target). */
  database?: string;
  inventory?: RecordedMysqlInventory;
  tables?: Record<string, RecordedMysqlTable>;
  /** How rows were counted (a sentence, not numbers: the numbers are per table in `tables`). */
  rowCounts?: string;
  /** How the row digests were taken (a sentence). */
  rowDigests?: string;
  /** Bytes of the largest statement of the dump. */
  maxStatementBytes?: number;
  nonTransactionalTables?: Array<{ name: string; engine: string | null }>;
  dumpBytes?: number;
  databaseCharset?: string;
  databaseCollation?: string;
  /** Whether mariadb-dump ran with --dump-history: a re-dump to compare with this one must do the same. */
  historyDumped?: boolean;
  /** What the backup-time rewriting did; a restore treats an artifact with this marker as already portable. */
  portable?: { rewriter?: number; summary?: string; [fact: string]: unknown };
};

export type SqliteArtifactDetails = CommonDetails & {
  sqliteVersion?: string;
  engine?: string;
  databasePath?: string;
  pageCount?: number;
  /** `ok`: the copy passed PRAGMA integrity_check before it was stored. */
  integrity?: string;
  /** Rows per table of the copy. */
  rowCounts?: Record<string, number>;
  /** Tables, indexes, views and triggers of the copy (sqlite_schema). */
  inventory?: Array<{ type: string; name: string }>;
  /** Size of the live database file when it was copied. */
  sourceSizeBytes?: number;
};

export type FilesArtifactDetails = CommonDetails & {
  /** The configured paths and exclude patterns. */
  paths?: string[];
  exclude?: string[];
  entries?: { total?: number; files?: number; dirs?: number; symlinks?: number; hardlinks?: number };
  /** Bytes of file content archived (without tar headers and padding). */
  contentBytes?: number;
  /** Of those, the bytes the files occupied on disk (holes not counted): what a restore needs. */
  dataBytes?: number;
  /** Archived, but changed while read (the copy may be torn). */
  changedWhileRead?: number;
  /** Entries archived with extended attributes or ACLs. */
  withAttributes?: number;
  changedPaths?: string[];
  skipped?: Partial<Record<'excluded' | 'protected' | 'special' | 'vanished' | 'unreadable' | 'unnameable', number>>;
  leftOutPaths?: string[];
  /** Configured paths that were symlinks, archived as what they point to. */
  followedLinks?: Array<{ path: string; target: string }>;
};

/** The typed details of each kind this version knows. */
export interface ArtifactDetailsByKind {
  mysql: MysqlArtifactDetails;
  sqlite: SqliteArtifactDetails;
  files: FilesArtifactDetails;
}

/**
 * The details of an artifact, typed as `kind`'s driver writes them: for the
 * driver that already knows its artifact's kind. An artifact of another kind
 * has none of those facts (an empty object, like a manifest that lacks them).
 */
export function detailsOf<K extends keyof ArtifactDetailsByKind>(artifact: Pick<ArtifactRecord, 'type' | 'details'>, kind: K): ArtifactDetailsByKind[K] {
  return artifact.type === kind ? (artifact.details as ArtifactDetailsByKind[K]) : {};
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
  /** Present on a pinned set (`backup --keep NOTE`): retention keeps it until `restorable unpin`. */
  pin?: PinMarker;
}

export interface PinMarker {
  /** Why it is kept, as the operator wrote it ("before 2.4 deploy"). */
  note: string;
  /** ISO time the pin was set. */
  at: string;
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
    // Added by `backup --keep` (PinMarker); optional, so manifests written before pins exist stay valid.
    pin: z.looseObject({ note: z.string().max(500).regex(/^[^\u0000-\u001f\u007f]*$/, { message: 'expected one line of text' }), at: instant }).optional(),
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
