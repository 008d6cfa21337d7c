// Owns the verify side of the source-driver contract: how a kind judges the
// decoded content of one of its artifacts (a tar read to its end, a dump with
// its trailer, an SQLite file that passes integrity_check). Verify reads every
// stored file once (storage/verified-read.ts) and hands the decoded bytes to
// the stages of the kind's ContentCheck; the size, sha256 and decoding layers
// are judged there, never by a kind.
//
// Invariants: a content check never fails the stream it is fed (it records
// its problems and drains the rest), so hashing always reads to the end;
// `conclude` is asked only when the stored bytes decoded cleanly; `dispose`
// is always called, and removes whatever the check wrote to scratch space.

import type { Writable } from 'node:stream';
import type { ArtifactRecord } from '../core/manifest.ts';

/** The content layers a kind may judge, in the order verify reports them. */
export type ContentCheckName = 'tar' | 'dump-trailer' | 'sqlite' | 'entries' | 'row-counts';

export interface ContentFinding {
  check: ContentCheckName;
  message: string;
}

export interface ContentFindings {
  /** Layers that held, in order. */
  passed: ContentCheckName[];
  /** Layers that failed, the cause first. */
  failures: ContentFinding[];
  /** What was counted (entries, tables, lines) for verify's report. */
  facts: Record<string, unknown>;
}

/** The check of one artifact's decoded content; made fresh for each artifact. */
export interface ContentCheck {
  /** Consumers of the decoded bytes. They record problems instead of failing the stream. */
  stages(): Promise<Writable[]>;
  /** After the whole stream decoded cleanly: the findings. */
  conclude(): Promise<ContentFindings>;
  /** Removes anything written to scratch space. */
  dispose(): Promise<void>;
}

export interface VerifySide {
  /**
   * The content check of one artifact of this kind. `scratchParent` is a
   * directory where the check may make its own scratch directory (an SQLite
   * copy to open); `dispose` removes it.
   */
  checkContent(artifact: ArtifactRecord, scratchParent: string): ContentCheck;
}
