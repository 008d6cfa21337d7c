// Owns the contract between the pipeline and a source driver. A driver turns
// one configured source into one raw (uncompressed) byte stream plus a promise
// that says whether that stream is a complete, trustworthy artifact. The
// pipeline compresses, hashes and publishes; the driver never touches the
// repository.

import type { Readable } from 'node:stream';
import type { SourceWarning } from '../core/manifest.ts';
import type { VerifySide } from './source-verify.ts';
import type { RestoreSide } from './source-restore.ts';

/** What a driver may say while it works (progress lines, warnings). */
export interface SourceLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface SourceContext<Config> {
  job: string;
  /** Name of the source in the config (`db`, `files`, `config`...). */
  sourceName: string;
  config: Config;
  /** Absolute path of the local repository: file sources must never archive it. */
  repositoryPath: string;
  /** A private (0700) directory for this run, removed afterwards: temp copies, defaults files. */
  scratchDir: string;
  log: SourceLog;
  /** Aborted when the run fails elsewhere or is interrupted: stop children, stop reading. */
  signal: AbortSignal;
}

export interface PreflightReport {
  /** Lines worth printing (tool and server versions...). */
  notes: string[];
  warnings: SourceWarning[];
}

export interface SourceFacts {
  warnings: SourceWarning[];
  /** Kind-specific facts for the manifest (versions, row counts, inventories, counts). */
  details: Record<string, unknown>;
  /**
   * True when the artifact is complete as far as it goes but something was left
   * out (unreadable files): the run ends WARNING (exit 1), or fails when the
   * source is configured to treat that as fatal (the driver then rejects).
   */
  degraded: boolean;
  /**
   * File sources: path of an uncompressed JSON-lines entry index the driver wrote
   * into `scratchDir`; the pipeline compresses, hashes and publishes it.
   */
  indexFile?: string;
  indexEntries?: number;
}

export interface ProducedArtifact {
  /** The raw artifact bytes. The pipeline consumes it to the end. */
  stream: Readable;
  /**
   * Resolves once the producer finished cleanly AND the completeness checks
   * passed (call only alongside consuming `stream`); rejects with a
   * RestorableError naming what is wrong otherwise.
   */
  completed: Promise<SourceFacts>;
}

/**
 * What an artifact holds, as compression sees it: a database (SQL text, a
 * SQLite file; small, and worth a higher level: compression.database_level)
 * or files (uploads: mostly media, compressed at compression.level).
 */
export type ArtifactContent = 'database' | 'files';

/**
 * A source kind: one module that owns both directions (borgmatic's data-source
 * hooks own dump and restore). The backup side is below; the read side (what
 * verify, restore and drill ask of a kind) is declared beside it, in
 * source-verify.ts and source-restore.ts. Jobs look a driver up by an
 * artifact's kind in the registry and never branch on the kind themselves.
 */
export interface SourceDriver<Config> extends BackupSide<Config>, VerifySide, RestoreSide {}

/** The backup direction: turn a configured source into one raw artifact stream. */
export interface BackupSide<Config> {
  readonly type: string;
  /** Extension of the raw artifact before compression: `sql`, `tar`, `sqlite`. */
  readonly extension: string;
  /** Picks the artifact's compression level (see ArtifactContent). */
  readonly content: ArtifactContent;
  /** Cheap checks before anything is written: tools present, server reachable, privileges. */
  preflight(context: SourceContext<Config>): Promise<PreflightReport>;
  produce(context: SourceContext<Config>): Promise<ProducedArtifact>;
}
