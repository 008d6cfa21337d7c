// Owns making a mariadb-dump/mysqldump stream restore into ANY database name
// without touching the database it was dumped from. One streaming Transform,
// used in both directions: at backup time between the dump child and the
// DumpScanner (so the artifact itself is portable and the stock
// `gunzip < x.sql.gz | mariadb NEWDB` is safe), and at restore time between
// the decompressor and the client (old artifacts; events in a copy).
//
// What a dump can say about its own database, and what is done with it
// (each seen in real mariadb-dump 10.11 output):
//   ALTER DATABASE `src` CHARACTER SET ...      written around routines, triggers and events whose
//                                               database collation differs from the current one;
//                                               -> `ALTER DATABASE CHARACTER SET ...` (no name = the
//                                               default database, i.e. the restore target)
//   `src`.`t`.`id`, `src`.`t`, src.t            db-qualified names in views (a view whose DEFINER
//                                               was dropped is dumped fully qualified), routine,
//                                               trigger and event bodies, `DEFAULT nextval(`src`.`s`)`;
//                                               -> `t`.`id`, `t`, t (unqualified names resolve to the
//                                               object's own database, which is the target)
//   LOCK TABLES `t` WRITE; ... UNLOCK TABLES;   around the INSERTs of a table whose DEFAULT reads a
//                                               sequence: the server then refuses the INSERT ("Table
//                                               's' was not locked with LOCK TABLES"); -> dropped for
//                                               those tables only
//   CREATE EVENT ... ENABLE                     at restore time into another database -> DISABLE, so
//                                               a copy's events never run (option disableEvents)
// A two-part name `src`.`x` is rewritten only when x is an object of the
// database (or a third part follows): `src`.`id` may be a table alias named like
// the database, and that must stay. Names of OTHER databases are the
// application's business: kept, and reported. USE / CREATE / DROP DATABASE at
// top level cannot be made portable: reported, and with `refuseDatabaseStatements`
// the stream fails before that line reaches the client.
//
// Memory stays flat and INSERT bytes are never looked at one by one: a line
// starting with INSERT/REPLACE outside a DELIMITER block is passed through up to
// the `;\n` that ends the statement (one indexOf: dump tools escape newlines in
// string values, so `;\n` only ends a statement). Every other line (DDL, a few
// KB per object) is tokenised in latin1 (byte-exact round trip) with the lexer
// state (inside a string, a comment) carried across lines.

import { Transform, type TransformCallback } from 'node:stream';
import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import { asDumpText, codeOf, fromDumpText, identifierOf, tokenize, unquote, type LexState, type Token } from './mysql-dump-tokens.ts';

const NEWLINE = 0x0a;
const SEMICOLON = 0x3b;
const STATEMENT_END = Buffer.from(';\n');
/** Bytes of a line needed to tell an INSERT from DDL. */
const INSERT_PREFIX_BYTES = 16;
/** A non-INSERT line longer than this is passed through unchecked (none exist in real dumps). */
const LONGEST_CHECKED_LINE = 64 * 1024 * 1024;

export interface DumpPortabilityOptions {
  /** The database the dump was taken from. */
  sourceDatabase: string;
  /** Names of its tables, views, sequences, routines, triggers and events. */
  objectNames: Iterable<string>;
  /** Other databases on the server (backup time): qualifiers naming them are reported. */
  otherDatabases?: Iterable<string>;
  /** CREATE EVENT ... ENABLE -> DISABLE (a restore into a database other than the source). */
  disableEvents?: boolean;
  /** Fail the stream at a USE / CREATE / DROP DATABASE line instead of passing it on (restore time). */
  refuseDatabaseStatements?: boolean;
  where?: ErrorWhere;
}

export interface DumpPortabilityReport {
  sourceDatabase: string;
  /** `ALTER DATABASE `src`` -> `ALTER DATABASE`. */
  alterDatabaseStatements: number;
  /** `src`.x qualifiers removed. */
  qualifiedNames: number;
  /** Objects whose text named the source database, e.g. `view vd`, `procedure p`. */
  qualifiedObjects: string[];
  /** Views dumped with three-part names (`src`.`t`.`c`): mariadb-dump does so when the view's DEFINER is gone. */
  fullyQualifiedViews: string[];
  /** Tables whose DEFAULT reads a sequence: their LOCK TABLES / UNLOCK TABLES were dropped. */
  sequenceDefaultTables: string[];
  /** Events whose ENABLE became DISABLE. */
  disabledEvents: string[];
  /** Qualifiers naming another database (kept as they are). */
  otherDatabaseReferences: Array<{ database: string; object: string }>;
  /** USE / CREATE / DROP DATABASE / ALTER DATABASE `other` statements (not portable), their first 200 characters. */
  databaseStatements: string[];
  /** Lines too long to check (passed through). */
  uncheckedLines: number;
}

const QUOTED_OR_BARE = String.raw`(\x60(?:[^\x60]|\x60\x60)*\x60|[^\s\x60(;.]+)`;
const CREATE_TABLE_LINE = new RegExp(String.raw`^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?${QUOTED_OR_BARE}`, 'i');
const VIEW_LINE = new RegExp(String.raw`^/\*!\d+\s+(?:CREATE\s+)?VIEW\s+${QUOTED_OR_BARE}`, 'i');
const ROUTINE_LINE = new RegExp(String.raw`^CREATE\s+(?:DEFINER\s*=\s*\S+\s+)?(?:AGGREGATE\s+)?(PROCEDURE|FUNCTION)\s+${QUOTED_OR_BARE}`, 'i');
const TRIGGER_OR_EVENT_LINE = new RegExp(String.raw`^/\*!\d+\s*CREATE\s*\*/.*?/\*!\d+\s*(TRIGGER|EVENT)\s+${QUOTED_OR_BARE}`, 'i');
const EVENT_ENABLE = /^(\/\*!\d+\s*CREATE\s*\*\/.*?\/\*!\d+\s*EVENT\s.*?\sON\s+COMPLETION\s+(?:NOT\s+)?PRESERVE\s+)ENABLE\b/i;
const LOCK_TABLE_LINE = new RegExp(String.raw`^LOCK\s+TABLES\s+${QUOTED_OR_BARE}\s+WRITE\s*;\s*$`, 'i');
const UNLOCK_TABLES_LINE = /^UNLOCK\s+TABLES\s*;\s*$/i;
const DATABASE_STATEMENT = /^(?:\/\*!\d*\s*)?(?:USE\s|(?:CREATE|DROP)\s+(?:DATABASE|SCHEMA)\b)/i;
const READS_SEQUENCE = /\b(?:nextval|lastval|setval)\s*\(|\bNEXT\s+VALUE\s+FOR\b|\bPREVIOUS\s+VALUE\s+FOR\b/i;
const INSERT_START = /^(?:INSERT|REPLACE)\s/i;

/**
 * The rewriting Transform. `report()` is complete once the stream ended.
 */
export class PortableDumpRewriter extends Transform {
  readonly #source: string;
  readonly #objects: Set<string>;
  readonly #others: Set<string>;
  readonly #disableEvents: boolean;
  readonly #refuse: boolean;
  readonly #where: ErrorWhere | undefined;

  #mode: 'line' | 'data' | 'skipLine' = 'line';
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #lastDataByte = -1;
  #lexState: LexState = 'code';
  #inDelimiterBlock = false;
  #currentObject: string | undefined;
  #createTable: string | undefined;
  readonly #sequenceTables = new Set<string>();
  #dropNextUnlock = false;

  readonly #report: DumpPortabilityReport;
  readonly #qualifiedObjects = new Set<string>();
  readonly #fullyQualifiedViews = new Set<string>();
  readonly #otherReferences = new Map<string, { database: string; object: string }>();

  constructor(options: DumpPortabilityOptions) {
    super();
    this.#source = asDumpText(options.sourceDatabase);
    this.#objects = new Set([...options.objectNames].map(asDumpText));
    this.#others = new Set([...(options.otherDatabases ?? [])].map(asDumpText));
    this.#disableEvents = options.disableEvents === true;
    this.#refuse = options.refuseDatabaseStatements === true;
    this.#where = options.where;
    this.#report = {
      sourceDatabase: options.sourceDatabase,
      alterDatabaseStatements: 0,
      qualifiedNames: 0,
      qualifiedObjects: [],
      fullyQualifiedViews: [],
      sequenceDefaultTables: [],
      disabledEvents: [],
      otherDatabaseReferences: [],
      databaseStatements: [],
      uncheckedLines: 0,
    };
  }

  /** What was rewritten and found so far (complete after the end). */
  report(): DumpPortabilityReport {
    return {
      ...this.#report,
      qualifiedObjects: [...this.#qualifiedObjects],
      fullyQualifiedViews: [...this.#fullyQualifiedViews],
      sequenceDefaultTables: [...this.#sequenceTables].map(fromDumpText),
      disabledEvents: [...this.#report.disabledEvents],
      otherDatabaseReferences: [...this.#otherReferences.values()],
      databaseStatements: [...this.#report.databaseStatements],
    };
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#feed(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.#pendingBytes > 0) {
        const line = Buffer.concat(this.#pending, this.#pendingBytes);
        this.#pending = [];
        this.#pendingBytes = 0;
        if (this.#mode === 'data') this.push(line);
        else this.#emitLine(line, false);
      }
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback();
  }

  #feed(chunk: Buffer): void {
    let index = 0;
    const end = chunk.length;
    while (index < end) {
      if (this.#mode === 'data') {
        // The statement ends at `;\n`; also when `;` ended the previous chunk.
        let newline: number;
        if (this.#lastDataByte === SEMICOLON && chunk[index] === NEWLINE) newline = index;
        else {
          const found = chunk.indexOf(STATEMENT_END, index);
          newline = found < 0 ? -1 : found + 1;
        }
        if (newline < 0) {
          this.push(chunk.subarray(index));
          this.#lastDataByte = chunk[end - 1]!;
          return;
        }
        this.push(chunk.subarray(index, newline + 1));
        this.#mode = 'line';
        this.#lastDataByte = -1;
        index = newline + 1;
        continue;
      }
      const newline = chunk.indexOf(NEWLINE, index);
      if (this.#mode === 'skipLine') {
        const stop = newline < 0 ? end : newline + 1;
        this.push(chunk.subarray(index, stop));
        if (newline >= 0) this.#mode = 'line';
        index = stop;
        continue;
      }
      const stop = newline < 0 ? end : newline;
      const before = this.#pendingBytes;
      this.#pending.push(chunk.subarray(index, stop));
      this.#pendingBytes += stop - index;
      index = newline < 0 ? end : newline + 1;
      // Decide INSERT-or-not as soon as the line's first bytes are here.
      if (before < INSERT_PREFIX_BYTES && (this.#pendingBytes >= INSERT_PREFIX_BYTES || newline >= 0) && this.#startsInsert()) {
        const head = Buffer.concat(this.#pending, this.#pendingBytes);
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#mode = 'data';
        this.#lastDataByte = -1;
        // Run the line's bytes so far (and its newline) through the data mode.
        this.#feed(newline >= 0 ? Buffer.concat([head, Buffer.of(NEWLINE)]) : head);
        continue;
      }
      if (newline >= 0) {
        const line = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#emitLine(line, true);
      } else if (this.#pendingBytes > LONGEST_CHECKED_LINE) {
        this.push(Buffer.concat(this.#pending, this.#pendingBytes));
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#report.uncheckedLines++;
        this.#lexState = 'code';
        this.#mode = 'skipLine';
      }
    }
  }

  #startsInsert(): boolean {
    if (this.#inDelimiterBlock) return false;
    const head = Buffer.concat(this.#pending, Math.min(this.#pendingBytes, INSERT_PREFIX_BYTES)).subarray(0, INSERT_PREFIX_BYTES);
    return INSERT_START.test(head.toString('latin1'));
  }

  #emitLine(bytes: Buffer, withNewline: boolean): void {
    const rewritten = this.#rewriteLine(bytes);
    if (rewritten === null) return; // dropped (with its newline)
    this.push(rewritten);
    if (withNewline) this.push(Buffer.of(NEWLINE));
  }

  /** The line as it should be sent on; null drops it. */
  #rewriteLine(bytes: Buffer): Buffer | null {
    const line = bytes.toString('latin1');
    // Only routine, trigger and event bodies (inside DELIMITER blocks) have
    // string literals spanning lines; everything else mariadb-dump writes one
    // statement per line, escaping newlines. So the lexer starts afresh at
    // every line outside those blocks, and at the line that ends a block: a
    // body it misread (NO_BACKSLASH_ESCAPES) can never make it read INSERT
    // data as code.
    if (!this.#inDelimiterBlock || line === 'DELIMITER ;') this.#lexState = 'code';
    const startState = this.#lexState;
    if (startState === 'code' && (line === '' || line.startsWith('-- '))) return bytes;
    const topLevel = startState === 'code';

    if (topLevel) {
      if (line.startsWith('DELIMITER ')) {
        this.#inDelimiterBlock = line.trim() !== 'DELIMITER ;';
        return bytes;
      }
      if (!this.#inDelimiterBlock) {
        const lock = LOCK_TABLE_LINE.exec(line);
        if (lock && this.#sequenceTables.has(unquote(lock[1]!))) {
          this.#dropNextUnlock = true;
          return null;
        }
        if (this.#dropNextUnlock && UNLOCK_TABLES_LINE.test(line)) {
          this.#dropNextUnlock = false;
          return null;
        }
        if (DATABASE_STATEMENT.test(line)) this.#databaseStatement(line);
      }
      this.#noteObject(line);
    }

    const { tokens, end } = tokenize(line, startState);
    this.#lexState = end;
    let changed = false;
    if (topLevel) changed = this.#rewriteAlterDatabase(tokens) || changed;
    changed = this.#rewriteQualifiers(tokens) || changed;
    let text = changed ? tokens.map((token) => token.text).join('') : line;

    if (this.#createTable !== undefined && READS_SEQUENCE.test(codeOf(tokens))) this.#sequenceTables.add(this.#createTable);
    if (topLevel && this.#disableEvents) {
      const enabled = EVENT_ENABLE.exec(text);
      if (enabled) {
        text = enabled[1] + 'DISABLE' + text.slice(enabled[0].length);
        changed = true;
        if (this.#currentObject?.startsWith('event ')) this.#report.disabledEvents.push(this.#currentObject.slice('event '.length));
      }
    }
    // A top-level statement ends the CREATE TABLE that was being read.
    if (!this.#inDelimiterBlock && end === 'code' && /;\s*$/.test(line)) this.#createTable = undefined;
    return changed ? Buffer.from(text, 'latin1') : bytes;
  }

  #noteObject(line: string): void {
    const table = CREATE_TABLE_LINE.exec(line);
    if (table) {
      const name = unquote(table[1]!);
      this.#currentObject = `table ${fromDumpText(name)}`;
      this.#createTable = name;
      return;
    }
    const view = VIEW_LINE.exec(line);
    if (view) {
      this.#currentObject = `view ${fromDumpText(unquote(view[1]!))}`;
      return;
    }
    const routine = ROUTINE_LINE.exec(line);
    if (routine) {
      this.#currentObject = `${routine[1]!.toLowerCase()} ${fromDumpText(unquote(routine[2]!))}`;
      return;
    }
    const other = TRIGGER_OR_EVENT_LINE.exec(line);
    if (other) {
      // A trigger may be written `src`.tr: its own name is the last part.
      const rest = line.slice(other.index + other[0].length - other[2]!.length);
      const parts = /^((?:\x60(?:[^\x60]|\x60\x60)*\x60|[^\s\x60(;.]+)(?:\.(?:\x60(?:[^\x60]|\x60\x60)*\x60|[^\s\x60(;.]+))?)/.exec(rest);
      const names = (parts?.[1] ?? other[2]!).split(/\.(?=[`\w])/);
      this.#currentObject = `${other[1]!.toLowerCase()} ${fromDumpText(unquote(names[names.length - 1]!))}`;
    }
  }

  #databaseStatement(line: string): void {
    const text = fromDumpText(line.slice(0, 200)).trim();
    this.#report.databaseStatements.push(text);
    if (this.#refuse) {
      throw new RestorableError(`the dump names a database (${text}): loading it would write outside the target; nothing after it was loaded`, {
        code: 'RESTORE_NOT_PORTABLE',
        where: this.#where,
        remedy: 'this artifact was not written by restorable (or was edited): remove the USE / CREATE DATABASE / DROP DATABASE lines and load it by hand',
      });
    }
  }

  /** `ALTER DATABASE `src` ...` -> `ALTER DATABASE ...`; another name is a database statement. */
  #rewriteAlterDatabase(tokens: Token[]): boolean {
    const words = tokens.filter((token) => token.kind !== 'space' && !(token.kind === 'other' && /^\/\*M?!\d*$/.test(token.text)));
    if (words.length < 3 || !/^ALTER$/i.test(words[0]!.text) || !/^(DATABASE|SCHEMA)$/i.test(words[1]!.text)) return false;
    const name = identifierOf(words[2]);
    if (name === undefined || words[3]?.kind === 'dot') return false;
    if (/^(CHARACTER|CHARSET|COLLATE|DEFAULT|COMMENT|UPGRADE)$/i.test(words[2]!.text)) return false;
    if (name !== this.#source) {
      this.#databaseStatement(tokens.map((token) => token.text).join(''));
      return false;
    }
    const at = tokens.indexOf(words[2]!);
    tokens.splice(at, tokens[at + 1]?.kind === 'space' ? 2 : 1);
    this.#report.alterDatabaseStatements++;
    return true;
  }

  /** Drops `src`. in front of the database's own objects; reports other databases' names. */
  #rewriteQualifiers(tokens: Token[]): boolean {
    let changed = false;
    for (let index = 0; index < tokens.length; index++) {
      const qualifier = identifierOf(tokens[index]);
      if (qualifier === undefined || tokens[index + 1]?.kind !== 'dot') continue;
      const object = identifierOf(tokens[index + 2]);
      if (object === undefined) continue;
      if (tokens[index - 1]?.kind === 'dot') continue; // x.src.t: src is a table there
      const threePart = tokens[index + 3]?.kind === 'dot' && identifierOf(tokens[index + 4]) !== undefined;
      if (qualifier === this.#source && tokens[index]!.kind === 'word' && /^\d/.test(qualifier)) continue;
      if (qualifier === this.#source) {
        if (!threePart && !this.#objects.has(object)) continue; // an alias named like the database
        tokens.splice(index, 2);
        this.#report.qualifiedNames++;
        if (this.#currentObject) {
          this.#qualifiedObjects.add(this.#currentObject);
          if (threePart && this.#currentObject.startsWith('view ')) this.#fullyQualifiedViews.add(this.#currentObject.slice('view '.length));
        }
        changed = true;
        index--;
        continue;
      }
      if (threePart || this.#others.has(qualifier)) {
        const database = fromDumpText(qualifier);
        const where = this.#currentObject ?? 'the dump';
        this.#otherReferences.set(`${database}\u0000${where}`, { database, object: where });
      }
    }
    return changed;
  }
}

/** The one-line summary of a report for logs and the manifest's details. */
export function describePortability(report: DumpPortabilityReport): string {
  const parts: string[] = [];
  if (report.alterDatabaseStatements) parts.push(`${report.alterDatabaseStatements} ALTER DATABASE without the name`);
  if (report.qualifiedNames) parts.push(`${report.qualifiedNames} name(s) unqualified in ${report.qualifiedObjects.join(', ')}`);
  if (report.sequenceDefaultTables.length) parts.push(`no LOCK TABLES around ${report.sequenceDefaultTables.join(', ')} (DEFAULT reads a sequence)`);
  if (report.disabledEvents.length) parts.push(`${report.disabledEvents.length} event(s) DISABLED`);
  return parts.length ? parts.join('; ') : 'nothing to rewrite';
}

/** Bumped when the backup-time rewriting changes; restore treats artifacts with this marker as already portable. */
export const PORTABLE_REWRITER_VERSION = 1;
