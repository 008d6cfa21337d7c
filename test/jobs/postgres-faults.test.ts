// What a PostgreSQL backup does when it cannot be done, through the real CLI
// against a private PostgreSQL 15 (scram passwords over TCP): a wrong
// password, a role that may not read a table, the server killed mid-dump, the
// repository disk filling up. Each one exits 2, says why with a next step,
// publishes nothing and leaves the earlier set as it was. While the dump runs
// (held mid-dump by a lock another session holds), no child of restorable
// carries the password in /proc/<pid>/cmdline or /proc/<pid>/environ.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { descendantsOf } from '../support/process-tree.ts';
import { mountSmallTmpfs } from '../support/small-tmpfs.ts';
import { runCli, startCli } from '../support/cli.ts';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.ts';

const OWNER = { user: 'shop_owner', password: 'Owner-pw-4471' };
const APP = { user: 'laravel', password: 'Laravel:pg-pw 9931' };
let server: PrivatePostgres;

before(async () => {
  server = await startPrivatePostgres();
  await server.createRole(OWNER.user, OWNER.password);
  await server.createRole(APP.user, APP.password);
});
after(async () => server?.stop());

/** A database owned by OWNER with a few tables; `laravel` may read it through pg_read_all_data (the documented grant on 14+). */
async function shopDatabase(name: string, options: { readable?: boolean } = {}): Promise<void> {
  await server.createDatabase(name, OWNER.user);
  await server.query(
    { ...OWNER, database: name },
    `CREATE TABLE public.orders (id serial PRIMARY KEY, total numeric(10,2), note text);
     INSERT INTO public.orders (total, note) SELECT i / 3.0, repeat('x', 50) FROM generate_series(1, 500) AS i;
     CREATE VIEW public.big_orders AS SELECT * FROM public.orders WHERE total > 100;
     CREATE TABLE public.secrets (id int PRIMARY KEY, value text);
     INSERT INTO public.secrets VALUES (1, 'hidden');`,
  );
  if (options.readable !== false) await server.rootQuery(`GRANT pg_read_all_data TO ${APP.user}`);
}

interface App {
  config: string;
  repository: string;
}

/** A Laravel app on PostgreSQL: `.env` with DB_CONNECTION=pgsql, the restorable config reading it. */
async function laravelApp(root: string, database: string, options: { repository?: string; password?: string; user?: string; sourceExtras?: string } = {}): Promise<App> {
  const env = join(root, '.env');
  writeFileSync(
    env,
    `APP_NAME=Shop\nDB_CONNECTION=pgsql\nDB_HOST=127.0.0.1\nDB_PORT=${server.port}\nDB_DATABASE=${database}\nDB_USERNAME=${options.user ?? APP.user}\nDB_PASSWORD="${options.password ?? APP.password}"\nDB_SSLMODE=disable\n`,
    { mode: 0o600 },
  );
  const repository = options.repository ?? join(root, 'backups');
  const config = join(root, 'restorable.yml');
  writeFileSync(config, `app: shop\nrepository: ${repository}\nsources:\n  db: { type: postgres, env_file: ${env}${options.sourceExtras ? `, ${options.sourceExtras}` : ''} }\nmonitor: { min_free: 1KB }\n`);
  // A backup never creates its repository (an unmounted disk must not fill the root filesystem).
  const init = await runCli(['-c', config, 'init']);
  assert.equal(init.code, 0, init.stdout + init.stderr);
  return { config, repository };
}

function manifests(repository: string): string[] {
  const dir = join(repository, 'manifests');
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.json')) : [];
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((name) => join(dir, name));
}

function partials(repository: string): string[] {
  return existsSync(repository) ? filesUnder(repository).filter((path) => path.endsWith('.partial')) : [];
}

/** sha256 of every file of the published sets (manifests and artifacts; not logs or state). */
function publishedFiles(repository: string): Record<string, string> {
  return Object.fromEntries(
    filesUnder(repository)
      .filter((path) => statSync(path).isFile() && !path.includes('/logs/') && !path.includes('/.restorable/') && !path.endsWith('.partial'))
      .map((path) => [path, createHash('sha256').update(readFileSync(path)).digest('hex')]),
  );
}

function assertEarlierSetIntact(repository: string, earlier: Record<string, string>): void {
  assert.equal(manifests(repository).length, 1, 'only the earlier set exists');
  for (const [path, hash] of Object.entries(earlier)) assert.equal(createHash('sha256').update(readFileSync(path)).digest('hex'), hash, `${path} untouched`);
  const gz = Object.keys(earlier).filter((path) => path.endsWith('.gz'));
  assert.ok(gz.length > 0);
  execFileSync('gunzip', ['-t', ...gz]);
}

function readProc(pid: number, file: 'cmdline' | 'environ' | 'comm'): string {
  return readProcFile(`/proc/${pid}/${file}`);
}

/** A file that may vanish while we look (a process that ended, a pass file removed): '' then. */
function readProcFile(path: string): string {
  try {
    return readFileSync(path).toString('utf8');
  } catch {
    return '';
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a wrong password: exit 2 naming the role and the server, a next step, and the password never printed', async (t) => {
  await shopDatabase('wrongpw');
  const root = tempDir(t);
  const app = await laravelApp(root, 'wrongpw', { password: 'not-the-password-42' });
  const result = await runCli(['-c', app.config, 'backup']);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, /laravel/);
  assert.match(result.stderr, new RegExp(`127\\.0\\.0\\.1:${server.port}`));
  assert.match(result.stderr, /password/i);
  assert.match(result.stderr, /next: /);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(!(result.stdout + result.stderr).includes('not-the-password-42'));
  assert.deepEqual(manifests(app.repository), []);
});

test('a role that may not read a table: refused before the dump with the exact GRANT (pg_read_all_data on 14+), nothing published', async (t) => {
  await shopDatabase('noprivs', { readable: false });
  await server.rootQuery(`REVOKE pg_read_all_data FROM ${APP.user}`);
  // What a careful admin gives a backup role, minus one table: CONNECT, USAGE, SELECT on orders only.
  await server.rootQuery(`GRANT CONNECT ON DATABASE noprivs TO ${APP.user}`);
  await server.query({ ...OWNER, database: 'noprivs' }, `GRANT USAGE ON SCHEMA public TO ${APP.user}; GRANT SELECT ON public.orders, public.orders_id_seq, public.big_orders TO ${APP.user}`);
  const root = tempDir(t);
  const app = await laravelApp(root, 'noprivs');
  const refused = await runCli(['-c', app.config, 'backup']);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /secrets/, 'names the table it may not read');
  assert.match(refused.stderr, /GRANT pg_read_all_data TO "?laravel"?/);
  assert.match(refused.stderr, /next: /);
  assert.doesNotMatch(refused.stdout, /dumping/, 'refused before the dump started');
  assert.deepEqual(manifests(app.repository), []);
  assert.deepEqual(partials(app.repository), []);

  // The GRANT it printed is the one that works.
  await server.rootQuery(`GRANT pg_read_all_data TO ${APP.user}`);
  const done = await runCli(['-c', app.config, 'backup']);
  assert.equal(done.code, 0, done.stdout + done.stderr);
});

test('the server killed mid-dump: exit 2, nothing published, the earlier set intact; no password in /proc of any child while the dump ran', async (t) => {
  await shopDatabase('midump');
  await server.query({ ...OWNER, database: 'midump' }, `CREATE TABLE public.zz_last (id int); INSERT INTO public.zz_last VALUES (1);`);
  const root = tempDir(t);
  // pg_dump as configured (dump_tool), started a moment late when it is the dump (not `--version`):
  // time for the lock below to be asked for before pg_dump locks the tables it dumps.
  const dumpTool = join(root, 'pg_dump-late');
  writeFileSync(dumpTool, `#!/bin/sh\ncase "$*" in *--snapshot*) sleep 1 ;; esac\nexec /usr/lib/postgresql/15/bin/pg_dump "$@"\n`, { mode: 0o755 });
  const app = await laravelApp(root, 'midump', { sourceExtras: `dump_tool: ${dumpTool}` });
  const first = await runCli(['-c', app.config, 'backup']);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  const earlier = publishedFiles(app.repository);

  // Once the dump's pg_dump runs, another session asks for a lock that pg_dump's `LOCK TABLE ... IN
  // ACCESS SHARE MODE` then queues behind: the dump is reliably under way, and stuck, when the server dies.
  const holder = await server.connect('midump');
  await holder.query('BEGIN');
  let lockRequest: Promise<unknown> | undefined;
  const { child, result } = startCli(['-c', app.config, 'backup']);
  const seen = new Map<number, string>();
  let stuck = false;
  /** What pg_dump's PGPASSFILE held while it ran: the password travels there and only there. */
  let pgDumpPassFile = '';
  for (let i = 0; i < 3000 && !stuck && child.exitCode === null; i++) {
    for (const pid of descendantsOf(child.pid!)) {
      seen.set(pid, readProc(pid, 'comm').trim() || seen.get(pid) || '?');
      const cmdline = readProc(pid, 'cmdline');
      const environ = readProc(pid, 'environ');
      assert.ok(!cmdline.includes(APP.password), `no password in the argv of ${seen.get(pid)} (${pid})`);
      assert.ok(!environ.includes(APP.password), `no password in the environment of ${seen.get(pid)} (${pid})`);
      assert.ok(!environ.split('\0').some((entry) => entry.startsWith('PGPASSWORD=')), `no PGPASSWORD in ${seen.get(pid)} (${pid})`);
      const passFile = environ.split('\0').find((entry) => entry.startsWith('PGPASSFILE='))?.slice('PGPASSFILE='.length);
      if (passFile && passFile !== '/dev/null' && existsSync(passFile)) {
        assert.equal(statSync(passFile).mode & 0o077, 0, `${passFile} is private`);
        if (seen.get(pid)!.startsWith('pg_dump')) pgDumpPassFile = readProcFile(passFile) || pgDumpPassFile;
      }
    }
    // The dump's pg_dump (not a `pg_dump --version`) is the child whose arguments name the snapshot.
    if (!lockRequest && descendantsOf(child.pid!).some((pid) => readProc(pid, 'cmdline').includes('--snapshot'))) {
      lockRequest = holder.query('LOCK TABLE public.zz_last IN ACCESS EXCLUSIVE MODE');
      lockRequest.catch(() => {});
    }
    if (lockRequest) {
      const blocked = await server.rootQuery<{ n: string }>(
        `SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = 'midump' AND usename = '${APP.user}' AND wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE%'`,
      );
      stuck = blocked[0]!.n !== '0';
    }
    if (!stuck) await delay(5);
  }
  assert.ok(stuck, `pg_dump started and waits on the lock (children seen: ${[...new Set(seen.values())].join(', ')})`);
  assert.ok(pgDumpPassFile.includes(APP.password.replaceAll(':', '\\:')), 'pg_dump got the password through its 0600 PGPASSFILE');
  await server.kill();
  const outcome = await result;
  await holder.end().catch(() => {});
  await server.restart();
  assert.equal(outcome.code, 2, outcome.stdout + outcome.stderr);
  assert.match(outcome.stderr, /nothing was published/);
  assert.doesNotMatch(outcome.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(!(outcome.stdout + outcome.stderr).includes(APP.password));
  assert.deepEqual(partials(app.repository), []);
  assertEarlierSetIntact(app.repository, earlier);
});

test('the repository disk fills up during a dump: exit 2, says the disk is full, nothing published, the earlier set intact', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  await shopDatabase('media');
  const root = tempDir(t);
  const repository = mountSmallTmpfs(t, '3m', 'restorable-pg-full-disk-');
  const app = await laravelApp(root, 'media', { repository });
  const first = await runCli(['-c', app.config, 'backup']);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  const earlier = publishedFiles(repository);

  // 8 MB that gzip cannot shrink (random bytes; bytea's hex form halves back at best).
  await server.query(
    { ...OWNER, database: 'media' },
    `CREATE TABLE public.blobs (id int PRIMARY KEY, data bytea);
     INSERT INTO public.blobs SELECT i, decode(string_agg(lpad(to_hex((random() * 4294967295)::bigint), 8, '0'), ''), 'hex')
       FROM generate_series(1, 8000) AS i, generate_series(1, 256) AS j GROUP BY i;`,
  );
  const second = await runCli(['-c', app.config, 'backup']);
  assert.equal(second.code, 2, second.stdout + second.stderr);
  assert.match(second.stderr, /disk is full/);
  assert.doesNotMatch(second.stderr, /output was closed|consumer of the dump/);
  assert.match(second.stderr, /next: free /);
  assert.doesNotMatch(second.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(partials(repository), []);
  assertEarlierSetIntact(repository, earlier);
});

test('docs/postgres.md: its grants block, applied to a fresh role for a database another role owns, is all a backup, a restore and a drill need', async (t) => {
  const doc = readFileSync(new URL('../../docs/postgres.md', import.meta.url), 'utf8');
  const block = /<!-- postgres-grants -->\s*```sql\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/postgres.md has the marked ```sql block');
  const docRole = { user: 'docapp', password: 'Docs-pw-5150' };
  await server.createRole(docRole.user, docRole.password);
  await shopDatabase('docshop', { readable: false });
  // Made by the owner, as migrations would: a large object too, which pg_read_all_data does not cover.
  await server.query({ ...OWNER, database: 'docshop' }, `CREATE TABLE public.files (id int PRIMARY KEY, content oid); INSERT INTO public.files VALUES (1, lo_from_bytea(0, '\\x00ff'::bytea))`);
  // The block as an administrator would paste it into `psql docshop`, for this role and database.
  const sql = block!.replaceAll('laravel', docRole.user).replaceAll('DATABASE shop ', 'DATABASE docshop ');
  assert.match(sql, /GRANT CONNECT ON DATABASE docshop TO docapp;/);
  await server.rootQuery(sql, undefined, 'docshop');

  const root = tempDir(t);
  const app = await laravelApp(root, 'docshop', { user: docRole.user, password: docRole.password });
  const backup = await runCli(['-c', app.config, 'backup']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  const restore = await runCli(['-c', app.config, 'restore', 'db']);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  const drill = await runCli(['-c', app.config, 'drill']);
  assert.equal(drill.code, 0, drill.stdout + drill.stderr);
});
