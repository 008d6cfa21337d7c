// Drills of two applications on one server leave each other's scratch
// databases alone (names carry a hash of the repository); Ctrl-C of a manual
// drill is recorded as aborted: exit 130, no drill_failed announcement, and
// `check` still grades the last completed drill; failure lines say what
// happened: the time the restore really ran, a missing privilege named as
// such, a refused `drill.mysql` login naming `drill.mysql`, and a restored
// copy that cannot be read back named as a failed comparison, not a restore.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { initRepositoryOf } from '../support/initialised-repository.ts';
import { runCli, startCli } from '../support/cli.ts';
import { startPrivateMariadb, type PrivateMariadb } from '../support/mariadb.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';

let server: PrivateMariadb;
before(async () => {
  server = await startPrivateMariadb();
  await server.createDatabase('shop');
  await server.rootQuery(`
    USE shop;
    CREATE TABLE shop.orders (id INT PRIMARY KEY, total DECIMAL(10,2), note VARCHAR(255)) ENGINE=InnoDB;
    INSERT INTO shop.orders SELECT seq, seq / 100, REPEAT(MD5(seq), 6) FROM seq_1_to_200000;
    CREATE VIEW shop.totals AS SELECT SUM(total) AS sum FROM shop.orders;
    CREATE USER drill@localhost IDENTIFIED BY 'drill-password';
    GRANT ALL ON \`restorable\\_drill\\_%\`.* TO drill@localhost;
  `);
});
after(async () => server?.stop());

const scratchDatabases = async () =>
  (await server.rootQuery<{ SCHEMA_NAME: string }>(`SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'restorable\\_drill\\_%'`)).map((row) => row.SCHEMA_NAME);

async function waitForScratchDatabase(): Promise<string[]> {
  for (let i = 0; i < 2000; i++) {
    const names = await scratchDatabases();
    if (names.length > 0) return names;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('no scratch database appeared');
}

function shopConfig(root: string, extra = '', sourceExtra = ''): string {
  const config = join(root, 'restorable.yml');
  writeFileSync(config, `app: shop\nrepository: ${join(root, 'backups')}\nsources:\n  db: { type: mysql, socket: ${server.socket}, user: root, database: shop${sourceExtra} }\nmonitor: { min_free: 1MB }\n${extra}`);
  initRepositoryOf(config);
  return config;
}

test('two repositories drilling on one server: one\'s sweep leaves the other\'s scratch database alone', async (t) => {
  const first = shopConfig(tempDir(t));
  const second = shopConfig(tempDir(t));
  assert.equal((await runCli(['-c', first, 'backup'])).code, 0);
  assert.equal((await runCli(['-c', second, 'backup'])).code, 0);

  // The second application's drill dies mid-restore, leaving its scratch database.
  const { child, result } = startCli(['-c', second, 'drill']);
  const [left] = await waitForScratchDatabase();
  child.kill('SIGKILL');
  await result;
  assert.match(left!, /^restorable_drill_[0-9a-f]{8}_\d{14}_\d+$/);
  assert.ok(left!.length <= 64);

  const firstDrill = await runCli(['-c', first, 'drill', '--json']);
  assert.equal(firstDrill.code, 0, firstDrill.stdout + firstDrill.stderr);
  assert.deepEqual(JSON.parse(firstDrill.stdout).swept, []);
  assert.deepEqual(await scratchDatabases(), [left], 'the other repository\'s scratch database is still there');

  // A scratch name of the second repository whose drill still runs (this test's own pid) is left alone too.
  const liveName = `${left!.replace(/_\d+$/, '')}_${process.pid}`;
  await server.createDatabase(liveName);
  const secondDrill = await runCli(['-c', second, 'drill']);
  assert.equal(secondDrill.code, 0, secondDrill.stdout + secondDrill.stderr);
  assert.match(secondDrill.stdout, new RegExp(`dropped the scratch database ${left} an interrupted drill left behind`));
  assert.match(secondDrill.stdout, new RegExp(`left the scratch database ${liveName} alone: the drill that made it \\(pid ${process.pid}\\) still runs`));
  assert.deepEqual(await scratchDatabases(), [liveName]);
  await server.rootQuery(`DROP DATABASE \`${liveName}\``);
});

test('Ctrl-C of a manual drill is recorded as aborted: exit 130, no drill_failed, check still OK from the last completed drill', async (t) => {
  const receiver = await startWebhookReceiver(t);
  const root = tempDir(t);
  const config = shopConfig(root, `notify:\n  webhooks: [{ url: "${receiver.url('/hook')}", format: json }]\n`);
  assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
  const passed = await runCli(['-c', config, 'drill']);
  assert.equal(passed.code, 0, passed.stdout + passed.stderr);

  const { child, result } = startCli(['-c', config, 'drill']);
  await waitForScratchDatabase();
  child.kill('SIGINT');
  const interrupted = await result;
  assert.equal(interrupted.code, 130, interrupted.stdout + interrupted.stderr);
  assert.match(interrupted.stderr, /interrupted by SIGINT/);
  assert.deepEqual(await scratchDatabases(), []);

  const runs = readFileSync(join(root, 'backups', '.restorable', 'runs.jsonl'), 'utf8').trim().split('\n').map((text) => JSON.parse(text));
  const drills = runs.filter((run: { command: string }) => run.command === 'drill');
  assert.deepEqual(drills.map((run: { status: string }) => run.status), ['ok', 'aborted']);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const kinds = receiver.requests.map((request) => JSON.parse(request.body).kind);
  assert.ok(!kinds.includes('drill_failed'), `announced: ${kinds.join(', ')}`);

  const check = await runCli(['-c', config, 'check']);
  assert.doesNotMatch(check.stdout, /CRITICAL drill/);
  assert.match(check.stdout, /^OK drill: set \S+ proven restorable/m);
  const listed = JSON.parse((await runCli(['-c', config, 'list', '--json'])).stdout);
  assert.equal(listed.sets[0].drill.status, 'ok', 'list keeps the proof of the completed drill');
});

test('a privilege error during the restore says so, with the time the restore really ran', async (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'drill.pw'), 'drill-password\n');
  // The drill account may create scratch databases but not recreate a view whose DEFINER is root.
  const config = shopConfig(root, `drill:\n  mysql: { user: drill, password_file: drill.pw }\n`);
  assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
  const drill = await runCli(['-c', config, 'drill']);
  assert.equal(drill.code, 2, drill.stdout + drill.stderr);
  assert.doesNotMatch(drill.stdout, /did not restore as recorded/);
  assert.match(drill.stdout, /drill FAILED: set \S+: db could not be restored: the drill account \(drill\.mysql\) lacks a privilege the restore needs: .*(SUPER|SET USER)/);
  const seconds = Number(/db (\d+\.\d+) s \(until it failed\)/.exec(drill.stdout)?.[1]);
  assert.ok(seconds > 0, `the restore time is the time it ran (${drill.stdout})`);
  assert.match(drill.stdout, new RegExp(`db: FAILED — the restore failed after ${seconds.toFixed(1).replace('.', '\\.')} s`));

  const json = JSON.parse((await runCli(['-c', config, 'drill', '--json'])).stdout);
  assert.ok(json.results[0].restoreMs > 100, `restoreMs ${json.results[0].restoreMs}`);
  assert.equal(json.results[0].restoreFailure.code, 'DRILL_PRIVILEGES_MISSING');
  assert.deepEqual(await scratchDatabases(), []);
  const check = await runCli(['-c', config, 'check']);
  assert.match(check.stdout, /^CRITICAL drill: the last restore drill \(set \S+, .* ago\) failed: db could not be restored: the drill account \(drill\.mysql\) lacks a privilege/m);
});

test('a refused drill.mysql login names drill.mysql, not sources.db', async (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'drill.pw'), 'not-the-password\n');
  const config = shopConfig(root, `drill:\n  mysql: { user: drill, password_file: drill.pw }\n`);
  assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
  const drill = await runCli(['-c', config, 'drill', '--json']);
  assert.equal(drill.code, 2, drill.stdout + drill.stderr);
  const [result] = JSON.parse(drill.stdout).results;
  assert.equal(result.restoreFailure.code, 'DRILL_LOGIN_REFUSED');
  const text = result.differences.join('\n');
  assert.match(text, /the drill account \(drill\.mysql\) drill was refused/);
  assert.match(text, /drill\.mysql\.password_file/);
  assert.doesNotMatch(text, /sources\.db/);
  assert.doesNotMatch(text, /not-the-password/);
});

test('a restored copy that cannot be dumped again says the comparison failed, not the restore', async (t) => {
  const root = tempDir(t);
  // The dump tool as configured works for the backup but not on the drill's scratch database.
  const wrapper = join(root, 'dump-tool');
  writeFileSync(wrapper, `#!/bin/sh\ncase "$*" in *restorable_drill_*) echo "mariadb-dump: Got error: 1044: Access denied to the copy" >&2; exit 2 ;; esac\nexec mariadb-dump "$@"\n`);
  chmodSync(wrapper, 0o755);
  const config = shopConfig(root, '', `, dump_tool: ${wrapper}`);
  assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
  const drill = await runCli(['-c', config, 'drill']);
  assert.equal(drill.code, 2, drill.stdout + drill.stderr);
  assert.match(drill.stdout, /db: FAILED — restored in \d+\.\d s, but the comparison failed: dumping the restored copy \S+ at .* again, to compare its rows, failed: mariadb-dump: Got error: 1044: Access denied to the copy/);
  assert.match(drill.stdout, /drill FAILED: set \S+: db could not be compared: .*; restore time db \d+\.\d s$/m);
  assert.doesNotMatch(drill.stdout, /could not be restored|until it failed/);
  assert.deepEqual(await scratchDatabases(), []);
});
