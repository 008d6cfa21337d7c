// Owns the facts a postgres artifact's manifest carries (`details`), and the
// exact definition of the per-table checksum, the contract between the backup
// (which takes them in the dump's own snapshot) and the drill (which takes
// them again on the restored copy and compares).
//
// Names: every object is named qualified and quoted as PostgreSQL prints it
// with `search_path = ''`: `public.users`, `"Odd Schema"."Mixed Case"`,
// functions as `public.add(integer, integer)` (regprocedure), triggers as
// `<table> <trigger>` (the table qualified), types as format_type prints them,
// schemas and extensions bare (`"Odd Schema"`, pgcrypto). Both sides build
// the inventory with postgres-inventory.ts (`readPostgresInventory`), so the
// drill compares like with like.
//
// Checksum of a table (TABLE_CHECKSUM_SETTINGS in force on the session):
//   SELECT count(*)::text, coalesce(sum(hashtextextended((t.*)::text, 0)), 0)::text FROM ONLY <table> AS t
// (`(t.*)`, the whole row: a bare `t` would be a column named t, had the table one).
// The sum of per-row hashes (a numeric sum, never overflowing) does not depend
// on row order; a row's text does not depend on the session, given the
// settings: UTC, ISO dates, shortest exact floats (12+; 11 prints 17 digits), hex bytea, C money. PostgreSQL 11+
// (hashtextextended); on older servers the checksum is null and only counts compare.

/** Settings a session sets before taking checksums, so that a row's text is the same on any server. */
export const TABLE_CHECKSUM_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['TimeZone', 'UTC'],
  ['DateStyle', 'ISO, YMD'],
  ['IntervalStyle', 'postgres'],
  ['extra_float_digits', '3'],
  ['bytea_output', 'hex'],
  // money's text follows lc_monetary; reg* columns (regclass...) print qualified with an empty search_path.
  ['lc_monetary', 'C'],
  ['search_path', ''],
];

/** `SET ...` statements for TABLE_CHECKSUM_SETTINGS (values are constants, quoted as literals). */
export function checksumSettingsSql(): string {
  return TABLE_CHECKSUM_SETTINGS.map(([name, value]) => `SET ${name} = '${value}';`).join(' ');
}

/** The checksum query of one table; `qualifiedName` as in TableFacts.name (already quoted). */
export function tableChecksumSql(qualifiedName: string): string {
  return `SELECT count(*)::text AS rows, coalesce(sum(hashtextextended((t.*)::text, 0)), 0)::text AS checksum FROM ONLY ${qualifiedName} AS t`;
}

/** Row count without a checksum (servers before 11). */
export function tableCountSql(qualifiedName: string): string {
  return `SELECT count(*)::text AS rows, NULL::text AS checksum FROM ONLY ${qualifiedName} AS t`;
}

/** Large objects: how many, and an order-independent checksum over (oid, md5 of content). */
export const LARGE_OBJECTS_CHECKSUM_SQL =
  "SELECT count(*)::text AS count, coalesce(sum(hashtextextended(m.oid::text || ':' || md5(lo_get(m.oid)), 0)), 0)::text AS checksum FROM pg_catalog.pg_largeobject_metadata m";

/** What the server (or a restored copy) holds, each list sorted (code-point order). */
export interface PostgresInventory {
  schemas: string[];
  /** Ordinary and partitioned tables (`public.users`). */
  tables: string[];
  views: string[];
  materializedViews: string[];
  sequences: string[];
  /** Functions, window functions and aggregates (`public.add(integer, integer)`). */
  functions: string[];
  procedures: string[];
  /** `public.users users_touch`. */
  triggers: string[];
  /** Enums, composite, range, base types and domains. */
  types: string[];
  /** Extension names (`pgcrypto`); their versions are in PostgresDetails.extensions. */
  extensions: string[];
  /** The number of large objects. */
  largeObjects: number;
}

/** The inventory's list kinds, in the order messages name them. */
export const POSTGRES_INVENTORY_KINDS = ['schemas', 'tables', 'views', 'materializedViews', 'sequences', 'functions', 'procedures', 'triggers', 'types', 'extensions'] as const;
export type PostgresInventoryKind = (typeof POSTGRES_INVENTORY_KINDS)[number];

/** `materializedViews` -> `materialized view`, for messages. */
export function postgresKindWord(kind: PostgresInventoryKind, count = 1): string {
  const singular = { schemas: 'schema', tables: 'table', views: 'view', materializedViews: 'materialized view', sequences: 'sequence', functions: 'function', procedures: 'procedure', triggers: 'trigger', types: 'type', extensions: 'extension' }[kind];
  return count === 1 ? singular : `${singular}s`;
}

export interface PostgresTableFacts {
  /** Qualified, quoted: `public.users`. */
  name: string;
  /** Rows in the snapshot (a decimal string: bigint). */
  rows: string;
  /** tableChecksumSql's checksum (a decimal string), null before PostgreSQL 11. */
  checksum: string | null;
}

export interface PostgresSequenceFacts {
  /** Qualified, quoted: `public.users_id_seq`. */
  name: string;
  /** As the dump's `setval` sets it: the value and whether nextval() returns the next one. */
  value: string;
  isCalled: boolean;
}

/** `details` of a postgres artifact in the manifest. */
export interface PostgresDetails {
  /** The database dumped (the artifact itself names none). */
  database: string;
  /** `PostgreSQL 15.20 (Debian ...)`: version(). */
  server: string;
  /** server_version_num: 150020. */
  serverVersionNum: number;
  /** `pg_dump (PostgreSQL) 15.20`. */
  tool: string;
  /** The snapshot the dump and the facts below were taken in (pg_export_snapshot()). */
  snapshot: string;
  inventory: PostgresInventory;
  /** Every table of the inventory (partitioned parents count 0: their rows are in the partitions). */
  tables: PostgresTableFacts[];
  /**
   * From the dump's own setval lines: what a restore sets. Sequences are not
   * transactional, so pg_dump reads them when it gets to them: a value may be
   * ahead of the snapshot's rows (never behind). Compare a restored copy with these.
   */
  sequences: PostgresSequenceFacts[];
  largeObjects: { count: number; checksum: string | null };
  extensions: Array<{ name: string; version: string; schema: string }>;
  /**
   * Roles that owned objects or held grants: the dump carries neither owners
   * nor grants (--no-owner --no-privileges, so it restores as any role), and a
   * restore notes that these were remapped to the restoring role.
   */
  roles: { owners: string[]; grantees: string[] };
  /** Bytes of the raw dump, and the rows its COPY blocks held (which equal the snapshot's counts). */
  dumpBytes: number;
  dumpRows: number;
}
