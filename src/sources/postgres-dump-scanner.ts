// Owns reading a plain pg_dump as it streams past (a pass-through Transform):
// the header comment pg_dump writes before each object (`-- Name: users;
// Type: TABLE; Schema: public; Owner: -`: the dump's own table of contents),
// the rows of each COPY block, the `setval` of each sequence, the large
// objects it creates, statements that would tie it to one database
// (`\connect`, CREATE DATABASE), and the trailer `-- PostgreSQL database
// dump complete`, after which only comments, blank lines and psql's
// `\unrestrict` (pg_dump 15.14+, 16.10+, 17.6+) may follow.
//
// Only the first HEAD_LIMIT bytes of a line are kept, and 3 bytes of a COPY
// row (enough to see the `\.` that ends the block): a row is one line, since
// COPY's text format escapes line breaks in values.

import { SettlingScanner } from './dump-scan-handoff.ts';
import type { PostgresSequenceFacts } from './postgres-details.ts';
import { tocKey } from './postgres-inventory.ts';

const HEAD_LIMIT = 4096;
const COPY_ROW_HEAD = 3;
const NEWLINE = 0x0a;

/** `-- Name: users; Type: TABLE; Schema: public; Owner: -` and `-- Data for Name: ...`. */
const HEADER = /^-- (Data for )?Name: (.*); Type: ([A-Z][A-Z ]*); Schema: (.*?); Owner: (.*)$/;
const COPY_START = /^COPY .* FROM stdin;$/;
const SETVAL = /^SELECT pg_catalog\.setval\('((?:[^']|'')*)', (-?\d+), (true|false)\);$/;
const LARGE_OBJECT = /^SELECT pg_catalog\.lo_create\('\d+'\);$/;
const TRAILER = '-- PostgreSQL database dump complete';
/** psql meta-commands pg_dump itself writes; any other is unexpected in a dump. */
const HARMLESS_META = /^\\(restrict|unrestrict) [A-Za-z0-9]+$/;

export interface PostgresDumpScan {
  trailerFound: boolean;
  /** TOC keys (postgres-inventory.ts tocKey) of every object header in the dump. */
  objects: Set<string>;
  /** Rows of each COPY block, by its `Data for` key (`TABLE DATA\tpublic\tusers`). */
  rows: Map<string, number>;
  /** A COPY block the stream ended inside of (its key). */
  unterminatedCopy: string | undefined;
  /** The sequences' values as the dump sets them (names as in the setval: `public.users_id_seq`). */
  sequences: PostgresSequenceFacts[];
  largeObjects: number;
  /** `\connect`, CREATE DATABASE, other meta-commands: lines that would tie the dump to one database or client. */
  databaseStatements: Array<{ line: number; text: string }>;
  bytes: number;
  lines: number;
}

export class PostgresDumpScanner extends SettlingScanner<PostgresDumpScan> {
  readonly #head = Buffer.allocUnsafe(HEAD_LIMIT);
  #headLength = 0;
  #lineLength = 0;
  #lines = 0;
  #bytes = 0;
  #copyKey: string | undefined;
  #copyRows = 0;
  #dataKey: string | undefined;
  #trailerFound = false;
  #largeObjects = 0;
  readonly #objects = new Set<string>();
  readonly #rows = new Map<string, number>();
  readonly #sequences: PostgresSequenceFacts[] = [];
  readonly #databaseStatements: Array<{ line: number; text: string }> = [];

  protected override scanEnd(): void {
    if (this.#lineLength > 0) this.#endLine();
  }

  /** What was seen so far (complete once the stream has ended). */
  override result(): PostgresDumpScan {
    return {
      trailerFound: this.#trailerFound,
      objects: new Set(this.#objects),
      rows: new Map(this.#rows),
      unterminatedCopy: this.#copyKey,
      sequences: [...this.#sequences],
      largeObjects: this.#largeObjects,
      databaseStatements: [...this.#databaseStatements],
      bytes: this.#bytes,
      lines: this.#lines,
    };
  }

  protected override scanChunk(chunk: Buffer): void {
    this.#bytes += chunk.length;
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline < 0 ? chunk.length : newline;
      const room = (this.#copyKey !== undefined ? COPY_ROW_HEAD : HEAD_LIMIT) - this.#headLength;
      if (room > 0) this.#headLength += chunk.copy(this.#head, this.#headLength, start, Math.min(end, start + room));
      this.#lineLength += end - start;
      if (newline < 0) break;
      this.#endLine();
      start = newline + 1;
    }
  }

  #endLine(): void {
    this.#lines += 1;
    const length = this.#lineLength;
    const head = this.#head.subarray(0, this.#headLength);
    this.#headLength = 0;
    this.#lineLength = 0;
    if (this.#copyKey !== undefined) {
      if (length === 2 && head[0] === 0x5c && head[1] === 0x2e) {
        this.#rows.set(this.#copyKey, (this.#rows.get(this.#copyKey) ?? 0) + this.#copyRows);
        this.#copyKey = undefined;
      } else {
        this.#copyRows += 1;
      }
      return;
    }
    this.#classify(head.toString('utf8').replace(/\r$/, ''));
  }

  #classify(line: string): void {
    if (line === '') return;
    if (line.startsWith('--')) {
      if (line === TRAILER) this.#trailerFound = true;
      const header = HEADER.exec(line);
      if (!header) return;
      const [, dataFor, name, type, schema] = header as unknown as [string, string | undefined, string, string, string];
      if (dataFor) this.#dataKey = tocKey(type, schema, name);
      else this.#objects.add(tocKey(type, schema, name));
      return;
    }
    // Anything but comments and \unrestrict after the trailer: the trailer was not the end.
    if (!(this.#trailerFound && /^\\unrestrict /.test(line))) this.#trailerFound = false;
    if (COPY_START.test(line)) {
      this.#copyKey = this.#dataKey ?? `?\t${line}`;
      this.#copyRows = 0;
      return;
    }
    const setval = SETVAL.exec(line);
    if (setval) {
      this.#sequences.push({ name: setval[1]!.replaceAll("''", "'"), value: setval[2]!, isCalled: setval[3] === 'true' });
      return;
    }
    if (LARGE_OBJECT.test(line)) {
      this.#largeObjects += 1;
      return;
    }
    if ((line.startsWith('\\') && !HARMLESS_META.test(line)) || /^CREATE DATABASE\b/i.test(line)) {
      this.#databaseStatements.push({ line: this.#lines, text: line.slice(0, 200) });
    }
  }
}
