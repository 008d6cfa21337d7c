// Owns opening SQLite databases, whichever engine this Node.js has: the
// built-in `node:sqlite` where it exists unflagged (Node >= 22.13), else
// better-sqlite3 (Node 20). Why not better-sqlite3 everywhere: its v12 aborts
// the process on Node 24 when statements are garbage-collected (Node 24's
// ObjectWrap change; WiseLibs/better-sqlite3#1515), and its v13 segfaults on
// Node 20. Callers see one small synchronous interface.

import { createRequire } from 'node:module';
import { RestorableError } from '../core/errors.ts';
import { existsSync } from 'node:fs';

export interface SqliteDatabase {
  exec(sql: string): void;
  all<Row = Record<string, unknown>>(sql: string, ...params: unknown[]): Row[];
  get<Row = Record<string, unknown>>(sql: string, ...params: unknown[]): Row | undefined;
  run(sql: string, ...params: unknown[]): void;
  /** The first column of the first row, or undefined (for smoke queries that return one number). */
  firstValue(sql: string): unknown;
  /** Runs `work` inside BEGIN/COMMIT (ROLLBACK when it throws). */
  transaction(work: () => void): void;
  close(): void;
}

export interface OpenOptions {
  readonly?: boolean;
  /** Refuse to create the file when it does not exist. */
  fileMustExist?: boolean;
}

interface NodeSqliteStatement {
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
  run(...params: unknown[]): unknown;
}
interface NodeSqliteModule {
  DatabaseSync: new (path: string, options?: { readOnly?: boolean }) => { exec(sql: string): void; prepare(sql: string): NodeSqliteStatement; close(): void };
}
interface BetterSqliteStatement {
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
  run(...params: unknown[]): unknown;
}
type BetterSqliteConstructor = new (path: string, options?: { readonly?: boolean; fileMustExist?: boolean }) => {
  exec(sql: string): void;
  prepare(sql: string): BetterSqliteStatement;
  close(): void;
};

let builtin: NodeSqliteModule | undefined | null = null;

function nodeSqlite(): NodeSqliteModule | undefined {
  if (builtin === null) {
    try {
      builtin = (process.getBuiltinModule?.('node:sqlite') as NodeSqliteModule | undefined) ?? undefined;
    } catch {
      builtin = undefined;
    }
  }
  return builtin;
}

/** Which engine this process uses, for notes and manifests. */
export function sqliteEngineName(): string {
  return nodeSqlite() ? 'node:sqlite' : 'better-sqlite3';
}

export function openSqlite(path: string, options: OpenOptions = {}): SqliteDatabase {
  if ((options.fileMustExist || options.readonly) && !existsSync(path)) {
    throw Object.assign(new Error(`unable to open database file: ${path} does not exist`), { code: 'SQLITE_CANTOPEN' });
  }
  const engine = nodeSqlite();
  return engine ? openWithNodeSqlite(engine, path, options) : openWithBetterSqlite(path, options);
}

/** True for "database is locked/busy": worth waiting and retrying. */
export function isSqliteBusy(error: unknown): boolean {
  const failure = error as { code?: string; errcode?: number; message?: string } | undefined;
  if (typeof failure?.code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(failure.code)) return true;
  // node:sqlite: code ERR_SQLITE_ERROR with the primary result code in errcode (5 BUSY, 6 LOCKED).
  if (typeof failure?.errcode === 'number' && [5, 6].includes(failure.errcode & 0xff)) return true;
  return /database (table )?is locked|database is busy/i.test(failure?.message ?? '');
}

/** What both engines share: exec, prepare(...).all/get/run, close. */
interface EngineConnection {
  exec(sql: string): void;
  prepare(sql: string): { all(...params: unknown[]): unknown[]; get(...params: unknown[]): unknown; run(...params: unknown[]): unknown };
  close(): void;
}

function openWithNodeSqlite(engine: NodeSqliteModule, path: string, options: OpenOptions): SqliteDatabase {
  return wrap(new engine.DatabaseSync(path, { readOnly: options.readonly === true }));
}

function openWithBetterSqlite(path: string, options: OpenOptions): SqliteDatabase {
  // Loaded only where it is used: on Node 24 this native module is never touched.
  let BetterSqlite: BetterSqliteConstructor;
  try {
    BetterSqlite = createRequire(import.meta.url)('better-sqlite3') as BetterSqliteConstructor;
  } catch (error) {
    // An optional dependency: its native build needs a C++ toolchain, and an install without one skips it.
    throw new RestorableError(`SQLite needs the better-sqlite3 module on Node ${process.versions.node}, and it is not installed: ${(error as Error).message.split('\n')[0]}`, {
      code: 'SQLITE_ENGINE_MISSING',
      remedy: 'use Node 22.5 or newer (its built-in node:sqlite needs no module), or install a C++ toolchain (apt-get install g++ make python3) and reinstall the package',
      cause: error,
    });
  }
  return wrap(new BetterSqlite(path, { readonly: options.readonly === true, fileMustExist: options.fileMustExist === true || options.readonly === true }));
}

function wrap(database: EngineConnection): SqliteDatabase {
  return {
    exec: (sql) => database.exec(sql),
    all: <Row>(sql: string, ...params: unknown[]) => database.prepare(sql).all(...params) as Row[],
    get: <Row>(sql: string, ...params: unknown[]) => database.prepare(sql).get(...params) as Row | undefined,
    run: (sql, ...params) => {
      database.prepare(sql).run(...params);
    },
    firstValue: (sql) => {
      // Rows are objects on both engines; the first column is the first own value.
      const row = database.prepare(sql).get() as Record<string, unknown> | undefined;
      return row ? Object.values(row)[0] : undefined;
    },
    transaction: (work) => inTransaction((sql) => database.exec(sql), work),
    close: () => database.close(),
  };
}

function inTransaction(exec: (sql: string) => void, work: () => void): void {
  exec('BEGIN');
  try {
    work();
    exec('COMMIT');
  } catch (error) {
    exec('ROLLBACK');
    throw error;
  }
}

/** The lines of `PRAGMA integrity_check` that are not "ok" (empty when the database is sound). */
export function integrityProblems(database: SqliteDatabase): string[] {
  return database
    .all<{ integrity_check: string }>('PRAGMA integrity_check')
    .map((row) => row.integrity_check)
    .filter((line) => line !== 'ok');
}

/** Rows in `table`, or undefined when there is no such table. */
export function countRows(database: SqliteDatabase, table: string): number | undefined {
  try {
    return Number(database.get<{ n: number }>(`select count(*) as n from "${table.replaceAll('"', '""')}"`)!.n);
  } catch {
    return undefined;
  }
}
