// Owns reading what a PostgreSQL database holds: its objects by kind (the
// inventory the backup checks the dump against and a drill compares with the
// restored copy), its extensions, the roles that own objects or hold grants,
// and its sequences' values. The backup and the drill both call this, on
// their own sessions, so they name objects alike (see postgres-details.ts).
//
// Left out, as pg_dump leaves them out: system schemas, objects that belong to
// an extension (pgcrypto's functions come back with CREATE EXTENSION),
// built-in extensions (plpgsql), a range type's constructor functions, implicit types (a table's row type, array
// types, multiranges), internal triggers and the copies of a partitioned
// table's triggers on its partitions. Every object also carries its "TOC key":
// how pg_dump's comment header names it (`-- Name: users; Type: TABLE;
// Schema: public`), which is what postgres-dump-scanner.ts finds in the dump.

import type pg from 'pg';
import type { PostgresInventory, PostgresInventoryKind, PostgresSequenceFacts } from './postgres-details.ts';

/** One object of the inventory: its kind, its name as the details write it, and pg_dump's TOC key for it. */
export interface PostgresObject {
  kind: PostgresInventoryKind;
  name: string;
  /** `TABLE\tpublic\tusers`: pg_dump's `Type`, `Schema` and `Name` of its header comment. */
  toc: string;
}

export interface PostgresTableRef {
  /** Qualified, quoted (`public.users`): for SQL and the details. */
  name: string;
  /** `TABLE DATA\tpublic\tusers`: how the dump's `Data for Name:` header names it. */
  dataKey: string;
}

export interface PostgresInspection {
  inventory: PostgresInventory;
  objects: PostgresObject[];
  tables: PostgresTableRef[];
  extensions: Array<{ name: string; version: string; schema: string }>;
  roles: { owners: string[]; grantees: string[] };
}

/** pg_dump's header comments put a line break of a name on one line (sanitize_line). */
export function tocKey(type: string, schema: string, name: string): string {
  return [type, schema, name].map((part) => part.replace(/[\r\n]/g, ' ')).join('\t');
}

const USER_SCHEMA = (alias: string) => `${alias}.nspname NOT IN ('pg_catalog', 'information_schema') AND ${alias}.nspname NOT LIKE 'pg\\_toast%' AND ${alias}.nspname NOT LIKE 'pg\\_temp\\_%'`;
const NOT_EXTENSION_MEMBER = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

function objectsSql(versionNum: number): string {
  const prokind = versionNum >= 110000 ? 'p.prokind' : "CASE WHEN p.proisagg THEN 'a' ELSE 'f' END";
  const clonedTrigger = versionNum >= 130000 ? 'AND t.tgparentid = 0' : '';
  return `
SELECT 'SCHEMA' AS type, '-' AS schema, n.nspname AS name, quote_ident(n.nspname) AS display
  FROM pg_catalog.pg_namespace n WHERE ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_catalog.pg_namespace', 'n.oid')}
UNION ALL
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
       n.nspname, c.relname, c.oid::regclass::text
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_catalog.pg_class', 'c.oid')}
UNION ALL
SELECT CASE ${prokind} WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
       n.nspname, p.proname || '(' || pg_catalog.oidvectortypes(p.proargtypes) || ')', p.oid::regprocedure::text
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_catalog.pg_proc', 'p.oid')}
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'i')
UNION ALL
SELECT 'TRIGGER', n.nspname, c.relname || ' ' || t.tgname, c.oid::regclass::text || ' ' || quote_ident(t.tgname)
  FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal ${clonedTrigger} AND ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_catalog.pg_class', 'c.oid')}
UNION ALL
SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, n.nspname, t.typname, pg_catalog.format_type(t.oid, NULL)
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
 WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r') AND ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_catalog.pg_type', 't.oid')}
   AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.oid = t.typelem AND e.typarray = t.oid)
UNION ALL
SELECT 'EXTENSION', '-', e.extname, e.extname FROM pg_catalog.pg_extension e WHERE e.oid >= 16384`;
}

const KIND_OF_TYPE: Record<string, PostgresInventoryKind> = {
  SCHEMA: 'schemas',
  TABLE: 'tables',
  VIEW: 'views',
  'MATERIALIZED VIEW': 'materializedViews',
  SEQUENCE: 'sequences',
  FUNCTION: 'functions',
  AGGREGATE: 'functions',
  PROCEDURE: 'procedures',
  TRIGGER: 'triggers',
  TYPE: 'types',
  DOMAIN: 'types',
  EXTENSION: 'extensions',
};

/** Which inventory kind a pg_dump TOC type counts as (undefined: not an inventory object). */
export function inventoryKindOfTocType(type: string): PostgresInventoryKind | undefined {
  return KIND_OF_TYPE[type];
}

const ROLES_SQL = `
WITH owned(owner) AS (
  SELECT c.relowner FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND ${USER_SCHEMA('n')}
  UNION SELECT p.proowner FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE ${USER_SCHEMA('n')}
  UNION SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE ${USER_SCHEMA('n')} AND n.nspname <> 'public'
  UNION SELECT m.lomowner FROM pg_catalog.pg_largeobject_metadata m
), granted(acl) AS (
  SELECT c.relacl FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relacl IS NOT NULL AND ${USER_SCHEMA('n')}
  UNION ALL SELECT n.nspacl FROM pg_catalog.pg_namespace n WHERE n.nspacl IS NOT NULL AND ${USER_SCHEMA('n')}
  UNION ALL SELECT p.proacl FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.proacl IS NOT NULL AND ${USER_SCHEMA('n')}
)
SELECT 'owner' AS role_of, pg_catalog.pg_get_userbyid(owner) AS role FROM owned
UNION
SELECT 'grantee', CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END
  FROM granted, LATERAL pg_catalog.aclexplode(granted.acl) a WHERE a.grantee <> a.grantor`;

/** Sets `search_path = ''` on the session (names come out qualified) and reads the inventory. */
export async function readPostgresInventory(client: pg.Client): Promise<PostgresInspection> {
  await client.query("SET search_path = ''");
  const versionNum = Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v);
  const rows = (await client.query<{ type: string; schema: string; name: string; display: string }>(objectsSql(versionNum))).rows;
  const inventory: PostgresInventory = { schemas: [], tables: [], views: [], materializedViews: [], sequences: [], functions: [], procedures: [], triggers: [], types: [], extensions: [], largeObjects: 0 };
  const objects: PostgresObject[] = [];
  const tables: PostgresTableRef[] = [];
  for (const row of rows) {
    const kind = KIND_OF_TYPE[row.type]!;
    inventory[kind].push(row.display);
    objects.push({ kind, name: row.display, toc: tocKey(row.type, row.schema, row.name) });
    if (row.type === 'TABLE') tables.push({ name: row.display, dataKey: tocKey('TABLE DATA', row.schema, row.name) });
  }
  for (const kind of Object.keys(KIND_OF_TYPE).map((type) => KIND_OF_TYPE[type]!)) inventory[kind].sort(byCodePoint);
  tables.sort((a, b) => byCodePoint(a.name, b.name));
  inventory.largeObjects = Number((await client.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_catalog.pg_largeobject_metadata')).rows[0]?.n ?? 0);
  const extensions = (
    await client.query<{ name: string; version: string; schema: string }>(
      'SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.oid >= 16384 ORDER BY 1',
    )
  ).rows;
  const roleRows = (await client.query<{ role_of: string; role: string }>(ROLES_SQL)).rows;
  const rolesOf = (which: string) => [...new Set(roleRows.filter((row) => row.role_of === which).map((row) => row.role))].sort(byCodePoint);
  return { inventory, objects, tables, extensions, roles: { owners: rolesOf('owner'), grantees: rolesOf('grantee') } };
}

/** Every sequence's value as `setval` would restore it (needs SELECT on each sequence). */
export async function readSequenceValues(client: pg.Client): Promise<PostgresSequenceFacts[]> {
  await client.query("SET search_path = ''");
  const names = (
    await client.query<{ name: string }>(
      `SELECT c.oid::regclass::text AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'S' AND ${USER_SCHEMA('n')} AND ${NOT_EXTENSION_MEMBER('pg_catalog.pg_class', 'c.oid')}`,
    )
  ).rows.map((row) => row.name);
  const values: PostgresSequenceFacts[] = [];
  for (const name of names.sort(byCodePoint)) {
    const row = (await client.query<{ value: string; called: boolean }>(`SELECT last_value::text AS value, is_called AS called FROM ${name}`)).rows[0]!;
    values.push({ name, value: row.value, isCalled: row.called });
  }
  return values;
}

export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
