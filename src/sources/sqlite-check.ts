// Owns the verify side of the sqlite kind: the decoded bytes of an SQLite
// artifact must start with the SQLite header; they are copied to a scratch
// file as they stream, which is then opened read-only for `PRAGMA
// integrity_check` and the row counts the backup recorded. The copy is
// private (0600 in a fresh scratch directory) and removed by `dispose`.

import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import type { ArtifactRecord } from '../core/manifest.ts';
import { countRows, integrityProblems, openSqlite, type SqliteDatabase } from './sqlite-database.ts';
import type { ContentCheck, ContentCheckName, ContentFinding, ContentFindings } from './source-verify.ts';

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * An SQLite copy: the first 16 bytes must be the SQLite header; the bytes go
 * to a scratch file as they stream, which is then opened read-only for
 * `PRAGMA integrity_check` and the recorded row counts.
 */
export class SqliteCheck implements ContentCheck {
  private scratchDir: string | undefined;
  private copyPath: string | undefined;
  private head = Buffer.alloc(0);
  private headerProblem: string | undefined;
  private bytes = 0;

  constructor(
    private readonly artifact: ArtifactRecord,
    private readonly scratchParent: string,
  ) {}

  async stages(): Promise<Writable[]> {
    this.scratchDir = await mkdtemp(join(this.scratchParent, 'verify-'));
    this.copyPath = join(this.scratchDir, 'copy.sqlite');
    const headerCheck = new Transform({
      transform: (chunk: Buffer, _encoding, callback: TransformCallback) => {
        this.bytes += chunk.length;
        if (this.head.length < SQLITE_HEADER.length) {
          this.head = Buffer.concat([this.head, chunk.subarray(0, SQLITE_HEADER.length - this.head.length)]);
          if (this.head.length === SQLITE_HEADER.length && !this.head.equals(SQLITE_HEADER)) {
            this.headerProblem = `not an SQLite database: it starts with ${JSON.stringify(this.head.toString('latin1'))} instead of "SQLite format 3\\0"`;
          }
        }
        // A file that is not a database need not be copied.
        callback(null, this.headerProblem ? undefined : chunk);
      },
    });
    return [headerCheck, createWriteStream(this.copyPath, { mode: 0o600, highWaterMark: 1024 * 1024 })];
  }

  async conclude(): Promise<ContentFindings> {
    const facts: Record<string, unknown> = {};
    if (this.headerProblem) return { passed: [], failures: [{ check: 'sqlite', message: this.headerProblem }], facts };
    if (this.head.length < SQLITE_HEADER.length) {
      return { passed: [], failures: [{ check: 'sqlite', message: `not an SQLite database: only ${this.bytes} byte(s)` }], facts };
    }
    let database: SqliteDatabase | undefined;
    try {
      database = openSqlite(this.copyPath!, { readonly: true });
      const problems = integrityProblems(database);
      if (problems.length > 0) {
        return { passed: [], failures: [{ check: 'sqlite', message: `PRAGMA integrity_check failed: ${problems.slice(0, 3).join('; ')}` }], facts };
      }
      const passed: ContentCheckName[] = ['sqlite'];
      const failures: ContentFinding[] = [];
      const recorded = this.artifact.details?.rowCounts as Record<string, unknown> | undefined;
      if (recorded && typeof recorded === 'object') {
        const differing: string[] = [];
        for (const [table, rows] of Object.entries(recorded)) {
          if (typeof rows !== 'number') continue;
          const counted = countRows(database, table);
          if (counted !== rows) differing.push(`table ${table}: ${counted ?? 'missing'} rows in the copy, the manifest says ${rows}`);
        }
        if (differing.length === 0) passed.push('row-counts');
        else failures.push({ check: 'row-counts', message: differing.join('; ') });
      }
      return { passed, failures, facts };
    } catch (error) {
      return { passed: [], failures: [{ check: 'sqlite', message: `the copy does not open as an SQLite database: ${(error as Error).message}` }], facts };
    } finally {
      database?.close();
    }
  }

  async dispose(): Promise<void> {
    if (this.scratchDir) await rm(this.scratchDir, { recursive: true, force: true });
  }
}
