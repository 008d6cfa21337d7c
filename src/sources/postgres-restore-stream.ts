// Owns the two changes a restore makes to a plain pg_dump script on its way to
// psql (the facts of the script are PostgresDumpScanner's, beside it in the
// pipeline):
//   - a psql meta-command line other than `\restrict`/`\unrestrict` is held
//     back (`\connect` would write into another database, `\!` runs a shell);
//     the restore then refuses the script before psql commits anything;
//   - the `BEGIN;`/`COMMIT;` pg_dump wraps large objects in are dropped:
//     under `psql --single-transaction` that COMMIT would end the one
//     transaction early and leave the rest of the load (constraints,
//     indexes, foreign keys) outside it.
// It follows COPY blocks, so a data line (`\N`, `\\x00ff`, `BEGIN;` as a
// value) is never taken for a statement. Every other byte passes unchanged.

import { Transform, type TransformCallback } from 'node:stream';

const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
/** Statement lines longer than this are passed on without being decoded (a long INSERT or function body). */
const LONGEST_INSPECTED_LINE = 4096;

export class RestoreScriptFilter extends Transform {
  private remainder: Buffer | undefined;
  private inCopy = false;
  private inLargeObjects = false;
  /** Meta-command lines held back (the first few, cut short). */
  readonly heldBack: string[] = [];

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const data = this.remainder ? Buffer.concat([this.remainder, chunk]) : chunk;
    this.remainder = undefined;
    const kept: Buffer[] = [];
    let start = 0;
    let passFrom = 0;
    for (let end = data.indexOf(NEWLINE); end !== -1; end = data.indexOf(NEWLINE, start)) {
      if (!this.keeps(data, start, end)) {
        if (start > passFrom) kept.push(data.subarray(passFrom, start));
        passFrom = end + 1;
      }
      start = end + 1;
    }
    if (start > passFrom) kept.push(data.subarray(passFrom, start));
    if (start < data.length) this.remainder = data.subarray(start);
    callback(null, kept.length === 1 ? kept[0] : kept.length > 0 ? Buffer.concat(kept) : undefined);
  }

  override _flush(callback: TransformCallback): void {
    const last = this.remainder;
    this.remainder = undefined;
    callback(null, last && last.length > 0 && this.keeps(last, 0, last.length) ? last : undefined);
  }

  /** Whether the line `data[start, end)` (without its newline) goes on to psql. */
  private keeps(data: Buffer, start: number, end: number): boolean {
    if (this.inCopy) {
      if (end - start === 2 && data[start] === BACKSLASH && data[start + 1] === 0x2e) this.inCopy = false;
      return true;
    }
    if (end - start > LONGEST_INSPECTED_LINE) return true;
    const line = data.toString('utf8', start, end).replace(/\r$/, '');
    if (line.startsWith('COPY ') && line.endsWith(' FROM stdin;')) {
      this.inCopy = true;
      return true;
    }
    if (line.startsWith('\\')) {
      if (/^\\(restrict|unrestrict) [A-Za-z0-9]+$/.test(line)) return true;
      if (this.heldBack.length < 5) this.heldBack.push(line.slice(0, 80));
      return false;
    }
    if (/^-- Data for Name: .*; Type: (BLOBS|LARGE OBJECTS); /.test(line)) {
      this.inLargeObjects = true;
      return true;
    }
    if (this.inLargeObjects && line === 'BEGIN;') return false;
    if (this.inLargeObjects && line === 'COMMIT;') {
      this.inLargeObjects = false;
      return false;
    }
    return true;
  }
}
