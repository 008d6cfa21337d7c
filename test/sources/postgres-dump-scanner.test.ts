// The postgres dump scanner reads a real pg_dump 15 plain dump (fixtures/postgres-15-plain.sql:
// every object kind, awkward names, a large object, \restrict) as it streams, in any
// chunking; the verdict turns what it found into "complete" or a named loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PostgresDumpScanner, type PostgresDumpScan } from '../../src/sources/postgres-dump-scanner.ts';
import { checkPostgresDump, type SnapshotFacts } from '../../src/sources/postgres-dump-verdict.ts';
import { tocKey, type PostgresInspection } from '../../src/sources/postgres-inventory.ts';
import { postgresConnectionFor } from '../../src/sources/postgres-settings.ts';
import { configSchema } from '../../src/config/schema.ts';

const FIXTURE = readFileSync(new URL('./fixtures/postgres-15-plain.sql', import.meta.url));

async function scan(bytes: Buffer, chunkSize = 64 * 1024): Promise<PostgresDumpScan> {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) chunks.push(bytes.subarray(offset, offset + chunkSize));
  let settled: PostgresDumpScan | undefined;
  const scanner = new PostgresDumpScanner(async (result) => void (settled = result));
  const passed: Buffer[] = [];
  await pipeline(Readable.from(chunks), scanner, new Writable({ write: (chunk, _encoding, done) => void (passed.push(chunk), done()) }));
  assert.ok(Buffer.concat(passed).equals(bytes), 'the scanner passes every byte through unchanged');
  return settled!;
}

test('a complete pg_dump: trailer, object headers, COPY rows, setvals, large objects', async () => {
  const result = await scan(FIXTURE);
  assert.equal(result.trailerFound, true, 'the trailer, then only \\unrestrict');
  assert.deepEqual(result.databaseStatements, [], '\\restrict/\\unrestrict are not database statements');
  assert.equal(result.unterminatedCopy, undefined);
  for (const key of [
    tocKey('SCHEMA', '-', 'Odd Schema'),
    tocKey('EXTENSION', '-', 'uuid-ossp'),
    tocKey('TABLE', 'Odd Schema', 'Mixed Case'),
    tocKey('SEQUENCE', 'Odd Schema', 'Mixed Case_id_seq'),
    tocKey('FUNCTION', 'public', 'moodf(public.mood)'),
    tocKey('AGGREGATE', 'public', 'mysum(integer)'),
    tocKey('PROCEDURE', 'public', 'proc(integer)'),
    tocKey('TRIGGER', 'public', 'users users_touch'),
    tocKey('DOMAIN', 'public', 'posint'),
    tocKey('MATERIALIZED VIEW', 'public', 'mv'),
  ]) {
    assert.ok(result.objects.has(key), `dump names ${key}`);
  }
  assert.deepEqual(Object.fromEntries(result.rows), {
    [tocKey('TABLE DATA', 'Odd Schema', 'Mixed Case')]: 2,
    [tocKey('TABLE DATA', 'public', 'parted_1')]: 2,
    [tocKey('TABLE DATA', 'public', 'users')]: 2,
  });
  assert.deepEqual(result.sequences, [
    { name: '"Odd Schema"."Mixed Case_id_seq"', value: '2', isCalled: true },
    { name: 'public.standalone_seq', value: '100', isCalled: true },
    { name: 'public.users_id_seq', value: '2', isCalled: true },
  ]);
  assert.equal(result.largeObjects, 1);
  assert.equal(result.bytes, FIXTURE.length);
});

test('the same result in any chunking (a line, a COPY terminator split across chunks)', async () => {
  const whole = await scan(FIXTURE);
  for (const size of [1, 2, 3, 7, 4093]) assert.deepEqual(await scan(FIXTURE, size), whole, `chunks of ${size}`);
});

test('cut short, inside rows, trailer not last, \\connect and CREATE DATABASE', async () => {
  const text = FIXTURE.toString('utf8');
  const cut = await scan(Buffer.from(text.slice(0, text.indexOf('-- PostgreSQL database dump complete'))));
  assert.equal(cut.trailerFound, false);
  const insideRows = await scan(Buffer.from(text.slice(0, text.indexOf('2\tünïcode'))));
  assert.equal(insideRows.unterminatedCopy, tocKey('TABLE DATA', 'Odd Schema', 'Mixed Case'));
  const trailerNotLast = await scan(Buffer.from(`${text}CREATE TABLE public.after (id int);\n`));
  assert.equal(trailerNotLast.trailerFound, false);
  const tied = await scan(Buffer.from(`\\connect shop\nCREATE DATABASE shop WITH TEMPLATE = template0;\n${text}`));
  assert.deepEqual(
    tied.databaseStatements.map((statement) => statement.line),
    [1, 2],
  );
});

test('the verdict: complete, or which objects, rows, sequences and large objects are missing', async () => {
  const result = await scan(FIXTURE);
  const connection = postgresConnectionFor(
    'db',
    configSchema().parse({ app: 'a', sources: { db: { type: 'postgres', database: 'shop', user: 'app' } } }).sources.db as never,
    '/tmp',
  );
  const objects: PostgresInspection['objects'] = [
    { kind: 'schemas', name: 'public', toc: tocKey('SCHEMA', '-', 'public') },
    { kind: 'tables', name: 'public.users', toc: tocKey('TABLE', 'public', 'users') },
    { kind: 'sequences', name: 'public.users_id_seq', toc: tocKey('SEQUENCE', 'public', 'users_id_seq') },
  ];
  const facts = (extra: Partial<PostgresInspection> = {}, rows = '2', largeObjects = 1): SnapshotFacts => ({
    snapshot: 's',
    server: 'PostgreSQL 15',
    serverVersionNum: 150000,
    inspection: {
      inventory: { schemas: ['public'], tables: ['public.users'], views: [], materializedViews: [], sequences: ['public.users_id_seq'], functions: [], procedures: [], triggers: [], types: [], extensions: [], largeObjects },
      objects,
      tables: [{ name: 'public.users', dataKey: tocKey('TABLE DATA', 'public', 'users') }],
      extensions: [],
      roles: { owners: [], grantees: [] },
      ...extra,
    },
    tables: [{ name: 'public.users', rows, checksum: '1' }],
    largeObjects: { count: largeObjects, checksum: '1' },
  });
  assert.doesNotThrow(() => checkPostgresDump(result, facts(), connection, {}), 'public needs no CREATE SCHEMA');
  const lost = [...objects, { kind: 'views' as const, name: 'public.gone', toc: tocKey('VIEW', 'public', 'gone') }];
  assert.throws(() => checkPostgresDump(result, facts({ objects: lost }), connection, {}), (error: Error & { code: string; details: string[] }) => {
    assert.equal(error.code, 'DUMP_INCOMPLETE');
    assert.match(error.message, /1 view of the snapshot is not in it/);
    assert.deepEqual(error.details, ['view public.gone']);
    return true;
  });
  assert.throws(() => checkPostgresDump(result, facts({}, '3'), connection, {}), /public\.users: 3 rows in the snapshot, 2 in the dump|1 table lack/);
  assert.throws(() => checkPostgresDump(result, facts({}, '2', 2), connection, {}), /creates 1 large objects of the snapshot's 2/);
  const noSetval = { ...result, sequences: [] };
  assert.throws(() => checkPostgresDump(noSetval, facts(), connection, {}), /1 sequence value is not set/);
  assert.throws(() => checkPostgresDump({ ...result, trailerFound: false }, facts(), connection, {}), /does not end with "-- PostgreSQL database dump complete"/);
});
