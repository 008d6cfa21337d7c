// Owns the account of one files source's archive: the per-kind counts, the
// warnings (kept word for word up to WARNINGS_KEPT, counted beyond, so memory
// stays flat on a tree that melts away while it is read) and the paths that
// make the run degraded. The archiver and the walker report into it; the
// driver turns it into the manifest's details and the run's verdict.

import type { SourceLog } from './source.ts';
import type { SourceWarning } from '../core/manifest.ts';
import type { WalkObserver, WalkProblemKind } from './files-walk.ts';

/** Warnings kept word for word; beyond that only counted (memory stays flat on a tree that melts away). */
const WARNINGS_KEPT = 1000;
/** Paths named in the details (left out, changed while read) and in a FILES_UNREADABLE failure. */
const AFFECTED_PATHS_KEPT = 50;

export const WARNING_CODES = {
  vanished: 'FILE_VANISHED',
  changed: 'FILE_CHANGED',
  unreadable: 'FILE_UNREADABLE',
  unnameable: 'FILE_UNNAMEABLE',
  special: 'FILE_SPECIAL_SKIPPED',
} as const;

export interface ArchiveCounts {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** Bytes of file content archived (bodies, without tar headers and padding). */
  contentBytes: number;
  /**
   * Of those, the bytes the files occupied on disk (holes of sparse files not
   * counted): what a restore, which writes zero runs as holes, needs.
   */
  dataBytes: number;
  /** Archived, but changed while read (the copy may be torn). */
  changedWhileRead: number;
  /** Entries archived with extended attributes or ACLs. */
  withAttributes: number;
  skipped: {
    excluded: number;
    /** The repository and the scratch dir. */
    protected: number;
    special: number;
    vanished: number;
    unreadable: number;
    unnameable: number;
  };
}

/** Collects warnings (bounded), the per-kind counts and the paths that make the run degraded. */
export class ArchiveLedger implements WalkObserver {
  readonly counts: ArchiveCounts = {
    files: 0,
    dirs: 0,
    symlinks: 0,
    hardlinks: 0,
    contentBytes: 0,
    dataBytes: 0,
    changedWhileRead: 0,
    withAttributes: 0,
    skipped: { excluded: 0, protected: 0, special: 0, vanished: 0, unreadable: 0, unnameable: 0 },
  };
  /** Unreadable or unnameable paths: data that exists but is not in the archive. */
  readonly leftOutPaths: string[] = [];
  leftOutCount = 0;
  /** Paths that changed while read (torn copies, or left out when swapped): GNU tar exits 1 for these too. */
  readonly changedPaths: string[] = [];
  private readonly warnings: SourceWarning[] = [];
  private attributesNotChecked = false;
  private warningsDropped = 0;

  constructor(private readonly log: SourceLog) {}

  problem(kind: WalkProblemKind, path: string, reason: string): void {
    switch (kind) {
      case 'vanished':
        this.counts.skipped.vanished++;
        this.warn(WARNING_CODES.vanished, path, `${path} disappeared while the backup ran (${reason}); it is not in the archive`);
        break;
      case 'changed':
        this.counts.changedWhileRead++;
        if (this.changedPaths.length < AFFECTED_PATHS_KEPT) this.changedPaths.push(path);
        this.warn(WARNING_CODES.changed, path, `${path} ${reason}`);
        break;
      case 'unreadable':
        this.counts.skipped.unreadable++;
        this.leftOut(path);
        this.warn(
          WARNING_CODES.unreadable,
          path,
          `${path} could not be read (${reason}); it is not (fully) in the archive. Run restorable as a user that can read it, or exclude it`,
        );
        break;
      case 'unnameable':
        this.counts.skipped.unnameable++;
        this.leftOut(path);
        this.warn(WARNING_CODES.unnameable, path, `${path} ${reason}; it is not in the archive`);
        break;
    }
  }

  skipped(kind: 'excluded' | 'protected', _path: string, _pattern?: string): void {
    this.counts.skipped[kind]++;
  }

  /** The attributes of a tree could not be read (getfattr missing): said once, not a degraded set. */
  attributesUnavailable(reason: string): void {
    if (this.attributesNotChecked) return;
    this.attributesNotChecked = true;
    this.warnings.push({ code: 'XATTRS_NOT_CHECKED', message: reason });
    this.log.warn(reason, { code: 'XATTRS_NOT_CHECKED' });
  }

  specialFile(path: string, kind: string): void {
    this.counts.skipped.special++;
    this.warn(WARNING_CODES.special, path, `${path} is a ${kind}; it is not archived (only regular files, directories and links are)`);
  }

  /**
   * The archive is not a faithful copy of the tree: data left out, or copies
   * that may be torn. The run ends WARNING (exit 1) and the set is marked.
   */
  get degraded(): boolean {
    return this.leftOutCount > 0 || this.counts.changedWhileRead > 0;
  }

  allWarnings(): SourceWarning[] {
    if (this.warningsDropped === 0) return [...this.warnings];
    return [
      ...this.warnings,
      {
        code: 'WARNINGS_TRUNCATED',
        message: `${this.warningsDropped} more warnings were not listed; the counts are in the details (skipped, changedWhileRead)`,
      },
    ];
  }

  private leftOut(path: string): void {
    this.leftOutCount++;
    if (this.leftOutPaths.length < AFFECTED_PATHS_KEPT) this.leftOutPaths.push(path);
  }

  private warn(code: string, path: string, message: string): void {
    if (this.warnings.length >= WARNINGS_KEPT) {
      this.warningsDropped++;
      return;
    }
    this.warnings.push({ code, message, path });
    this.log.warn(message, { code, path });
  }
}

