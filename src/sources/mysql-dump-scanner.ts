// Owns reading a mysqldump/mariadb-dump stream as it passes: which objects the
// dump creates (tables, views, sequences, procedures, functions, triggers,
// events), how many rows it inserts per table, whether it ends with the
// `-- Dump completed` trailer, and whether it names a database (`USE`,
// `CREATE DATABASE`), which would make it restore into the original database
// whatever name the operator gives.
//
// Memory stays flat: bytes pass through untouched; only the first HEAD_LIMIT
// bytes of each line are kept for classification. Rows are counted by a small
// state machine over INSERT statements (strings and parentheses), because an
// extended INSERT is one line of many MB in older tools and one row per line in
// mariadb-dump 10.11; the counter handles both. Lines inside `DELIMITER ;;`
// blocks are routine, trigger and event bodies: a `CREATE TABLE` at the start
// of such a line is code, not a table of the dump.
//
// The same state machine also takes the facts a drill compares and a restore
// pre-flight needs, without a second pass: per table a digest of the rows
// (CRC32 of each row's bytes exactly as the dump writes them, `(` to `)`,
// combined order-independently: sum mod 2^48 and xor), the largest row, and
// the largest INSERT statement (what the server's max_allowed_packet must
// exceed to load the dump). Dumping the same data with the same tool and
// options writes the same row bytes, so a drill re-dumps the restored copy
// through this scanner and compares digests: no second snapshot of the live
// server is needed, and a busy application cannot make them differ. Which
// lines create which objects: mysql-dump-object-lines.ts.

import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from '../core/crc32.ts';
import { formatRowDigest, type DumpScanResult, type InventoryKind } from './mysql-dump-findings.ts';
import { CREATE_SEQUENCE, CREATE_TABLE, FINAL_VIEW, INSERT, INSERT_START, NAME_AT_START, NAMES_DATABASE, ROUTINE, TRIGGER_OR_EVENT, unquoteIdentifier, VERSIONED_CREATE } from './mysql-dump-object-lines.ts';

/** Bytes kept from the start of each line; enough for any object header. */
const HEAD_LIMIT = 4096;
/** A trigger's name may follow `TRIGGER` on a later line; look this many lines ahead. */
const TRIGGER_NAME_LOOKAHEAD_LINES = 3;

const NEWLINE = 0x0a;
const QUOTE = 0x27;
const BACKSLASH = 0x5c;
const OPEN = 0x28;
const CLOSE = 0x29;
const SEMICOLON = 0x3b;
/** Bytes the row counter must look at outside string literals. */
const SIGNIFICANT_OUTSIDE_STRINGS = new Uint8Array(256);
for (const byte of [QUOTE, OPEN, CLOSE, SEMICOLON, NEWLINE]) SIGNIFICANT_OUTSIDE_STRINGS[byte] = 1;

const SUM_MODULUS = 2 ** 48;
/** Fold the running sum before it nears 2^53, above which doubles are no longer exact. */
const SUM_FOLD_AT = 2 ** 52;

export interface DumpScannerOptions {
  /**
   * Called once the last byte has been scanned, before the stream ends; the
   * stream ends with the error this rejects with. Lets the producer hold the
   * end of the stream until it has judged the dump.
   */
  settle?: (result: DumpScanResult) => Promise<void>;
}

type Mode = 'head' | 'skipLine' | 'values';

interface TableDataState {
  sum: number;
  xor: number;
  maxRowBytes: number;
}

export class DumpScanner extends Transform {
  readonly #settle: DumpScannerOptions['settle'];
  #mode: Mode = 'head';
  readonly #head = Buffer.allocUnsafe(HEAD_LIMIT);
  #headLength = 0;
  #lines = 0;
  #bytes = 0;
  #inDelimiterBlock = false;
  #lastNonEmptyLine = '';
  #pendingTrigger: { text: string; linesLeft: number } | undefined;
  // INSERT state machine
  #insertTable: string | undefined;
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** The rows' facts of the current INSERT's table (undefined: table unknown). */
  #tableState: TableDataState | undefined;
  /** CRC32 and length so far of a row that continues in the next buffer. */
  #rowCrc = 0;
  #rowBytes = 0;
  #statementBytes = 0;
  #maxStatementBytes = 0;
  readonly #tableData = new Map<string, TableDataState>();

  readonly #inventory: { [K in InventoryKind]: Set<string> } = {
    tables: new Set(),
    views: new Set(),
    sequences: new Set(),
    procedures: new Set(),
    functions: new Set(),
    triggers: new Set(),
    events: new Set(),
  };
  readonly #rows = new Map<string, number>();
  readonly #tablesWithUnknownRows = new Set<string>();
  readonly #databaseStatements: Array<{ line: number; text: string }> = [];
  readonly #qualifiedTriggers: Array<{ name: string; qualifier: string }> = [];

  constructor(options: DumpScannerOptions = {}) {
    super();
    this.#settle = options.settle;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#scan(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#mode === 'head' && this.#headLength > 0) this.#classifyHead(true);
    const result = this.result();
    if (!this.#settle) {
      callback();
      return;
    }
    this.#settle(result).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  /** What was seen so far (complete once the stream has ended). */
  result(): DumpScanResult {
    const sorted = (set: Set<string>) => [...set].sort();
    return {
      trailerFound: this.#lastNonEmptyLine.startsWith('-- Dump completed'),
      inventory: {
        tables: sorted(this.#inventory.tables),
        views: sorted(this.#inventory.views),
        sequences: sorted(this.#inventory.sequences),
        procedures: sorted(this.#inventory.procedures),
        functions: sorted(this.#inventory.functions),
        triggers: sorted(this.#inventory.triggers),
        events: sorted(this.#inventory.events),
      },
      rowsByTable: Object.fromEntries([...this.#rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      tablesWithUnknownRows: sorted(this.#tablesWithUnknownRows),
      tableData: Object.fromEntries(
        [...this.#tableData.entries()]
          .filter(([table]) => !this.#tablesWithUnknownRows.has(table))
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([table, state]) => [table, { rowDigest: formatRowDigest(state.sum, state.xor), maxRowBytes: state.maxRowBytes }]),
      ),
      maxStatementBytes: this.#maxStatementBytes,
      databaseStatements: [...this.#databaseStatements],
      qualifiedTriggers: [...this.#qualifiedTriggers],
      bytes: this.#bytes,
      lines: this.#lines,
    };
  }

  #scan(chunk: Buffer): void {
    this.#bytes += chunk.length;
    const end = chunk.length;
    let index = 0;
    while (index < end) {
      if (this.#mode === 'values') {
        index = this.#scanValues(chunk, index, end);
        continue;
      }
      const newline = chunk.indexOf(NEWLINE, index);
      if (this.#mode === 'skipLine') {
        if (newline < 0) return;
        this.#lines++;
        this.#mode = 'head';
        index = newline + 1;
        continue;
      }
      const lineEnd = newline < 0 ? end : newline;
      const take = Math.min(HEAD_LIMIT - this.#headLength, lineEnd - index);
      chunk.copy(this.#head, this.#headLength, index, index + take);
      this.#headLength += take;
      index += take;
      if (index === newline) {
        index++;
        this.#lines++;
        this.#classifyHead(true);
      } else if (this.#headLength === HEAD_LIMIT) {
        this.#classifyHead(false);
      }
    }
  }

  /**
   * Decides what the line in the head buffer is. `complete` is false when the
   * line is longer than the head: the rest of it is then skipped, or, for an
   * INSERT, run through the row counter.
   */
  #classifyHead(complete: boolean): void {
    const headBytes = this.#head.subarray(0, this.#headLength);
    const text = headBytes.toString('utf8');
    this.#headLength = 0;
    this.#mode = complete ? 'head' : 'skipLine';
    if (text.trim() !== '') this.#lastNonEmptyLine = text;

    if (this.#pendingTrigger) {
      const pending = this.#pendingTrigger;
      pending.text += '\n' + text;
      pending.linesLeft--;
      if (this.#recordTrigger(pending.text) || pending.linesLeft <= 0) this.#pendingTrigger = undefined;
      return;
    }

    if (text.startsWith('DELIMITER ')) {
      this.#inDelimiterBlock = text.trim() !== 'DELIMITER ;';
      return;
    }
    if (text.startsWith('--') || text === '') return;

    if (VERSIONED_CREATE.test(text)) {
      const marker = TRIGGER_OR_EVENT.exec(text);
      if (marker) {
        const rest = text.slice(marker.index + marker[0].length);
        if (marker[1]!.toUpperCase() === 'EVENT') {
          const name = NAME_AT_START.exec(rest);
          if (name) this.#inventory.events.add(unquoteIdentifier(name[2] ?? name[1]!));
        } else if (!this.#recordTrigger(rest)) {
          this.#pendingTrigger = { text: rest, linesLeft: TRIGGER_NAME_LOOKAHEAD_LINES };
        }
      }
      return;
    }
    const routine = ROUTINE.exec(text);
    if (routine) {
      const name = unquoteIdentifier(routine[3] ?? routine[2]!);
      if (routine[1]!.toUpperCase() === 'PROCEDURE') this.#inventory.procedures.add(name);
      else this.#inventory.functions.add(name);
      return;
    }
    // Everything below is a top-level statement; inside DELIMITER blocks it is body code.
    if (this.#inDelimiterBlock) return;

    if (INSERT_START.test(text)) {
      this.#startInsert(text, headBytes, complete);
      return;
    }
    const table = CREATE_TABLE.exec(text);
    if (table) {
      this.#inventory.tables.add(unquoteIdentifier(table[2] ?? table[1]!));
      return;
    }
    const sequence = CREATE_SEQUENCE.exec(text);
    if (sequence) {
      this.#inventory.sequences.add(unquoteIdentifier(sequence[2] ?? sequence[1]!));
      return;
    }
    const view = FINAL_VIEW.exec(text);
    if (view) {
      this.#inventory.views.add(unquoteIdentifier(view[2] ?? view[1]!));
      return;
    }
    if (NAMES_DATABASE.test(text)) {
      this.#databaseStatements.push({ line: this.#lines, text: text.slice(0, 200) });
    }
  }

  /** Records the trigger whose name starts `text`; false when the name is not there (yet). */
  #recordTrigger(text: string): boolean {
    const name = NAME_AT_START.exec(text);
    if (!name) return false;
    if (name[2] !== undefined) {
      const trigger = unquoteIdentifier(name[2]);
      this.#inventory.triggers.add(trigger);
      this.#qualifiedTriggers.push({ name: trigger, qualifier: unquoteIdentifier(name[1]!) });
    } else {
      this.#inventory.triggers.add(unquoteIdentifier(name[1]!));
    }
    return true;
  }

  #startInsert(text: string, headBytes: Buffer, complete: boolean): void {
    const insert = INSERT.exec(text);
    let valuesStart: number;
    if (insert) {
      this.#insertTable = unquoteIdentifier(insert[1]!);
      valuesStart = Buffer.byteLength(insert[0], 'utf8');
    } else {
      // A statement we cannot read (a column list longer than the head...):
      // still follow it to its end, but its table's row count is unknown.
      const table = /^(?:INSERT|REPLACE)\s+(?:IGNORE\s+)?INTO\s+(\x60(?:[^\x60]|\x60\x60)*\x60|\S+)/i.exec(text);
      this.#insertTable = undefined;
      this.#tablesWithUnknownRows.add(table ? unquoteIdentifier(table[1]!) : '(unknown table)');
      valuesStart = table ? Buffer.byteLength(table[0], 'utf8') : headBytes.length;
    }
    if (this.#insertTable !== undefined && !this.#rows.has(this.#insertTable)) this.#rows.set(this.#insertTable, 0);
    this.#tableState = undefined;
    if (this.#insertTable !== undefined) {
      this.#tableState = this.#tableData.get(this.#insertTable);
      if (!this.#tableState) this.#tableData.set(this.#insertTable, (this.#tableState = { sum: 0, xor: 0, maxRowBytes: 0 }));
    }
    this.#rowCrc = 0;
    this.#rowBytes = 0;
    this.#statementBytes = valuesStart;
    this.#depth = 0;
    this.#inString = false;
    this.#escaped = false;
    this.#mode = 'values';
    this.#scanValues(headBytes, valuesStart, headBytes.length);
    // Ended inside the head: the rest of that line (if any) is skipped. Else the
    // counter goes on with the bytes after the head (the line's newline, when
    // the head held the whole line, was already consumed by the line reader).
    if (this.#mode !== 'values') this.#mode = complete ? 'head' : 'skipLine';
  }

  /**
   * Counts rows (top-level parenthesised tuples) of the current INSERT until
   * its terminating `;`, and digests each row's bytes. Dumps quote strings
   * with single quotes and escape quotes and newlines with backslashes
   * (mysql_real_escape_string), so inside a string only `\\` and `'` matter:
   * jump between them with indexOf (memchr); outside strings, a table says
   * which bytes matter at all. A row's CRC32 is taken with one native call
   * over its bytes when the row ends (plus one per buffer it spans).
   */
  #scanValues(buffer: Buffer, from: number, to: number): number {
    let depth = this.#depth;
    let inString = this.#inString;
    let escaped = this.#escaped;
    const state = this.#tableState;
    // Kept in locals in this hot loop; written back at the end. The sum stays
    // far below 2^53 (exact in a double) by folding it mod 2^48 now and then.
    let sum = state ? state.sum : 0;
    let xor = state ? state.xor : 0;
    let maxRowBytes = state ? state.maxRowBytes : 0;
    // Where the current row starts in this buffer (it may have begun in an earlier one).
    let rowStart = depth > 0 ? from : -1;
    let rows = 0;
    let lines = 0;
    let index = from;
    let ended = false;
    let nextQuote = -2;
    let nextBackslash = -2;
    while (index < to) {
      if (inString) {
        if (escaped) {
          escaped = false;
          index++;
          continue;
        }
        if (nextQuote !== -1 && nextQuote < index) nextQuote = buffer.indexOf(QUOTE, index);
        if (nextBackslash !== -1 && nextBackslash < index) nextBackslash = buffer.indexOf(BACKSLASH, index);
        const quote = nextQuote === -1 || nextQuote >= to ? to : nextQuote;
        const backslash = nextBackslash === -1 || nextBackslash >= to ? to : nextBackslash;
        if (backslash < quote) {
          escaped = true;
          index = backslash + 1;
        } else if (quote < to) {
          inString = false;
          index = quote + 1;
        } else {
          index = to;
        }
        continue;
      }
      const byte = buffer[index++]!;
      if (SIGNIFICANT_OUTSIDE_STRINGS[byte] === 0) continue;
      if (byte === QUOTE) inString = true;
      else if (byte === OPEN) {
        if (depth === 0) {
          rows++;
          rowStart = index - 1;
        }
        depth++;
      } else if (byte === CLOSE) {
        if (--depth === 0 && rowStart >= 0) {
          if (state) {
            const rowCrc = crc32(buffer.subarray(rowStart, index), this.#rowCrc);
            const rowBytes = this.#rowBytes + index - rowStart;
            sum += rowCrc;
            if (sum >= SUM_FOLD_AT) sum %= SUM_MODULUS;
            xor ^= rowCrc;
            if (rowBytes > maxRowBytes) maxRowBytes = rowBytes;
          }
          if (this.#rowBytes !== 0) {
            this.#rowCrc = 0;
            this.#rowBytes = 0;
          }
          rowStart = -1;
        }
      } else if (byte === NEWLINE) lines++;
      else if (byte === SEMICOLON && depth === 0) {
        ended = true;
        break;
      }
    }
    if (depth > 0 && rowStart >= 0 && index > rowStart) {
      // The row goes on in the next buffer: carry its CRC and length over.
      if (state) this.#rowCrc = crc32(buffer.subarray(rowStart, index), this.#rowCrc);
      this.#rowBytes += index - rowStart;
    }
    if (state) {
      state.sum = sum % SUM_MODULUS;
      state.xor = xor;
      state.maxRowBytes = maxRowBytes;
    }
    this.#depth = depth;
    this.#inString = inString;
    this.#escaped = escaped;
    this.#lines += lines;
    this.#statementBytes += index - from;
    if (this.#insertTable !== undefined && rows > 0) this.#rows.set(this.#insertTable, (this.#rows.get(this.#insertTable) ?? 0) + rows);
    if (ended) {
      if (this.#statementBytes > this.#maxStatementBytes) this.#maxStatementBytes = this.#statementBytes;
      this.#insertTable = undefined;
      this.#tableState = undefined;
      this.#mode = 'skipLine';
    }
    return index;
  }
}
