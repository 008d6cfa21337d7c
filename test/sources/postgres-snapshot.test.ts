// The postgres driver's produce() against a private PostgreSQL 15: the dump, the
// inventory and the row counts/checksums all read one exported snapshot (rows
// written after it are in none of them), and the facts it records are exactly
// what the same functions read back from a copy restored with stock psql.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { configSchema } from '../../src/config/schema.ts';
import { checksumSettingsSql, LARGE_OBJECTS_CHECKSUM_SQL, tableChecksumSql, type PostgresDetails } from '../../src/sources/postgres-details.ts';
import { readPostgresInventory, readSequenceValues } from '../../src/sources/postgres-inventory.ts';
import { postgresSource, resolvePostgresSource } from '../../src/sources/postgres.ts';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.ts';
import { tempDir } from '../support/temp.ts';

let server: PrivatePostgres;
before(async () => {
  server = await startPrivatePostgres();
});
after(async () => {
  await server?.stop();
});

const SCHEMA = `
CREATE EXTENSION citext; CREATE EXTENSION pgcrypto;
CREATE SCHEMA "Odd ""Schema""";
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE "Odd ""Schema"""."Mixed Case" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "wéird col" text, m public.mood);
CREATE TABLE public.data (id serial PRIMARY KEY, b bytea, f float8[], ts timestamptz, j jsonb, e citext, t text DEFAULT 'a column named t', price money DEFAULT 12.5);
INSERT INTO "Odd ""Schema"""."Mixed Case" ("wéird col", m) VALUES (E'line\\nbreak\\t\\\\', 'happy'), ('ünïcode ☃', NULL), (NULL, 'sad');
INSERT INTO public.data (b, f, ts, j, e) SELECT decode(string_agg(lpad(to_hex(i), 2, '0'), ''), 'hex'), ARRAY['NaN', 'Infinity', '-Infinity', 0.1]::float8[],
  '2024-03-31 01:30:00+01', '{"a": [1, "x"]}', 'MiXeD' FROM generate_series(0, 255) i;
INSERT INTO public.data (ts) SELECT '2000-01-01 00:00:00+14'::timestamptz + i * interval '1 hour' FROM generate_series(1, 500) i;
CREATE VIEW public.v AS SELECT id FROM public.data;
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER data_touch BEFORE UPDATE ON public.data FOR EACH ROW EXECUTE FUNCTION public.touch();
SELECT lo_from_bytea(0, '\\xdeadbeef00ff');
`;

function settingsFor(dir: string, database: string, role = { user: server.superuser, password: server.superuserPassword }) {
  writeFileSync(join(dir, 'pw'), `${role.password}\n`);
  const section = configSchema().parse({
    app: 'shop',
    sources: { db: { type: 'postgres', host: server.host, port: server.port, user: role.user, database, password_file: 'pw', sslmode: 'disable' } },
  }).sources.db;
  return resolvePostgresSource('db', section as never, dir);
}

function contextFor(dir: string, config: ReturnType<typeof settingsFor>) {
  return { job: 'shop', sourceName: 'db', config, repositoryPath: '/nonexistent', scratchDir: mkdtempSync(join(dir, 'scratch-')), log: { info: () => {}, warn: () => {} }, signal: new AbortController().signal };
}

async function factsOf(database: string) {
  const client = await server.connect(database);
  try {
    const inspection = await readPostgresInventory(client);
    await client.query(checksumSettingsSql());
    const tables = [];
    for (const table of inspection.tables) tables.push({ name: table.name, ...(await client.query(tableChecksumSql(table.name))).rows[0] });
    const largeObjects = (await client.query(LARGE_OBJECTS_CHECKSUM_SQL)).rows[0];
    return { inventory: inspection.inventory, tables, sequences: await readSequenceValues(client), largeObjects };
  } finally {
    await client.end();
  }
}

test('produce(): one snapshot for the dump and its facts; a stock psql restore reads back the same facts', async (t) => {
  const dir = tempDir(t);
  await server.createDatabase('shop');
  await server.rootQuery(SCHEMA, undefined, 'shop');
  const context = contextFor(dir, settingsFor(dir, 'shop'));
  const before = await factsOf('shop');
  const produced = await postgresSource.produce(context);
  // Written after the snapshot was exported: in neither the dump nor its facts.
  await server.rootQuery("INSERT INTO public.data (e) VALUES ('late'); SELECT lo_from_bytea(0, '\\x01'); CREATE TABLE public.late (id int);", undefined, 'shop');
  const chunks: Buffer[] = [];
  await pipeline(produced.stream, new Writable({ write: (chunk, _encoding, done) => void (chunks.push(chunk), done()) }));
  const details = (await produced.completed).details as unknown as PostgresDetails;
  const dump = Buffer.concat(chunks).toString('utf8');

  assert.deepEqual(details.inventory, before.inventory);
  assert.deepEqual(details.tables, before.tables);
  // Sequences are not transactional: pg_dump reads them when it gets to them, so a
  // value may be ahead of the snapshot's rows (never behind); the details keep what the dump sets.
  assert.deepEqual(details.sequences.map((sequence) => sequence.name), before.sequences.map((sequence) => sequence.name));
  for (const [index, sequence] of details.sequences.entries()) assert.ok(BigInt(sequence.value) >= BigInt(before.sequences[index]!.value));
  assert.match(dump, new RegExp(`setval\\('public.data_id_seq', ${details.sequences.find((sequence) => sequence.name === 'public.data_id_seq')!.value}, true\\)`));
  assert.deepEqual(details.largeObjects, { count: Number(before.largeObjects.count), checksum: before.largeObjects.checksum });
  assert.equal(details.dumpRows, 3 + 1 + 500, 'the late row is not in the dump');
  assert.doesNotMatch(dump, /^\\connect|^CREATE DATABASE|OWNER TO|^GRANT /m);
  assert.doesNotMatch(dump, /late/, 'nor the late table');

  await server.createDatabase('shop_copy');
  const dumpFile = join(dir, 'dump.sql');
  writeFileSync(dumpFile, dump);
  await server.psql(['-v', 'ON_ERROR_STOP=1', '-d', 'shop_copy'], { inputFile: dumpFile });
  const restored = await factsOf('shop_copy');
  assert.deepEqual(restored.inventory, details.inventory);
  assert.deepEqual(restored.tables, details.tables, 'row counts and checksums survive the round trip');
  assert.deepEqual(restored.sequences, details.sequences);
  assert.deepEqual({ count: Number(restored.largeObjects.count), checksum: restored.largeObjects.checksum }, details.largeObjects);
  // The checksum is over the whole row, even in a table with a column named t.
  await server.rootQuery("UPDATE public.data SET e = 'changed' WHERE id = 1", undefined, 'shop_copy');
  const changed = await factsOf('shop_copy');
  assert.notEqual(changed.tables.find((table) => table.name === 'public.data')!.checksum, details.tables.find((table) => table.name === 'public.data')!.checksum);
});

test('preflight names the pg_dump, the server and the inventory; an unreachable server is DB_UNREACHABLE', async (t) => {
  const dir = tempDir(t);
  await server.createDatabase('pre');
  const context = contextFor(dir, settingsFor(dir, 'pre'));
  const report = await postgresSource.preflight(context);
  assert.ok(report.notes.some((note) => /^pg_dump \(PostgreSQL\) \d+/.test(note)));
  assert.ok(report.notes.some((note) => /database "pre": 1 schema, 0 tables/.test(note)));
  const unreachable = { ...context, config: { ...context.config, connection: { ...context.config.connection, port: 1 } } };
  await assert.rejects(postgresSource.preflight(unreachable), (error: Error & { code: string }) => {
    assert.equal(error.code, 'DB_UNREACHABLE');
    assert.doesNotMatch(error.message, new RegExp(server.superuserPassword));
    return true;
  });
});

test('a role that may read the tables but not a large object nor past row-level security: every GRANT named before the dump', async (t) => {
  const dir = tempDir(t);
  await server.createDatabase('guarded');
  await server.createRole('reader', 'reader-pw-123');
  await server.rootQuery(
    `CREATE TABLE public.notes (id int, owner text); INSERT INTO public.notes VALUES (1, 'a'), (2, 'b');
     ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY; CREATE POLICY mine ON public.notes USING (owner = current_user);
     SELECT lo_from_bytea(4242, '\\x00'); GRANT SELECT ON public.notes TO reader;`,
    undefined,
    'guarded',
  );
  const context = contextFor(dir, settingsFor(dir, 'guarded', { user: 'reader', password: 'reader-pw-123' }));
  await assert.rejects(postgresSource.produce(context), (error: Error & { code: string; remedy: string; details: string[] }) => {
    assert.equal(error.code, 'POSTGRES_PRIVILEGES_MISSING');
    assert.match(error.remedy, /GRANT SELECT ON LARGE OBJECT 4242 TO "reader";/);
    assert.match(error.remedy, /ALTER ROLE "reader" BYPASSRLS;/);
    assert.ok(error.details.some((line) => /row-level security guards public\.notes/.test(line)));
    assert.doesNotMatch(`${error.message} ${error.remedy} ${error.details.join(' ')}`, /reader-pw-123/);
    return true;
  });
  await server.rootQuery('GRANT SELECT ON LARGE OBJECT 4242 TO reader; ALTER ROLE reader BYPASSRLS;', undefined, 'guarded');
  const produced = await postgresSource.produce(context);
  await pipeline(produced.stream, new Writable({ write: (_chunk, _encoding, done) => done() }));
  const details = (await produced.completed).details as unknown as PostgresDetails;
  assert.deepEqual(details.tables.map((table) => [table.name, table.rows]), [['public.notes', '2']], 'every row, not the policy\'s');
  assert.equal(details.largeObjects.count, 1);
  assert.deepEqual(details.roles.owners, ['postgres']);
});
