// Restore drills: a good set is proven restorable with its restore time
// recorded and shown by `list`; smoke queries can fail a drill; a flipped byte
// or a truncated artifact fails it naming the artifact; on MariaDB the scratch
// database is compared table by table and always dropped, and the one a killed
// drill left behind is swept by the next drill.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, truncateSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { initRepositoryOf } from '../support/initialised-repository.ts';
import { runCli, startCli } from '../support/cli.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import { startPrivateMariadb, type PrivateMariadb } from '../support/mariadb.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';

function latestManifest(repository: string): { setId: string; artifacts: Array<{ source: string; path: string }> } {
  const names = readdirSync(join(repository, 'manifests')).sort();
  return JSON.parse(readFileSync(join(repository, 'manifests', names[names.length - 1]!), 'utf8'));
}

test('a good set is proven restorable; the restore time is recorded and list shows the proof', async (t) => {
  const app = makeSampleApp(tempDir(t));
  appendFileSync(app.configPath, `drill:\n  queries:\n    - { source: db, sql: "SELECT COUNT(*) FROM users", min: 1 }\n`);
  assert.equal((await runCli(['-c', app.configPath, 'backup'])).code, 0);
  const drill = await runCli(['-c', app.configPath, 'drill', '--json']);
  assert.equal(drill.code, 0, drill.stdout + drill.stderr);
  const outcome = JSON.parse(drill.stdout);
  assert.equal(outcome.status, 'ok');
  assert.deepEqual(outcome.results.map((result: { source: string; ok: boolean }) => [result.source, result.ok]), [['db', true], ['files', true], ['config', true]]);
  for (const result of outcome.results) assert.equal(typeof result.restoreMs, 'number', `${result.source} has a restore time`);
  assert.match(outcome.results[0].compared, /1 table\(s\), 1 query/);

  const listed = JSON.parse((await runCli(['-c', app.configPath, 'list', '--json'])).stdout);
  assert.equal(listed.sets[0].drill.status, 'ok');
  assert.deepEqual(Object.keys(listed.sets[0].drill.restoreSeconds), ['db', 'files', 'config']);
  const text = await runCli(['-c', app.configPath, 'list']);
  assert.match(text.stdout, /proven restorable \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(restore \d+\.\d s\)/);
  assert.deepEqual(readdirSync(join(app.repository, '.restorable')).filter((name) => name.startsWith('drill-')), [], 'scratch directory removed');
  const check = await runCli(['-c', app.configPath, 'check']);
  assert.match(check.stdout, /^OK drill: set \S+ proven restorable \d+s ago \(restore \d+\.\d s\)$/m);
});

test('a smoke query below its minimum fails the drill, naming the query', async (t) => {
  const app = makeSampleApp(tempDir(t));
  appendFileSync(app.configPath, `drill:\n  queries:\n    - { sql: "SELECT COUNT(*) FROM users", min: 5000 }\n`);
  assert.equal((await runCli(['-c', app.configPath, 'backup'])).code, 0);
  const drill = await runCli(['-c', app.configPath, 'drill']);
  assert.equal(drill.code, 2);
  assert.match(drill.stdout, /query "SELECT COUNT\(\*\) FROM users" returned 1000, expected at least 5000/);
  assert.match(drill.stdout, /drill FAILED/);
});

test('a flipped byte fails the drill naming the artifact, and the failure is announced', async (t) => {
  const receiver = await startWebhookReceiver(t);
  const app = makeSampleApp(tempDir(t));
  appendFileSync(app.configPath, `notify:\n  webhooks: [{ url: "${receiver.url('/hook')}", format: json }]\n`);
  assert.equal((await runCli(['-c', app.configPath, 'backup'])).code, 0);
  const manifest = latestManifest(app.repository);
  const files = manifest.artifacts.find((artifact) => artifact.source === 'files')!;
  const path = join(app.repository, files.path);
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  writeFileSync(path, bytes);
  const drill = await runCli(['-c', app.configPath, 'drill', '--json']);
  assert.equal(drill.code, 2);
  const outcome = JSON.parse(drill.stdout);
  const failed = outcome.results.find((result: { source: string }) => result.source === 'files');
  assert.equal(failed.ok, false);
  assert.match(failed.differences.join('\n'), new RegExp(files.path.replace(/[.]/g, '\\.')));
  assert.ok(outcome.results.find((result: { source: string }) => result.source === 'db').ok, 'the other sources still drilled');
  const announced = receiver.requests.map((request) => JSON.parse(request.body));
  const check = await runCli(['-c', app.configPath, 'check']);
  assert.equal(check.code, 2, check.stdout);
  assert.match(check.stdout, /^CRITICAL drill: the last restore drill \(set \S+, .* ago\) failed/m);
  assert.ok(announced.some((payload: { kind: string; event: { setId: string } }) => payload.kind === 'drill_failed' && payload.event.setId === manifest.setId), JSON.stringify(announced));
});

test('a truncated artifact fails the drill naming it', async (t) => {
  const app = makeSampleApp(tempDir(t));
  assert.equal((await runCli(['-c', app.configPath, 'backup'])).code, 0);
  const db = latestManifest(app.repository).artifacts.find((artifact) => artifact.source === 'db')!;
  const path = join(app.repository, db.path);
  truncateSync(path, statSync(path).size - 100);
  const drill = await runCli(['-c', app.configPath, 'drill']);
  assert.equal(drill.code, 2);
  assert.match(drill.stdout + drill.stderr, new RegExp(`db: .*${db.path.replace(/[.]/g, '\\.')}`));
});

describe_mysql();

function describe_mysql(): void {
  let server: PrivateMariadb;
  before(async () => {
    server = await startPrivateMariadb();
    await server.createDatabase('shop');
    await server.rootQuery(`
      CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, total DECIMAL(10,2), note VARCHAR(255)) ENGINE=InnoDB;
      INSERT INTO shop.orders (total, note) VALUES (1.5, REPEAT(MD5(RAND()), 7));
      CREATE VIEW shop.totals AS SELECT SUM(total) AS sum FROM shop.orders;
    `);
    for (let i = 0; i < 17; i++) await server.rootQuery(`INSERT INTO shop.orders (total, note) SELECT total, REPEAT(MD5(RAND()), 7) FROM shop.orders`);
  });
  after(async () => server?.stop());

  const scratchDatabases = async () =>
    (await server.rootQuery<{ SCHEMA_NAME: string }>(`SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'restorable\\_drill\\_%'`)).map((row) => row.SCHEMA_NAME);

  function mysqlConfig(root: string): string {
    const config = join(root, 'restorable.yml');
    writeFileSync(
      config,
      `app: shop\nrepository: ${join(root, 'backups')}\nsources:\n  db: { type: mysql, socket: ${server.socket}, user: root, database: shop }\nmonitor: { min_free: 1MB }\ndrill:\n  queries: [{ sql: "SELECT COUNT(*) FROM orders", min: 100000 }]\n`,
    );
    initRepositoryOf(config);
    return config;
  }

  test('mysql: the scratch database is compared (rows, row digests, objects, query) and dropped', async (t) => {
    const config = mysqlConfig(tempDir(t));
    assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
    const drill = await runCli(['-c', config, 'drill', '--json']);
    assert.equal(drill.code, 0, drill.stdout + drill.stderr);
    const [result] = JSON.parse(drill.stdout).results;
    assert.match(result.compared, /^1 table\(s\), 1 row digest\(s\), [2-9] object\(s\), 1 query/);
    assert.deepEqual(await scratchDatabases(), []);
  });

  test('mysql: a set made before row digests (CHECKSUM TABLE from its own snapshot) drills with a note, never a failure, when the checksum differs', async (t) => {
    const root = tempDir(t);
    const config = mysqlConfig(root);
    assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
    const path = join(root, 'backups', 'manifests', `${latestManifest(join(root, 'backups')).setId}.json`);
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    // As the older version wrote it: a checksum from a snapshot next to the dump's, which a write in between changed.
    const orders = manifest.artifacts[0].details.tables.orders;
    delete orders.rowDigest;
    orders.checksum = 12345;
    writeFileSync(path, JSON.stringify(manifest, null, 2));
    const drill = await runCli(['-c', config, 'drill', '--json']);
    assert.equal(drill.code, 0, drill.stdout + drill.stderr);
    const [result] = JSON.parse(drill.stdout).results;
    assert.match(result.compared, /^1 table\(s\), 0 row digest\(s\)/);
    assert.match(result.notes.join('\n'), /table orders: CHECKSUM TABLE \d+ after the restore, 12345 at backup time; not a failure/);
  });

  test('mysql: a drill killed mid-restore leaves a scratch database that the next drill drops', async (t) => {
    const config = mysqlConfig(tempDir(t));
    assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
    const { child, result } = startCli(['-c', config, 'drill']);
    for (let i = 0; i < 1000 && (await scratchDatabases()).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    child.kill('SIGKILL');
    await result;
    // SIGKILL gives no chance to clean up: this is what the next drill must deal with.
    const left = await scratchDatabases();
    const next = await runCli(['-c', config, 'drill']);
    assert.equal(next.code, 0, next.stdout + next.stderr);
    for (const name of left) assert.match(next.stdout, new RegExp(`dropped the scratch database ${name} an interrupted drill left behind`));
    assert.match(next.stdout, /took over the lock of a dead run/);
    assert.deepEqual(await scratchDatabases(), []);
  });

  test('mysql: SIGTERM mid-restore drops the scratch database before exiting 143 (128 + SIGTERM)', async (t) => {
    const config = mysqlConfig(tempDir(t));
    assert.equal((await runCli(['-c', config, 'backup'])).code, 0);
    const { child, result } = startCli(['-c', config, 'drill']);
    for (let i = 0; i < 1000 && (await scratchDatabases()).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    child.kill('SIGTERM');
    const outcome = await result;
    assert.equal(outcome.code, 143, outcome.stdout + outcome.stderr);
    assert.match(outcome.stderr, /interrupted by SIGTERM/);
    assert.deepEqual(await scratchDatabases(), []);
  });
}
