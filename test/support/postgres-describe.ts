// Describes a PostgreSQL database object by object, from the catalogs, so two
// databases (the source and a restored copy under another name) can be
// compared with one deepEqual that names the first object that differs:
// schemas, extensions (with versions), every relation with its columns,
// defaults, constraints and indexes, view definitions, each table's and
// materialized view's row count and row checksum (md5 over the rows' text,
// sorted), sequences with their parameters and current value, functions and
// procedures (pg_get_functiondef), triggers, types (enum labels, composite
// attributes, domain constraints, ranges), comments and large objects (OID +
// md5 of the content). Extension-owned objects are left to the extension's
// entry. Owners and grants are left out: a restore maps ownership to the
// restoring role on purpose. The database's own name never appears in these.

import type { PrivatePostgres } from './private-postgres.ts';

const USER_NAMESPACES = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'`;
/** Not a member of an extension (those come with CREATE EXTENSION). */
const notFromExtension = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

export async function describePostgresDatabase(server: PrivatePostgres, database: string): Promise<Record<string, string>> {
  const rows = <Row = Record<string, string>>(sql: string) => server.rootQuery<Row>(sql, undefined, database);
  const facts: Record<string, string> = {};

  for (const { nspname, comment } of await rows(`SELECT n.nspname, coalesce(obj_description(n.oid, 'pg_namespace'), '') AS comment FROM pg_namespace n WHERE ${USER_NAMESPACES} ORDER BY 1`)) {
    facts[`schema ${nspname}`] = comment ?? '';
  }
  for (const { extname, extversion, nspname } of await rows(`SELECT e.extname, e.extversion, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1`)) {
    facts[`extension ${extname}`] = `${extversion} in ${nspname}`;
  }

  const relations = await rows<{ oid: string; name: string; relkind: string; persistence: string; comment: string; partition: string }>(`
    SELECT c.oid::text AS oid, format('%I.%I', n.nspname, c.relname) AS name, c.relkind::text AS relkind, c.relpersistence::text AS persistence,
           coalesce(obj_description(c.oid, 'pg_class'), '') AS comment,
           coalesce(pg_get_expr(c.relpartbound, c.oid), '') || coalesce(' of ' || (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid), '') AS partition
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE ${USER_NAMESPACES} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${notFromExtension('pg_class', 'c.oid')}
    ORDER BY 2`);
  for (const relation of relations) {
    const key = `${kindName(relation.relkind)} ${relation.name}`;
    facts[key] = `persistence ${relation.persistence}; comment ${relation.comment}; partition ${relation.partition}`;
    const columns = await rows<{ column: string }>(`
      SELECT format('%I %s%s%s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
               CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
               CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END,
               CASE WHEN a.attgenerated <> '' THEN ' GENERATED ' || pg_get_expr(ad.adbin, ad.adrelid)
                    WHEN ad.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid) ELSE '' END,
               coalesce(' -- ' || col_description(a.attrelid, a.attnum), '')) AS column
      FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
      WHERE a.attrelid = ${relation.oid} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`);
    facts[`${key} columns`] = columns.map((row) => row.column).join('\n');
    const constraints = await rows<{ definition: string }>(
      `SELECT format('%I %s', conname, pg_get_constraintdef(oid)) AS definition FROM pg_constraint WHERE conrelid = ${relation.oid} ORDER BY 1`,
    );
    if (constraints.length) facts[`${key} constraints`] = constraints.map((row) => row.definition).join('\n');
    const indexes = await rows<{ definition: string }>(`SELECT pg_get_indexdef(indexrelid) AS definition FROM pg_index WHERE indrelid = ${relation.oid} ORDER BY 1`);
    if (indexes.length) facts[`${key} indexes`] = indexes.map((row) => row.definition).join('\n');
    if (relation.relkind === 'v' || relation.relkind === 'm') {
      const [view] = await rows<{ definition: string }>(`SELECT pg_get_viewdef(${relation.oid}) AS definition`);
      facts[`${key} definition`] = view!.definition;
    }
    if (relation.relkind === 'r' || relation.relkind === 'p' || relation.relkind === 'm') {
      const [sum] = await rows<{ count: string; md5: string }>(
        `SELECT count(*)::text AS count, coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') AS md5 FROM ${relation.name} AS t`,
      );
      facts[`${key} rows`] = `${sum!.count} ${sum!.md5}`;
    }
    if (relation.relkind === 'S') {
      const [sequence] = await rows<{ state: string }>(`
        SELECT format('%s start %s increment %s min %s max %s cycle %s; last_value %s is_called %s', s.data_type::regtype, s.start_value, s.increment_by,
                      s.min_value, s.max_value, s.cycle, q.last_value, q.is_called) AS state
        FROM pg_sequences s, ${relation.name} q WHERE format('%I.%I', s.schemaname, s.sequencename) = '${relation.name.replaceAll("'", "''")}'`);
      facts[`${key} state`] = sequence!.state;
    }
  }

  for (const { signature, definition } of await rows(`
    SELECT format('%s %I.%I(%s)', CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END, n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS signature,
           CASE WHEN p.prokind = 'a' THEN '' ELSE pg_get_functiondef(p.oid) END || coalesce(' -- ' || obj_description(p.oid, 'pg_proc'), '') AS definition
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE ${USER_NAMESPACES} AND ${notFromExtension('pg_proc', 'p.oid')} ORDER BY 1`)) {
    facts[signature!] = definition!;
  }
  for (const { name, definition } of await rows(`
    SELECT format('trigger %I on %s', t.tgname, t.tgrelid::regclass) AS name, pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text AS definition
    FROM pg_trigger t WHERE NOT t.tgisinternal ORDER BY 1`)) {
    facts[name!] = definition!;
  }
  for (const { name, definition } of await rows(`
    SELECT format('type %I.%I', n.nspname, t.typname) AS name,
           t.typtype::text || ': ' || CASE t.typtype
             WHEN 'e' THEN (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
             WHEN 'c' THEN (SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0)
             WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod) || coalesce((SELECT ' ' || string_agg(format('%I %s', c.conname, pg_get_constraintdef(c.oid)), ', ' ORDER BY c.conname) FROM pg_constraint c WHERE c.contypid = t.oid), '')
             WHEN 'r' THEN (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid)
             ELSE '' END AS definition
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE ${USER_NAMESPACES} AND ${notFromExtension('pg_type', 't.oid')}
      AND t.typelem = 0 AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c') AND t.typtype <> 'm'
    ORDER BY 1`)) {
    facts[name!] = definition!;
  }
  for (const { oid, md5 } of await rows(`SELECT oid::text AS oid, md5(lo_get(oid)) AS md5 FROM pg_largeobject_metadata ORDER BY oid`)) {
    facts[`large object ${oid}`] = md5!;
  }
  return facts;
}

function kindName(relkind: string): string {
  return ({ r: 'table', p: 'partitioned table', v: 'view', m: 'materialized view', S: 'sequence', f: 'foreign table' } as Record<string, string>)[relkind] ?? relkind;
}
