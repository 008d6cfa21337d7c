// A PostgreSQL database with every object kind and awkward names and data
// (test/support/postgres-awkward-database.ts), backed up once through the real
// CLI by the app's own role with a password (scram over TCP), then restored
// three ways and compared with the source object by object and row checksum
// by row checksum (test/support/postgres-describe.ts):
//   - `restore db --into <new database>` (as the app's role, which may CREATEDB),
//   - the stock `gunzip < artifact | psql -v ON_ERROR_STOP=1 NEWDB`, into a
//     database of another name (the dump names none),
//   - `drill`, which restores into a scratch database, compares with the
//     details the backup took in the dump's own snapshot, and drops it.
// A drill must also fail when what it restores differs from those details.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runCli } from '../support/cli.ts';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.ts';
import { APP_EXTENSIONS, AWKWARD_TABLE, TRAILER_LOOKALIKE, createAwkwardDatabase } from '../support/postgres-awkward-database.ts';
import { describePostgresDatabase } from '../support/postgres-describe.ts';

const SOURCE = 'app';
const APP_ROLE = { user: 'laravel', password: "Pg:pass\\word 'with' \"quotes\" ünï" };
let server: PrivatePostgres;
let root: string;
let config: string;
let source: Record<string, string>;
/** The one set every test restores. */
let artifactFile: string;

interface Manifest {
  setId: string;
  artifacts: Array<{ source: string; type: string; path: string; details: Record<string, unknown> }>;
}

function latestManifest(repository: string): { path: string; manifest: Manifest } {
  const names = readdirSync(join(repository, 'manifests')).filter((name) => name.endsWith('.json')).sort();
  const path = join(repository, 'manifests', names[names.length - 1]!);
  return { path, manifest: JSON.parse(readFileSync(path, 'utf8')) };
}

/** `restorable init`: a backup never creates its repository (an unmounted disk must not fill the root filesystem). */
async function initialiseRepository(configPath: string): Promise<void> {
  const init = await runCli(['-c', configPath, 'init']);
  assert.equal(init.code, 0, init.stdout + init.stderr);
}

async function databases(): Promise<string[]> {
  return (await server.rootQuery<{ datname: string }>('SELECT datname FROM pg_database ORDER BY 1')).map((row) => row.datname);
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'restorable-pg-roundtrip-'));
  server = await startPrivatePostgres();
  await server.createRole(APP_ROLE.user, APP_ROLE.password, { attributes: 'CREATEDB' });
  await createAwkwardDatabase(server, SOURCE, APP_ROLE);
  source = await describePostgresDatabase(server, SOURCE);
  const passwordFile = join(root, 'db-password');
  writeFileSync(passwordFile, `${APP_ROLE.password}\n`, { mode: 0o600 });
  config = join(root, 'restorable.yml');
  writeFileSync(
    config,
    [
      'app: pgapp',
      `repository: ${join(root, 'backups')}`,
      'sources:',
      `  db: { type: postgres, host: 127.0.0.1, port: ${server.port}, database: ${SOURCE}, user: ${APP_ROLE.user}, password_file: ${passwordFile}, sslmode: disable }`,
      'monitor: { min_free: 1MB }',
      'drill:',
      `  queries: [{ source: db, sql: 'SELECT count(*) FROM ${AWKWARD_TABLE.replaceAll("'", "''")}', min: 2000 }]`,
      '',
    ].join('\n'),
  );
  await initialiseRepository(config);
  const backup = await runCli(['-c', config, 'backup']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  assert.ok(!(backup.stdout + backup.stderr).includes(APP_ROLE.password), 'no password in the output');
  const { manifest } = latestManifest(join(root, 'backups'));
  artifactFile = join(root, 'backups', manifest.artifacts[0]!.path);
});

after(async () => {
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

test('the backup: a plain dump that names no database, ends with its trailer, and a manifest with the inventory taken in its snapshot', () => {
  const { manifest } = latestManifest(join(root, 'backups'));
  const [artifact] = manifest.artifacts;
  assert.equal(artifact!.type, 'postgres');
  assert.match(artifact!.path, /\.sql\.gz$/);
  const sql = gunzipSync(readFileSync(artifactFile)).toString('utf8');
  // pg_dump 15.14+ ends with `\unrestrict KEY` after the trailer (and starts with `\restrict KEY`).
  assert.match(sql, /\n-- PostgreSQL database dump complete\n--\n+(\\unrestrict \S+\n+)?$/, 'the real trailer ends the dump');
  assert.ok(sql.indexOf(TRAILER_LOOKALIKE) < sql.lastIndexOf(TRAILER_LOOKALIKE), 'the function body holding the trailer text is in the dump too');
  assert.doesNotMatch(sql, /^\\connect/m, 'no \\connect');
  assert.doesNotMatch(sql, /^CREATE DATABASE/m, 'no CREATE DATABASE');
  assert.doesNotMatch(sql, /OWNER TO/, 'no owners (restores as any role)');
  assert.ok(!sql.includes(APP_ROLE.password));

  const details = artifact!.details as {
    database: string;
    inventory: Record<string, string[] | number>;
    tables: Array<{ name: string; rows: string; checksum: string | null }>;
    sequences: Array<{ name: string; value: string; isCalled: boolean }>;
    largeObjects: { count: number };
    extensions: Array<{ name: string }>;
  };
  assert.equal(details.database, SOURCE);
  const inventory = details.inventory;
  assert.ok((inventory.schemas as string[]).includes('"Billing Dept"'), JSON.stringify(inventory.schemas));
  assert.ok((inventory.tables as string[]).includes(AWKWARD_TABLE), JSON.stringify(inventory.tables));
  assert.ok((inventory.views as string[]).includes('"Billing Dept"."paying customers"'));
  assert.deepEqual(inventory.materializedViews, ['public.customers_by_state']);
  assert.ok((inventory.procedures as string[]).some((name) => name.startsWith('public.rename_customer(')));
  assert.ok((inventory.functions as string[]).some((name) => name.startsWith('"Billing Dept".gross(')));
  assert.ok((inventory.triggers as string[]).some((name) => name.endsWith('"after insert; log it"')), JSON.stringify(inventory.triggers));
  assert.ok((inventory.types as string[]).some((name) => name.includes('"order state"')), JSON.stringify(inventory.types));
  for (const extension of APP_EXTENSIONS) assert.ok(details.extensions.some((entry) => entry.name === extension), `${extension} recorded`);
  assert.equal(inventory.largeObjects, 2);
  assert.equal(details.largeObjects.count, 2);
  const customers = details.tables.find((table) => table.name === AWKWARD_TABLE);
  assert.equal(customers?.rows, '2004');
  assert.ok(customers?.checksum, 'a row checksum');
  const invoices = details.sequences.find((sequence) => sequence.name === '"Billing Dept"."invoice numbers; 2024"');
  assert.deepEqual([invoices?.value, invoices?.isCalled], [source['sequence "Billing Dept"."invoice numbers; 2024" state']!.match(/last_value (\d+)/)![1], true]);
});

test('restore db --into a new database gives back every object and every row', async () => {
  const result = await runCli(['-c', config, 'restore', 'db', '--into', 'app_copy']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /into database app_copy .*\(new\)/);
  assert.ok(!(result.stdout + result.stderr).includes(APP_ROLE.password));
  assert.deepEqual(await describePostgresDatabase(server, 'app_copy'), source);
  // The restored copy works as the app uses it: the trigger fires, the extensions answer.
  await server.query({ ...APP_ROLE, database: 'app_copy' }, `INSERT INTO ${AWKWARD_TABLE} ("e-mail", name, created) VALUES ('NEW@example.com', 'new', now())`);
  const [found] = await server.query<{ n: string }>(
    { ...APP_ROLE, database: 'app_copy' },
    `SELECT count(*)::text AS n FROM public.audit_log WHERE what = 'INSERT new' AND EXISTS (SELECT 1 FROM ${AWKWARD_TABLE} WHERE "e-mail" = 'new@EXAMPLE.com' AND password_hash = crypt('x', password_hash))`,
  );
  assert.equal(found!.n, '1');
});

test('restore db refuses a database that is not empty and leaves it unchanged', async () => {
  await server.createDatabase('app_live', APP_ROLE.user);
  await server.rootQuery('CREATE TABLE keep (id int); INSERT INTO keep VALUES (42)', undefined, 'app_live');
  const refused = await runCli(['-c', config, 'restore', 'db', '--into', 'app_live']);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /not empty.*nothing was changed/);
  assert.deepEqual(await server.rootQuery('SELECT id FROM keep', undefined, 'app_live'), [{ id: 42 }]);
  assert.deepEqual(await server.rootQuery(`SELECT to_regclass('public.all_bytes') AS t`, undefined, 'app_live'), [{ t: null }]);
});

test('the stock restore `gunzip < artifact | psql -v ON_ERROR_STOP=1 NEWDB` gives back every object and every row', async () => {
  await server.createDatabase('app_stock');
  await server.psql(['-q', '-v', 'ON_ERROR_STOP=1', 'app_stock'], { inputCommand: `gunzip < '${artifactFile.replaceAll("'", `'\\''`)}'` });
  assert.deepEqual(await describePostgresDatabase(server, 'app_stock'), source);
});

test('the stock restore works as the app role too, into a database it owns under yet another name', async () => {
  await server.createDatabase('app stock "owned"', APP_ROLE.user);
  const passFile = join(root, 'stock-pgpass');
  writeFileSync(passFile, `*:*:*:*:${APP_ROLE.password.replaceAll('\\', '\\\\').replaceAll(':', '\\:')}\n`, { mode: 0o600 });
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PG')));
  const loaded = spawnSync(
    'sh',
    ['-c', `gunzip < "$1" | psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$2" -U "$3" "$4"`, 'sh', artifactFile, String(server.port), APP_ROLE.user, 'app stock "owned"'],
    { encoding: 'utf8', env: { ...env, PGPASSFILE: passFile } },
  );
  assert.equal(loaded.status, 0, loaded.stderr);
  assert.deepEqual(await describePostgresDatabase(server, 'app stock "owned"'), source);
});

test('drill restores into a scratch database, compares it with the snapshot and drops it', async () => {
  const before = await databases();
  const drill = await runCli(['-c', config, 'drill', '--json']);
  assert.equal(drill.code, 0, drill.stdout + drill.stderr);
  const [result] = JSON.parse(drill.stdout).results;
  assert.equal(result.source, 'db');
  assert.equal(result.ok, true, JSON.stringify(result));
  assert.deepEqual(result.differences, []);
  assert.match(result.compared, /^(9|1\d) table\(s\), \1 checksum\(s\), 4 sequence\(s\), \d+ object\(s\), 1 quer/, 'every table (and partition) by checksum, every sequence');
  assert.deepEqual(await databases(), before, 'the scratch database is dropped');
  assert.ok(!(drill.stdout + drill.stderr).includes(APP_ROLE.password));
});

test('drill fails, naming the table, when a restored table differs from the snapshot the backup recorded', async () => {
  const { path, manifest } = latestManifest(join(root, 'backups'));
  const original = readFileSync(path, 'utf8');
  try {
    const details = manifest.artifacts[0]!.details as { tables: Array<{ name: string; checksum: string | null }> };
    const table = details.tables.find((entry) => entry.name === 'public.all_bytes')!;
    table.checksum = String(BigInt(table.checksum!) + 1n);
    writeFileSync(path, JSON.stringify(manifest, null, 2));
    const before = await databases();
    const drill = await runCli(['-c', config, 'drill', '--json']);
    assert.equal(drill.code, 2, drill.stdout + drill.stderr);
    const [result] = JSON.parse(drill.stdout).results;
    assert.equal(result.ok, false);
    assert.match(result.differences.join('\n'), /all_bytes/);
    assert.deepEqual(await databases(), before, 'the scratch database is dropped after a failed drill too');
  } finally {
    writeFileSync(path, original);
  }
});

test('verify reads the dump to its trailer and checks its row counts', async () => {
  const verify = await runCli(['-c', config, 'verify']);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /dump-trailer/);
  assert.match(verify.stdout, /row-counts/);
});

test('a Laravel .env with DB_HOST=<socket directory>: the app role logs in over the socket with its password (scram), backs up and restores', async (t) => {
  const appRoot = mkdtempSync(join(tmpdir(), 'restorable-pg-socket-'));
  t.after(() => rmSync(appRoot, { recursive: true, force: true }));
  // A .env value in single quotes cannot hold a single quote: this role's password has none (a backslash, a colon, double quotes).
  const password = APP_ROLE.password.replaceAll("'", '');
  await server.rootQuery(`CREATE ROLE socket_app LOGIN CREATEDB PASSWORD '${password}'; GRANT pg_read_all_data TO socket_app`);
  await server.rootQuery(`DO $$DECLARE o oid; BEGIN FOR o IN SELECT oid FROM pg_largeobject_metadata LOOP EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO socket_app', o); END LOOP; END$$;`, undefined, SOURCE);
  const env = join(appRoot, '.env');
  writeFileSync(env, `DB_CONNECTION=pgsql\nDB_HOST=${server.socketDir}\nDB_PORT=${server.port}\nDB_DATABASE=${SOURCE}\nDB_USERNAME=socket_app\nDB_PASSWORD='${password}'\n`, { mode: 0o600 });
  const socketConfig = join(appRoot, 'restorable.yml');
  writeFileSync(socketConfig, `app: socketapp\nrepository: ${join(appRoot, 'backups')}\nsources:\n  db: { type: postgres, env_file: ${env} }\nmonitor: { min_free: 1MB }\n`);
  await initialiseRepository(socketConfig);
  const backup = await runCli(['-c', socketConfig, 'backup']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  assert.match(backup.stdout, /socket directory/);
  const restore = await runCli(['-c', socketConfig, 'restore', 'db', '--into', 'app_via_socket']);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  assert.deepEqual(await describePostgresDatabase(server, 'app_via_socket'), source);
});
