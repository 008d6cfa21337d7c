// Owns the privilege pre-flight of a postgres source: may this role read
// everything pg_dump must read? pg_dump fails on the first table it may not
// read (and our own counts would too), so the pre-flight names ALL of them at
// once, each with the exact GRANT that fixes it, before anything is written:
// USAGE on schemas, SELECT on tables and sequences (not materialized views:
// pg_dump only writes their REFRESH),
// SELECT on large objects, and BYPASSRLS where row-level security would make
// pg_dump refuse ("query would be affected by row-level security policy").
// On PostgreSQL 14+ one grant covers schemas, tables and sequences
// (`GRANT pg_read_all_data TO ...`); it does not cover large objects.

import type pg from 'pg';
import { quotePostgresIdentifier } from './postgres-settings.ts';

export interface MissingPostgresPrivilege {
  /** `SELECT on public.users`, `USAGE on schema "Odd Schema"`. */
  what: string;
  /** The statement an administrator runs: `GRANT SELECT ON TABLE public.users TO app;`. */
  grant: string;
  /** PostgreSQL 14+: `GRANT pg_read_all_data` covers it (schemas, tables, sequences; not large objects or RLS). */
  readAllData: boolean;
}

export interface PostgresPrivileges {
  /** current_user. */
  account: string;
  superuser: boolean;
  missing: MissingPostgresPrivilege[];
  /** PostgreSQL 14+, when schemas, tables or sequences are missing: `GRANT pg_read_all_data TO app;`. */
  readAllDataGrant?: string;
}

const USER_SCHEMA = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";
/** More than this many objects are named by schema (`ON ALL TABLES IN SCHEMA`) rather than one by one. */
const LISTED_OBJECTS = 20;

export async function checkPostgresPrivileges(client: pg.Client): Promise<PostgresPrivileges> {
  await client.query("SET search_path = ''");
  const self = (
    await client.query<{ account: string; superuser: boolean; bypassrls: boolean; lo_compat: string; version: string }>(
      `SELECT current_user AS account, r.rolsuper AS superuser, r.rolbypassrls AS bypassrls,
              current_setting('lo_compat_privileges') AS lo_compat, current_setting('server_version_num') AS version
         FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
    )
  ).rows[0]!;
  const role = quotePostgresIdentifier(self.account);
  if (self.superuser) return { account: self.account, superuser: true, missing: [] };

  const missing: MissingPostgresPrivilege[] = [];
  const schemas = (
    await client.query<{ name: string }>(`SELECT quote_ident(n.nspname) AS name FROM pg_catalog.pg_namespace n WHERE ${USER_SCHEMA} AND NOT has_schema_privilege(n.oid, 'USAGE') ORDER BY 1`)
  ).rows;
  for (const { name } of schemas) missing.push({ what: `USAGE on schema ${name}`, grant: `GRANT USAGE ON SCHEMA ${name} TO ${role};`, readAllData: true });

  const relations = (
    await client.query<{ name: string; schema: string; kind: string }>(
      `SELECT c.oid::regclass::text AS name, quote_ident(n.nspname) AS schema, c.relkind AS kind
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'S') AND ${USER_SCHEMA} AND NOT has_table_privilege(c.oid, 'SELECT') ORDER BY 1`,
    )
  ).rows;
  if (relations.length <= LISTED_OBJECTS) {
    for (const relation of relations) {
      const noun = relation.kind === 'S' ? 'sequence' : 'table';
      missing.push({ what: `SELECT on ${noun} ${relation.name}`, grant: `GRANT SELECT ON ${relation.kind === 'S' ? 'SEQUENCE' : 'TABLE'} ${relation.name} TO ${role};`, readAllData: true });
    }
  } else {
    for (const schema of new Set(relations.map((relation) => relation.schema))) {
      const count = relations.filter((relation) => relation.schema === schema).length;
      missing.push({
        what: `SELECT on ${count} tables and sequences of schema ${schema}`,
        grant: `GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${role}; GRANT SELECT ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role};`,
        readAllData: true,
      });
    }
  }

  if (!self.bypassrls) {
    const guarded = (
      await client.query<{ name: string }>(
        `SELECT c.oid::regclass::text AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND NOT pg_has_role(c.relowner, 'USAGE') AND ${USER_SCHEMA} ORDER BY 1`,
      )
    ).rows;
    if (guarded.length > 0) {
      missing.push({
        what: `BYPASSRLS: row-level security guards ${guarded.map((row) => row.name).join(', ')}, and pg_dump refuses to dump only the rows a policy lets it see`,
        grant: `ALTER ROLE ${role} BYPASSRLS;`,
        readAllData: false,
      });
    }
  }

  if (self.lo_compat !== 'on') {
    const objects = (
      await client.query<{ oid: string }>(
        `SELECT m.oid::text AS oid FROM pg_catalog.pg_largeobject_metadata m
          WHERE NOT pg_has_role(m.lomowner, 'USAGE')
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(m.lomacl, acldefault('L', m.lomowner))) a
                             WHERE a.privilege_type = 'SELECT' AND (a.grantee = 0 OR pg_has_role(a.grantee, 'USAGE')))
          ORDER BY m.oid`,
      )
    ).rows.map((row) => row.oid);
    if (objects.length > 0) {
      missing.push({
        what: `SELECT on ${objects.length} large object${objects.length === 1 ? '' : 's'} (${objects.slice(0, LISTED_OBJECTS).join(', ')}${objects.length > LISTED_OBJECTS ? ', ...' : ''})`,
        grant:
          objects.length <= LISTED_OBJECTS
            ? objects.map((oid) => `GRANT SELECT ON LARGE OBJECT ${oid} TO ${role};`).join(' ')
            : `DO $$DECLARE o oid; BEGIN FOR o IN SELECT oid FROM pg_largeobject_metadata LOOP EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO ${role.replaceAll("'", "''")}', o); END LOOP; END$$;`,
        readAllData: false,
      });
    }
  }
  const coveredByReadAll = schemas.length > 0 || relations.length > 0;
  return {
    account: self.account,
    superuser: false,
    missing,
    readAllDataGrant: Number(self.version) >= 140000 && coveredByReadAll ? `GRANT pg_read_all_data TO ${role};` : undefined,
  };
}
