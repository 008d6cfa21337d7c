// A small PostgreSQL application for the read-side tests of the postgres kind
// (restore db, drill): a role with a password that may CREATEDB, a database it
// owns with a quoted table name, awkward rows (a data row that reads `BEGIN;`
// or `\connect x`, bytea, a tab and a line break), a foreign key, a view, a
// sequence in use, citext and a large object; the restorable config for it;
// and `rewriteDump`, which changes the SQL of a stored artifact and fixes its
// size and sha256 in the manifest, so only the content can tell.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { runCli } from './cli.ts';
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres.ts';

export const APP = { user: 'shopper', password: 'pw:with\\colon', database: 'shop' };
export const ODD_TABLE = '"Odd ""Name"""';

export async function createSmallApp(server: PrivatePostgres): Promise<void> {
  await server.createRole(APP.user, APP.password, { attributes: 'CREATEDB' });
  await server.createDatabase(APP.database, APP.user);
  await server.query(
    APP,
    `CREATE EXTENSION citext;
     CREATE TABLE ${ODD_TABLE} (id serial PRIMARY KEY, t text, b bytea, c citext);
     INSERT INTO ${ODD_TABLE} (t, b, c) VALUES ('BEGIN;', '\\x00ff', 'Hi'), (E'a\\tb\\nc', NULL, NULL), ('\\connect x', '\\x', 'ß');
     CREATE TABLE plain (x int REFERENCES ${ODD_TABLE} (id));
     INSERT INTO plain VALUES (1), (2), (3);
     CREATE VIEW plain_view AS SELECT x FROM plain;
     SELECT lo_from_bytea(0, 'a large object');`,
  );
}

/** Writes the config (password in a 0600 file) and returns its path. */
export function writeSmallAppConfig(root: string, server: PrivatePostgres, extraYaml = ''): string {
  const passwordFile = join(root, 'db-password');
  writeFileSync(passwordFile, `${APP.password}\n`, { mode: 0o600 });
  const config = join(root, 'restorable.yml');
  writeFileSync(
    config,
    `app: shop\nrepository: ${join(root, 'backups')}\nsources:\n  db: { type: postgres, host: 127.0.0.1, port: ${server.port}, database: ${APP.database}, user: ${APP.user}, password_file: ${passwordFile}, sslmode: disable }\nmonitor: { min_free: 1MB }\n${extraYaml}`,
  );
  return config;
}

export interface StoredManifest {
  setId: string;
  artifacts: Array<{ source: string; path: string; sha256: string; sizeBytes: number; rawSizeBytes: number; details: Record<string, unknown> }>;
}

export function manifestPathOf(repository: string, setId?: string): string {
  const names = readdirSync(join(repository, 'manifests')).filter((name) => name.endsWith('.json')).sort();
  return join(repository, 'manifests', setId ? `${setId}.json` : names[names.length - 1]!);
}

/** Changes the details of the set's artifact in its manifest. */
export function editDetails(repository: string, setId: string, edit: (details: Record<string, unknown>) => void): void {
  const path = manifestPathOf(repository, setId);
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as StoredManifest;
  edit(manifest.artifacts[0]!.details);
  writeFileSync(path, JSON.stringify(manifest, null, 2));
}

/** Rewrites the SQL of the set's artifact; the manifest's size and sha256 follow, so only the content differs. */
export function rewriteDump(repository: string, setId: string, rewrite: (sql: string) => string): void {
  const path = manifestPathOf(repository, setId);
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as StoredManifest;
  const artifact = manifest.artifacts[0]!;
  const sql = gunzipSync(readFileSync(join(repository, artifact.path))).toString('utf8');
  const changed = Buffer.from(rewrite(sql));
  if (changed.equals(Buffer.from(sql))) throw new Error('rewriteDump changed nothing');
  const compressed = gzipSync(changed);
  writeFileSync(join(repository, artifact.path), compressed);
  artifact.sha256 = createHash('sha256').update(compressed).digest('hex');
  artifact.sizeBytes = compressed.length;
  artifact.rawSizeBytes = changed.length;
  writeFileSync(path, JSON.stringify(manifest, null, 2));
}

export async function databaseNames(server: PrivatePostgres): Promise<string[]> {
  return (await server.rootQuery<{ datname: string }>('SELECT datname FROM pg_database ORDER BY 1')).map((row) => row.datname);
}

/** The application's data as text, to compare a copy with the source. */
export async function describeData(server: PrivatePostgres, database: string): Promise<string> {
  const rows = await server.rootQuery(`SELECT id, t, encode(b, 'hex') AS b, c::text AS c FROM public.${ODD_TABLE} ORDER BY id`, undefined, database);
  const plain = await server.rootQuery('SELECT x FROM public.plain ORDER BY x', undefined, database);
  const sequence = await server.rootQuery(`SELECT last_value, is_called FROM public."Odd ""Name""_id_seq"`, undefined, database);
  const large = await server.rootQuery("SELECT convert_from(lo_get(oid), 'UTF8') AS content FROM pg_largeobject_metadata", undefined, database);
  const view = await server.rootQuery("SELECT count(*)::int AS n FROM pg_views WHERE viewname = 'plain_view'", undefined, database);
  return JSON.stringify({ rows, plain, sequence, large, view });
}

export interface BackedUpSmallApp {
  server: PrivatePostgres;
  root: string;
  config: string;
  repository: string;
  /** The one set the backup made. */
  setId: string;
  stop(): Promise<void>;
}

/** Starts a private server with the small app, writes its config and backs it up once through the CLI. */
export async function backUpSmallApp(extraYaml = ''): Promise<BackedUpSmallApp> {
  const root = mkdtempSync(join(tmpdir(), 'restorable-pg-app-'));
  const server = await startPrivatePostgres();
  const stop = async () => {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await createSmallApp(server);
    const config = writeSmallAppConfig(root, server, extraYaml);
    // A backup never creates a missing repository: `restorable init` does, once.
    const init = await runCli(['-c', config, 'init']);
    assert.equal(init.code, 0, init.stdout + init.stderr);
    const backup = await runCli(['-c', config, 'backup']);
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    const repository = join(root, 'backups');
    const setId = (JSON.parse(readFileSync(manifestPathOf(repository), 'utf8')) as StoredManifest).setId;
    return { server, root, config, repository, setId, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
