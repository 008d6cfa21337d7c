// What a MySQL backup says when it cannot be done, through the real CLI
// against a private MariaDB: every failure names its real cause and a next
// step that works. The account is 'laravel'@'127.0.0.1' (not @'%'), as many
// Laravel servers have it, so a GRANT printed for @'%' would fail with
// ERROR 1133; the GRANTs must name the account as CURRENT_USER() reports it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { initRepositoryOf } from '../support/initialised-repository.ts';
import { runCli } from '../support/cli.ts';
import { startPrivateMariadb, type PrivateMariadb } from '../support/mariadb.ts';
import { createConnection, type Connection } from 'mysql2/promise';

const PASSWORD = 'Laravel-pw-7731';
const ACCOUNT = "'laravel'@'127.0.0.1'";
let server: PrivateMariadb;

before(async () => {
  server = await startPrivateMariadb();
  await server.rootQuery(`CREATE USER ${ACCOUNT} IDENTIFIED BY '${PASSWORD}'; GRANT SELECT ON mysql.proc TO ${ACCOUNT};`);
});
after(async () => server?.stop());

/** A database the laravel account may dump completely (the documented backup privileges). */
async function dumpableDatabase(name: string): Promise<void> {
  await server.createDatabase(name);
  await server.rootQuery(`GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE ON \`${name}\`.* TO ${ACCOUNT}`);
}

interface AppOptions {
  repository?: string;
  sourceExtras?: string;
  password?: string;
}

function laravelApp(root: string, database: string, options: AppOptions = {}): { config: string; repository: string; env: string } {
  const env = join(root, '.env');
  writeFileSync(
    env,
    `APP_NAME=Shop\nDB_CONNECTION=mysql\nDB_HOST=127.0.0.1\nDB_PORT=${server.port}\nDB_DATABASE=${database}\nDB_USERNAME=laravel\nDB_PASSWORD="${options.password ?? PASSWORD}"\n`,
    { mode: 0o600 },
  );
  const repository = options.repository ?? join(root, 'backups');
  const config = join(root, 'restorable.yml');
  writeFileSync(
    config,
    `app: shop\nrepository: ${repository}\nsources:\n  db: { type: mysql, env_file: ${env}${options.sourceExtras ? `, ${options.sourceExtras}` : ''} }\nmonitor: { min_free: 1KB }\n`,
  );
  initRepositoryOf(config);
  return { config, repository, env };
}

function manifests(repository: string): string[] {
  const dir = join(repository, 'manifests');
  return existsSync(dir) ? readdirSync(dir) : [];
}

test('a view that calls a stored function: pre-flight asks for EXECUTE before dumping anything, with the GRANT for the account as the server sees it', async (t) => {
  await dumpableDatabase('reports');
  await server.rootQuery(`REVOKE EXECUTE ON reports.* FROM ${ACCOUNT}`);
  await server.rootQuery(`
    CREATE TABLE reports.orders (id INT PRIMARY KEY, total INT) ENGINE=InnoDB;
    INSERT INTO reports.orders VALUES (1, 10), (2, 20);
    CREATE FUNCTION reports.with_tax(amount INT) RETURNS INT DETERMINISTIC RETURN amount * 119 DIV 100;
    CREATE VIEW reports.taxed AS SELECT id, reports.with_tax(total) AS gross FROM reports.orders;
  `);
  const root = tempDir(t);
  const app = laravelApp(root, 'reports');
  const refused = await runCli(['-c', app.config, 'backup']);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /EXECUTE/);
  assert.match(refused.stderr, /`taxed`/, 'names the view');
  assert.match(refused.stderr, /next: as a MySQL administrator, run: GRANT EXECUTE ON `reports`\.\* TO 'laravel'@'127\.0\.0\.1';/);
  assert.doesNotMatch(refused.stdout, /dumping/, 'refused before the dump started');
  assert.deepEqual(manifests(app.repository), []);

  await server.rootQuery(`GRANT EXECUTE ON reports.* TO ${ACCOUNT}`);
  const done = await runCli(['-c', app.config, 'backup']);
  assert.equal(done.code, 0, done.stdout + done.stderr);
});

test('an event whose body holds `;;` (mariadb-dump would spin forever): the backup fails at once, naming the event and the workaround', async (t) => {
  await dumpableDatabase('ticks');
  await server.rootQuery(`
    CREATE TABLE ticks.log (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(50)) ENGINE=InnoDB;
    CREATE EVENT ticks.nightly ON SCHEDULE EVERY 1 DAY DO INSERT INTO ticks.log (note) VALUES ('a;;b');
  `);
  const root = tempDir(t);
  // A short stall_timeout, so that without the up-front check this test ends in 20 s, not hours.
  const app = laravelApp(root, 'ticks', { sourceExtras: 'stall_timeout: 20s' });
  const started = Date.now();
  const result = await runCli(['-c', app.config, 'backup']);
  const seconds = (Date.now() - started) / 1000;
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, /event `nightly`/);
  assert.match(result.stderr, /;;/);
  assert.match(result.stderr, /mariadb-dump/);
  assert.match(result.stderr, /next: .*(rewrite|CONCAT)/i);
  assert.doesNotMatch(result.stderr, /stopped sending data|SHOW PROCESSLIST/, 'not blamed on the server');
  assert.doesNotMatch(result.stdout, /dumping/, 'refused before the dump started');
  assert.ok(seconds < 20, `failed before any stall timeout (${seconds} s)`);
  assert.deepEqual(manifests(app.repository), []);
});

test('the repository disk fills up during a dump: the run and `check` say the disk is full, not that an output was closed', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  await dumpableDatabase('media');
  await server.rootQuery(`CREATE TABLE media.blobs (id INT PRIMARY KEY, data LONGBLOB) ENGINE=InnoDB`);
  // 6 MB that gzip cannot shrink (RANDOM_BYTES gives at most 1 KB a call).
  await server.rootQuery(`INSERT INTO media.blobs SELECT seq, RANDOM_BYTES(1024) FROM media.seq_1_to_6000`);
  const root = tempDir(t);
  const repository = mkdtempSync(join(tmpdir(), 'restorable-full-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', repository]);
  t.after(() => {
    execFileSync('umount', ['-l', repository]);
    rmSync(repository, { recursive: true, force: true });
  });
  const app = laravelApp(root, 'media', { repository });
  const result = await runCli(['-c', app.config, 'backup']);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, /disk is full/);
  assert.doesNotMatch(result.stderr, /output was closed|consumer of the dump/);
  assert.match(result.stderr, /next: free /);
  assert.deepEqual(manifests(repository), []);

  const check = await runCli(['-c', app.config, 'check']);
  assert.match(check.stdout, /disk is full/, check.stdout);
  assert.doesNotMatch(check.stdout, /output was closed/);
});

test('the password changed between pre-flight and dump (error 1045): says so and names where the password came from', async (t) => {
  await dumpableDatabase('accounts');
  await server.rootQuery(`CREATE TABLE accounts.users (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO accounts.users VALUES (1);`);
  const root = tempDir(t);
  // The dump tool as configured: a wrapper that changes the password right before the real dump connects,
  // as an operator rotating it mid-run would.
  const wrapper = join(root, 'dump-after-password-change');
  writeFileSync(
    wrapper,
    `#!/bin/sh\ncase "$*" in *defaults-file*) mariadb ${server.clientArgs.join(' ')} -e "SET PASSWORD FOR ${ACCOUNT} = PASSWORD('rotated-99')" ;; esac\nexec mariadb-dump "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  t.after(() => server.rootQuery(`SET PASSWORD FOR ${ACCOUNT} = PASSWORD('${PASSWORD}')`));
  const app = laravelApp(root, 'accounts', { sourceExtras: `dump_tool: ${wrapper}` });
  const result = await runCli(['-c', app.config, 'backup']);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, /refused the password of laravel@127\.0\.0\.1 \(error 1045\)/);
  assert.match(result.stderr, /password changed/);
  assert.match(result.stderr, new RegExp(`DB_PASSWORD in ${app.env.replaceAll('.', '\\.')}`));
  assert.doesNotMatch(result.stderr, /GRANT|lacks|privilege/i, 'not blamed on missing privileges');
  assert.ok(!(result.stdout + result.stderr).includes(PASSWORD));

  // The same at pre-flight: a wrong password names the field that supplied it.
  const wrong = laravelApp(tempDir(t), 'accounts', { password: 'not-it-4711' });
  const refused = await runCli(['-c', wrong.config, 'backup']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /refused the password of laravel.*\(error 1045\)/);
  assert.match(refused.stderr, new RegExp(`DB_PASSWORD in ${wrong.env.replaceAll('.', '\\.')}`));
});

test('too many connections, at pre-flight or when the dump connects: says the backup needs two and how to raise max_connections', async (t) => {
  await dumpableDatabase('busy');
  await server.rootQuery(`CREATE TABLE busy.t (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO busy.t VALUES (1);`);
  await server.rootQuery("CREATE USER IF NOT EXISTS 'filler'@'127.0.0.1'");
  const [row] = await server.rootQuery<{ n: number }>('SELECT @@max_connections AS n');
  // 10 is the smallest max_connections the server takes; idle clients of another user fill it.
  await server.rootQuery('SET GLOBAL max_connections = 10');
  const fillers: Connection[] = [];
  // Counting Threads_connected raced with connections still closing; instead,
  // fill until the server refuses (1040), then free exactly `free` slots and
  // wait until the server has let go of them.
  const fillLeaving = async (free: number) => {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        fillers.push(await createConnection({ host: '127.0.0.1', port: server.port, user: 'filler' }));
      } catch (error) {
        if ((error as { errno?: number }).errno !== 1040) throw error;
        break;
      }
    }
    for (let index = 0; index < free; index++) await fillers.pop()!.end();
    for (let waited = 0; waited < 100; waited++) {
      const [row] = await server.rootQuery<{ n: number }>("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'filler'");
      if (Number(row!.n) === fillers.length) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const emptyFillers = async () => {
    await Promise.all(fillers.splice(0).map((filler) => filler.end()));
  };
  t.after(async () => {
    await emptyFillers();
    await server.rootQuery(`SET GLOBAL max_connections = ${Number(row!.n)}`);
  });
  const assertExplained = (result: { code: number | null; stdout: string; stderr: string }) => {
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /too many connections/i);
    assert.match(result.stderr, /needs two connections/);
    assert.match(result.stderr, /SET GLOBAL max_connections/);
    assert.doesNotMatch(result.stderr, /GRANT|restorable doctor/);
  };

  // The pre-flight finds the server full.
  await fillLeaving(0);
  const root = tempDir(t);
  const full = laravelApp(root, 'busy');
  assertExplained(await runCli(['-c', full.config, 'backup']));
  await emptyFillers();

  // The server fills up between pre-flight and dump: one slot is left, and the dump tool as configured
  // (a wrapper) has another client take it right before the real dump connects.
  await fillLeaving(1);
  const wrapper = join(root, 'dump-on-a-full-server');
  writeFileSync(
    wrapper,
    '#!/bin/sh\n' +
      'case "$*" in *defaults-file*)\n' +
      // The other client retries while the pre-flight's own connection is still being let go of.
      `  (for i in $(seq 100); do mariadb --no-defaults -h127.0.0.1 -P${server.port} -ufiller -e "SELECT SLEEP(20)" >/dev/null 2>&1 && break; sleep 0.1; done) >/dev/null 2>&1 &\n` +
      // Until it holds its slot (a busy machine may take a while to start it); bounded, so a miss fails instead of hanging.
      `  for i in $(seq 150); do mariadb ${server.clientArgs.join(' ')} -N -e "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP%'" | grep -qx 1 && break; sleep 0.1; done ;;\n` +
      'esac\nexec mariadb-dump "$@"\n',
  );
  chmodSync(wrapper, 0o755);
  const later = laravelApp(tempDir(t), 'busy', { sourceExtras: `dump_tool: ${wrapper}` });
  const result = await runCli(['-c', later.config, 'backup']);
  assertExplained(result);
  assert.match(result.stdout, /dumping/, 'this time the dump had started');
});

test('a table whose name holds a line break is refused up front, named so it can be read', async (t) => {
  await dumpableDatabase('oddnames');
  await server.rootQuery("CREATE TABLE oddnames.plain (id INT PRIMARY KEY) ENGINE=InnoDB; CREATE TABLE oddnames.`line\nbreak` (id INT PRIMARY KEY) ENGINE=InnoDB;");
  const root = tempDir(t);
  const app = laravelApp(root, 'oddnames');
  const result = await runCli(['-c', app.config, 'backup']);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, /table `line\\nbreak`/, 'the name is shown escaped, on one line');
  assert.match(result.stderr, /line break/);
  assert.match(result.stderr, /next: .*RENAME TABLE `oddnames`\.`line\\nbreak` TO /);
  assert.doesNotMatch(result.stderr, /GRANT/, 'not blamed on privileges');
  assert.doesNotMatch(result.stdout, /dumping/);
});

test('docs/privileges.md: its Laravel block, applied to a fresh account, is all a backup, a restore and a drill need', async (t) => {
  const doc = readFileSync(new URL('../../docs/privileges.md', import.meta.url), 'utf8');
  const block = /<!-- laravel-grants -->\s*```sql\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/privileges.md has the marked ```sql block');
  // A fresh account; the application made its objects (it is their DEFINER), as Laravel migrations do.
  await server.rootQuery("CREATE USER 'docapp'@'127.0.0.1' IDENTIFIED BY 'Docs-pw-5150'");
  await server.createDatabase('docshop');
  // The block as an administrator would paste it, for this account and database (nothing else is granted).
  const sql = block!.replaceAll("'laravel'@'127.0.0.1'", "'docapp'@'127.0.0.1'").replaceAll('`shop', '`docshop');
  assert.match(sql, /GRANT .* ON `docshop`\.\* TO 'docapp'@'127\.0\.0\.1'/);
  await server.rootQuery(sql);
  await server.rootQuery(`
    CREATE TABLE docshop.orders (id INT PRIMARY KEY, total INT) ENGINE=InnoDB;
    INSERT INTO docshop.orders VALUES (1, 10), (2, 20);
    CREATE DEFINER='docapp'@'127.0.0.1' FUNCTION docshop.with_tax(amount INT) RETURNS INT DETERMINISTIC RETURN amount * 119 DIV 100;
    CREATE DEFINER='docapp'@'127.0.0.1' VIEW docshop.taxed AS SELECT id, docshop.with_tax(total) AS gross FROM docshop.orders;
    CREATE DEFINER='docapp'@'127.0.0.1' TRIGGER docshop.orders_bi BEFORE INSERT ON docshop.orders FOR EACH ROW SET NEW.total = ABS(NEW.total);
    CREATE DEFINER='docapp'@'127.0.0.1' EVENT docshop.nightly ON SCHEDULE EVERY 1 DAY DO DELETE FROM docshop.orders WHERE id < 0;
  `);
  const root = tempDir(t);
  const env = join(root, '.env');
  writeFileSync(env, `DB_CONNECTION=mysql\nDB_HOST=127.0.0.1\nDB_PORT=${server.port}\nDB_DATABASE=docshop\nDB_USERNAME=docapp\nDB_PASSWORD=Docs-pw-5150\n`, { mode: 0o600 });
  const config = join(root, 'restorable.yml');
  writeFileSync(config, `app: docshop\nrepository: ${join(root, 'backups')}\nsources:\n  db: { type: mysql, env_file: ${env} }\nmonitor: { min_free: 1KB }\n`);
  initRepositoryOf(config);
  const backup = await runCli(['-c', config, 'backup']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  const restore = await runCli(['-c', config, 'restore', 'db']);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  const drill = await runCli(['-c', config, 'drill']);
  assert.equal(drill.code, 0, drill.stdout + drill.stderr);
});

test('restore and drill without the right to create their databases: the GRANT names the account as the server sees it and a pattern', async (t) => {
  await dumpableDatabase('norights');
  await server.rootQuery(`CREATE TABLE norights.t (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO norights.t VALUES (1);`);
  const root = tempDir(t);
  const app = laravelApp(root, 'norights');
  assert.equal((await runCli(['-c', app.config, 'backup'])).code, 0);

  const restore = await runCli(['-c', app.config, 'restore', 'db']);
  assert.equal(restore.code, 2, restore.stdout + restore.stderr);
  assert.match(restore.stderr, /GRANT [A-Z, ]+ ON `norights[^`]*`\.\* TO 'laravel'@'127\.0\.0\.1';/);
  assert.doesNotMatch(restore.stderr, /@'%'/);

  const drill = await runCli(['-c', app.config, 'drill']);
  assert.notEqual(drill.code, 0, drill.stdout + drill.stderr);
  assert.match(drill.stdout + drill.stderr, /GRANT ALL ON `restorable\\_drill\\_%`\.\* TO 'laravel'@'127\.0\.0\.1';/);
  assert.doesNotMatch(drill.stdout + drill.stderr, /@'%'|restorable\\_drill\\_\d/, 'a pattern, not one scratch name');
});

test('a stalled dump: a tool spinning at full CPU is named as stuck in itself, one that waits is blamed on the server', async (t) => {
  await dumpableDatabase('stalls');
  await server.rootQuery(`CREATE TABLE stalls.t (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO stalls.t VALUES (1);`);
  const root = tempDir(t);
  const wrapperDoing = (name: string, body: string) => {
    const path = join(root, name);
    // As the real tool would when it hangs: nothing on stdout, then killed at the stall timeout.
    writeFileSync(path, `#!/bin/sh\ncase "$*" in *defaults-file*) ${body} ;; esac\nexec mariadb-dump "$@"\n`);
    chmodSync(path, 0o755);
    return path;
  };
  const spinning = laravelApp(join(root), 'stalls', { sourceExtras: `dump_tool: ${wrapperDoing('spin', 'while :; do :; done')}, stall_timeout: 6s` });
  const spun = await runCli(['-c', spinning.config, 'backup']);
  assert.equal(spun.code, 2, spun.stdout + spun.stderr);
  assert.match(spun.stderr, /produced no output for 6 s/);
  assert.match(spun.stderr, /stuck in itself, not waiting for the server/);
  assert.match(spun.stderr, /next: .*;;/);
  assert.doesNotMatch(spun.stderr, /SHOW PROCESSLIST/);

  const idleRoot = tempDir(t);
  const waiting = laravelApp(idleRoot, 'stalls', { sourceExtras: `dump_tool: ${wrapperDoing('wait', 'sleep 30')}, stall_timeout: 6s` });
  const waited = await runCli(['-c', waiting.config, 'backup']);
  assert.equal(waited.code, 2, waited.stdout + waited.stderr);
  assert.match(waited.stderr, /produced no output for 6 s/);
  assert.match(waited.stderr, /SHOW PROCESSLIST/);
  assert.doesNotMatch(waited.stderr, /stuck in itself/);
});
