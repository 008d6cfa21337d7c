// Owns the sqlite source (Laravel 11's default database): a consistent online
// copy taken with `VACUUM INTO` while the app may be writing, checked with
// `PRAGMA integrity_check`, then streamed as the artifact. `VACUUM INTO` reads
// one snapshot and fails cleanly when locked (it is retried until the busy
// timeout); the backup API's default mode never finishes under writes and can
// "succeed" with 0 pages.

import { createReadStream } from 'node:fs';
import { access, constants as fsConstants, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { countRows, integrityProblems, isSqliteBusy, openSqlite, sqliteEngineName, type SqliteDatabase } from './sqlite-database.ts';
import { RestorableError } from '../core/errors.ts';
import type { PreflightReport, ProducedArtifact, SourceContext, SourceDriver, SourceFacts } from './source.ts';
import { SqliteCheck } from './sqlite-check.ts';
import { sqliteRestoreSide } from './sqlite-restore.ts';

export interface ResolvedSqliteSource {
  /** Absolute path of the live database file. */
  databasePath: string;
  busyTimeoutMs: number;
}

export const sqliteSource: SourceDriver<ResolvedSqliteSource> = {
  type: 'sqlite',
  extension: 'sqlite',
  content: 'database',
  checkContent: (artifact, scratchParent) => new SqliteCheck(artifact, scratchParent),
  ...sqliteRestoreSide,

  async preflight(context: SourceContext<ResolvedSqliteSource>): Promise<PreflightReport> {
    const { databasePath } = context.config;
    try {
      await access(databasePath, fsConstants.R_OK);
    } catch {
      throw new RestorableError(`the SQLite database ${databasePath} does not exist or cannot be read`, {
        code: 'SQLITE_MISSING',
        where: { source: context.sourceName, path: databasePath },
        remedy: `check sources.${context.sourceName}.path (or DB_DATABASE in the .env)`,
      });
    }
    // No lock is taken here: a writer may hold the database, and only the copy
    // knows how long to wait (busy_timeout). The header says whether it is SQLite at all.
    if (!(await hasSqliteHeader(databasePath))) {
      throw new RestorableError(`${databasePath} is not an SQLite database (no "SQLite format 3" header)`, {
        code: 'SQLITE_MISSING',
        where: { source: context.sourceName, path: databasePath },
        remedy: `check sources.${context.sourceName}.path (or DB_DATABASE in the .env)`,
      });
    }
    const engine = openSqlite(':memory:');
    try {
      const version = engine.get<{ version: string }>('select sqlite_version() as version')!.version;
      return { notes: [`SQLite ${version} (${sqliteEngineName()}), ${databasePath}`], warnings: [] };
    } finally {
      engine.close();
    }
  },

  async produce(context: SourceContext<ResolvedSqliteSource>): Promise<ProducedArtifact> {
    const { databasePath, busyTimeoutMs } = context.config;
    const copyPath = join(context.scratchDir, `${context.sourceName}.sqlite`);
    await copyOnline(databasePath, copyPath, busyTimeoutMs, context);
    const facts = checkCopy(copyPath, context);
    facts.details.sourceSizeBytes = (await stat(databasePath)).size;
    const stream = createReadStream(copyPath, { highWaterMark: 1024 * 1024 });
    const completed = new Promise<SourceFacts>((resolve, reject) => {
      stream.once('error', reject);
      stream.once('close', () => {
        void rm(copyPath, { force: true });
        resolve(facts);
      });
    });
    completed.catch(() => {});
    return { stream, completed };
  },
};

async function copyOnline(databasePath: string, copyPath: string, busyTimeoutMs: number, context: SourceContext<ResolvedSqliteSource>): Promise<void> {
  const giveUpAt = Date.now() + busyTimeoutMs;
  for (let attempt = 1; ; attempt++) {
    await rm(copyPath, { force: true });
    const database = openReadOnly(databasePath, context);
    try {
      database.exec(`PRAGMA busy_timeout = ${Math.min(busyTimeoutMs, 5000)}`);
      database.run('VACUUM INTO ?', copyPath);
      return;
    } catch (error) {
      const busy = isSqliteBusy(error);
      if (!busy || Date.now() >= giveUpAt || context.signal.aborted) {
        throw new RestorableError(`copying the SQLite database ${databasePath} failed: ${(error as Error).message}`, {
          code: busy ? 'SQLITE_LOCKED' : 'SQLITE_COPY_FAILED',
          where: { source: context.sourceName, path: databasePath },
          remedy: busy
            ? `a writer held the database for longer than sources.${context.sourceName}.busy_timeout; raise it or back up at a quieter time`
            : 'check that the file is an SQLite database and that the repository filesystem has space',
          cause: error,
        });
      }
      context.log.warn(`the SQLite database is busy, retrying the copy (attempt ${attempt})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      database.close();
    }
  }
}

/** Integrity check and row counts on the copy: the facts a drill compares later. */
function checkCopy(copyPath: string, context: SourceContext<ResolvedSqliteSource>): SourceFacts {
  const copy = openSqlite(copyPath, { readonly: true });
  try {
    const problems = integrityProblems(copy);
    if (problems.length > 0) {
      throw new RestorableError(`the copy of the SQLite database failed its integrity check`, {
        code: 'SQLITE_CORRUPT',
        where: { source: context.sourceName, path: context.config.databasePath },
        details: problems.slice(0, 20),
        remedy: 'the live database may be damaged: run `sqlite3 <file> "PRAGMA integrity_check"` on it',
      });
    }
    const tables = copy.all<{ name: string }>("select name from sqlite_schema where type = 'table' and name not like 'sqlite_%' order by name");
    const rowCounts: Record<string, number> = {};
    for (const { name } of tables) {
      rowCounts[name] = countRows(copy, name) ?? 0;
    }
    // Spread into plain objects: node:sqlite rows have a null prototype.
    const objects = copy.all<{ type: string; name: string }>("select type, name from sqlite_schema where name not like 'sqlite_%' order by type, name").map((row) => ({ ...row }));
    const version = copy.get<{ version: string }>('select sqlite_version() as version')!.version;
    const pageCount = Number(copy.firstValue('PRAGMA page_count'));
    if (pageCount <= 0) {
      throw new RestorableError('the copy of the SQLite database is empty (0 pages)', {
        code: 'SQLITE_COPY_FAILED',
        where: { source: context.sourceName, path: context.config.databasePath },
        remedy: 'check the database file; an empty copy is never a backup',
      });
    }
    return {
      warnings: [],
      degraded: false,
      details: {
        sqliteVersion: version,
        engine: sqliteEngineName(),
        databasePath: context.config.databasePath,
        pageCount,
        integrity: 'ok',
        rowCounts,
        inventory: objects,
      },
    };
  } finally {
    copy.close();
  }
}

async function hasSqliteHeader(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const header = Buffer.alloc(16);
    const { bytesRead } = await handle.read(header, 0, 16, 0);
    // An empty file is what SQLite itself creates before the first write: accept it, the copy will judge.
    return bytesRead === 0 || header.toString('latin1') === 'SQLite format 3\0';
  } finally {
    await handle.close();
  }
}

function openReadOnly(databasePath: string, context: SourceContext<ResolvedSqliteSource>): SqliteDatabase {
  try {
    return openSqlite(databasePath, { readonly: true });
  } catch (error) {
    throw new RestorableError(`cannot open the SQLite database ${databasePath}: ${(error as Error).message}`, {
      code: 'SQLITE_MISSING',
      where: { source: context.sourceName, path: databasePath },
      remedy: `check sources.${context.sourceName}.path`,
      cause: error,
    });
  }
}
