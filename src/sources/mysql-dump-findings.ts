// Owns what a scan of a dump finds, as the rest of the mysql source reads it:
// the objects the dump creates (its inventory, in the server inventory's
// kinds), the rows per table with their digest and largest row, the trailer,
// statements that name a database. The row digest's algorithm is named in
// every digest, so a digest of another algorithm is never compared with it.

export interface DumpInventory {
  tables: string[];
  views: string[];
  sequences: string[];
  procedures: string[];
  functions: string[];
  triggers: string[];
  events: string[];
}

export type InventoryKind = keyof DumpInventory;

export const INVENTORY_KINDS: readonly InventoryKind[] = ['tables', 'views', 'sequences', 'procedures', 'functions', 'triggers', 'events'];

/** `procedures` -> `procedure`, for messages. */
export function singularKind(kind: InventoryKind): string {
  return kind.slice(0, -1);
}

/** Names the row digest's algorithm, so a later change of it is never compared with an old digest. */
export const ROW_DIGEST_ALGORITHM = 'crc32sum48xor';

/** The digest of the rows of one table; a table the dump inserts nothing into has EMPTY_ROW_DIGEST. */
export function formatRowDigest(sum: number, xor: number): string {
  return `${ROW_DIGEST_ALGORITHM}:${sum.toString(16).padStart(12, '0')}:${(xor >>> 0).toString(16).padStart(8, '0')}`;
}
export const EMPTY_ROW_DIGEST = formatRowDigest(0, 0);

export interface TableDataFacts {
  /** Order-independent digest of the rows the dump inserts (see ROW_DIGEST_ALGORITHM). */
  rowDigest: string;
  /** Bytes of the largest row (one `(...)` tuple) as the dump writes it. */
  maxRowBytes: number;
}

export interface DumpScanResult {
  /** The last non-empty line starts with `-- Dump completed`. */
  trailerFound: boolean;
  inventory: DumpInventory;
  /** Rows inserted per table, counted in the dump itself. */
  rowsByTable: Record<string, number>;
  /** Tables whose INSERT statements could not be read (row count unknown). */
  tablesWithUnknownRows: string[];
  /** Per table with rows: their digest and largest row (tables with unknown rows are left out). */
  tableData: Record<string, TableDataFacts>;
  /** Bytes of the largest INSERT statement: a server loading the dump needs a larger max_allowed_packet. */
  maxStatementBytes: number;
  /** `USE`/`CREATE DATABASE` statements, which tie the dump to one database name. */
  databaseStatements: Array<{ line: number; text: string }>;
  /** Triggers written with a database prefix (`app`.`tr`), which do not restore under another name. */
  qualifiedTriggers: Array<{ name: string; qualifier: string }>;
  bytes: number;
  lines: number;
}
