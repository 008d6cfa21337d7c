// `restore db` over a non-empty database (issue 10 §2): a safety set of the
// target is taken first, as a normal complete set that `restore db --set`
// puts back; a load that fails midway says the target was changed and gives
// that command, which really restores the database as it was. A safety set is
// listed (labelled), never `latest`, pushes no backup out of retention, and
// is removed once restore.keep_safety has passed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { startPrivateMariadb, type PrivateMariadb } from '../support/mariadb.ts';
import { createShopDatabase, writeShopConfig } from '../support/shop-database.ts';

let server: PrivateMariadb;
before(async () => {
  server = await startPrivateMariadb();
  await createShopDatabase(server);
});
after(async () => server?.stop());

function manifests(repository: string): Array<Record<string, any>> {
  return readdirSync(join(repository, 'manifests'))
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => JSON.parse(readFileSync(join(repository, 'manifests', name), 'utf8')));
}

async function backUp(config: string): Promise<void> {
  const result = await runCli(['-c', config, 'backup']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
}

/** What an operator would compare: every object with its kind, and each table's rows. */
async function describeDatabase(name: string): Promise<unknown> {
  const objects = await server.rootQuery(`SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME`, [name]);
  const routines = await server.rootQuery(`SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_NAME`, [name]);
  const rows: Record<string, unknown> = {};
  for (const table of objects as Array<{ name: string; type: string }>) {
    if (table.type === 'BASE TABLE') rows[table.name] = await server.rootQuery(`SELECT * FROM \`${name}\`.\`${table.name}\` ORDER BY 1`);
  }
  return { objects, routines, rows };
}

async function createLiveDatabase(name: string): Promise<void> {
  await server.createDatabase(name);
  await server.rootQuery(`
    CREATE TABLE \`${name}\`.orders (id INT PRIMARY KEY, customer VARCHAR(100), total DECIMAL(10,2));
    INSERT INTO \`${name}\`.orders VALUES (1, 'Müller', 19.99), (2, 'Øster', 5.00), (3, 'Smith', 120.50);
    CREATE TABLE \`${name}\`.products (id INT PRIMARY KEY, title VARCHAR(200), image BLOB);
    INSERT INTO \`${name}\`.products VALUES (7, 'live only', NULL);
    CREATE VIEW \`${name}\`.big_orders AS SELECT id, total FROM \`${name}\`.orders WHERE total > 10;
    CREATE FUNCTION \`${name}\`.double_it(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
  `);
}

/** Replaces the set's artifact with SQL that changes the target and then fails (the file itself is intact). */
function breakArtifactMidway(repository: string): void {
  const [manifest] = manifests(repository);
  const manifestPath = join(repository, 'manifests', `${manifest!.setId}.json`);
  const sql =
    'DROP TABLE IF EXISTS `products`;\nCREATE TABLE `products` (id INT PRIMARY KEY, title VARCHAR(200), image BLOB);\n' +
    "INSERT INTO `products` VALUES (1, 'from the set', NULL);\nDROP TABLE IF EXISTS `orders`;\nINSERT INTO no_such_table VALUES (1);\n-- Dump completed\n";
  const broken = gzipSync(sql);
  writeFileSync(join(repository, manifest!.artifacts[0].path), broken);
  manifest!.artifacts[0].sha256 = createHash('sha256').update(broken).digest('hex');
  manifest!.artifacts[0].sizeBytes = broken.length;
  writeFileSync(manifestPath, JSON.stringify(manifest));
}

test('a load that fails midway into a non-empty database: the message says it was changed and names the safety set; that command restores it exactly', async (t) => {
  const root = tempDir(t);
  const repository = join(root, 'backups');
  const config = writeShopConfig(root, server);
  await backUp(config);
  await createLiveDatabase('live');
  const before = await describeDatabase('live');
  breakArtifactMidway(repository);

  const failed = await runCli(['-c', config, 'restore', 'db', '--into', 'live', '--yes']);
  assert.equal(failed.code, 2, failed.stdout + failed.stderr);
  const safety = manifests(repository).find((manifest) => manifest.safety);
  assert.ok(safety, 'a safety set was written');
  assert.equal(safety.safety.of, 'live');
  const command = `restorable -c ${config} restore db --set ${safety.setId} --into live --yes`;
  assert.match(failed.stderr, /ERROR 1146/);
  assert.ok(failed.stderr.includes(`the target was changed; it is restorable from safety set ${safety.setId}: ${command}`), failed.stderr);
  assert.notDeepEqual(await describeDatabase('live'), before, 'the failed load did change the target');

  const back = await runCli(command.split(' ').slice(1));
  assert.equal(back.code, 0, back.stdout + back.stderr);
  assert.match(back.stdout, /is the safety set of live: putting it back, without a new safety set/);
  assert.deepEqual(await describeDatabase('live'), before, 'the database is back as it was, rows, view and function included');
  assert.deepEqual(await server.rootQuery('SELECT live.double_it(21) AS n'), [{ n: 42 }]);
  assert.equal(manifests(repository).filter((manifest) => manifest.safety).length, 1);
});

test('a refused restore (no statement sent) says nothing was changed and takes no safety set; a successful one names its safety set', async (t) => {
  const root = tempDir(t);
  const repository = join(root, 'backups');
  const config = writeShopConfig(root, server);
  await backUp(config);
  await createLiveDatabase('live2');
  const [manifest] = manifests(repository);
  const manifestPath = join(repository, 'manifests', `${manifest!.setId}.json`);
  const original = readFileSync(manifestPath, 'utf8');
  manifest!.artifacts[0].details.maxStatementBytes = 2 * 1024 * 1024 * 1024;
  writeFileSync(manifestPath, JSON.stringify(manifest));
  const refused = await runCli(['-c', config, 'restore', 'db', '--into', 'live2', '--yes']);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /nothing was changed/);
  assert.equal(manifests(repository).length, 1, 'no safety set');

  writeFileSync(manifestPath, original);
  const restored = await runCli(['-c', config, 'restore', 'db', '--into', 'live2', '--yes']);
  assert.equal(restored.code, 0, restored.stdout + restored.stderr);
  const safety = manifests(repository).find((entry) => entry.safety);
  assert.ok(safety);
  assert.match(restored.stdout, new RegExp(`the database as it was before is safety set ${safety.setId}`));
  assert.deepEqual(await server.rootQuery('SELECT title FROM live2.products ORDER BY id'), [{ title: 'Kaffee ☕' }, { title: 'Tee' }]);
});

test('a safety set is listed and labelled, never `latest`, pushes no backup out, and is pruned once restore.keep_safety has passed', async (t) => {
  const root = tempDir(t);
  const repository = join(root, 'backups');
  const config = writeShopConfig(root, server, 'retention: { last: 1 }\nrestore: { keep_safety: 36h }\n');
  await backUp(config);
  const [backup] = manifests(repository);
  await createLiveDatabase('live3');
  const restored = await runCli(['-c', config, 'restore', 'db', '--into', 'live3', '--yes']);
  assert.equal(restored.code, 0, restored.stdout + restored.stderr);
  const safety = manifests(repository).find((manifest) => manifest.safety)!;
  assert.ok(safety.setId > backup!.setId, 'the safety set is the newest set on disk');
  const keptMs = Date.parse(safety.safety.expiresAt) - Date.parse(safety.finishedAt);
  assert.ok(Math.abs(keptMs - 36 * 3600_000) < 1000, `expires restore.keep_safety after it was taken (${keptMs} ms)`);

  const list = await runCli(['-c', config, 'list']);
  assert.match(list.stdout, new RegExp(`^${safety.setId} .*SAFETY COPY of live3 \\(taken before restoring ${backup!.setId} over it`, 'm'));
  // `latest` is the backup, not the safety set.
  const latest = await runCli(['-c', config, 'restore', 'db', '--into', 'shop_latest', '--json']);
  assert.equal(latest.code, 0, latest.stderr);
  assert.equal(JSON.parse(latest.stdout).setId, backup!.setId);
  const check = await runCli(['-c', config, 'check']);
  assert.match(check.stdout, new RegExp(`newest set ${backup!.setId}`));

  const early = await runCli(['-c', config, 'prune']);
  assert.equal(early.code, 0, early.stderr);
  assert.deepEqual(manifests(repository).map((manifest) => manifest.setId), [backup!.setId, safety.setId], 'retention last: 1 keeps the backup; the young safety set stays');
  assert.match(early.stdout, /safety copy of live3 until/);

  // 36 hours later, as far as the safety set is concerned.
  const safetyPath = join(repository, 'manifests', `${safety.setId}.json`);
  writeFileSync(safetyPath, JSON.stringify({ ...safety, safety: { ...safety.safety, expiresAt: new Date(Date.now() - 1000).toISOString() } }));
  const late = await runCli(['-c', config, 'prune']);
  assert.equal(late.code, 0, late.stderr);
  assert.deepEqual(manifests(repository).map((manifest) => manifest.setId), [backup!.setId], 'the expired safety set is gone, the backup stays');
  assert.equal(readdirSync(join(repository, 'db')).filter((name) => name.includes(safety.setId)).length, 0, 'its artifact is gone too');
});
