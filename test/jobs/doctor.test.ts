// `restorable doctor` against a private MariaDB, through the real CLI: an
// account without SHOW VIEW and TRIGGER (critical, with the GRANT as the
// server names the account), a database nobody listens for, a PATH without
// zstd and the dump tool; a healthy setup is all OK (exit 0).
// The repository's faults are in doctor-repository.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { startPrivateMariadb, type PrivateMariadb } from '../support/mariadb.ts';
import { freeLoopbackPort } from '../support/loopback-port.ts';
import { doctor, finding, init, writeConfig } from '../support/doctor-run.ts';

let server: PrivateMariadb;

before(async () => {
  server = await startPrivateMariadb();
  await server.createDatabase('shop');
  await server.rootQuery(`
    CREATE TABLE shop.orders (id INT PRIMARY KEY, total DECIMAL(10,2)) ENGINE=InnoDB;
    INSERT INTO shop.orders VALUES (1, 9.99);
    CREATE VIEW shop.totals AS SELECT SUM(total) AS total FROM shop.orders;
    CREATE USER 'full'@'%' IDENTIFIED BY 'pw';
    GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE, LOCK TABLES ON shop.* TO 'full'@'%';
    GRANT SELECT ON mysql.proc TO 'full'@'%';
    GRANT ALL ON \`shop\\_restored\\_%\`.* TO 'full'@'%';
    GRANT ALL ON \`restorable\\_drill\\_%\`.* TO 'full'@'%';
    GRANT SET USER ON *.* TO 'full'@'%';
    CREATE USER 'weak'@'%' IDENTIFIED BY 'pw';
    GRANT SELECT, EVENT, LOCK TABLES ON shop.* TO 'weak'@'%';
  `);
});
after(async () => server?.stop());

function mysqlSection(user: string, port = server.port): string {
  return `{ type: mysql, host: 127.0.0.1, port: ${port}, database: shop, user: ${user}, password_env: DOCTOR_TEST_PW }`;
}

test('a healthy setup: every finding ok or skipped with its reason, exit 0', async (t) => {
  const setup = writeConfig(tempDir(t), { db: mysqlSection('full') });
  await init(setup.config);
  const { code, report } = await doctor(setup.config);
  const problems = report.findings.filter((entry) => entry.status === 'warning' || entry.status === 'critical');
  assert.deepEqual(problems, []);
  assert.equal(code, 0);
  assert.equal(report.status, 'OK');
  assert.match(finding(report, 'source db').found, /mariadb-dump .*Distrib .*server 10\.\d+.* as full@%/s);
  assert.equal(finding(report, 'source db: restore').status, 'ok');
  assert.equal(finding(report, 'source db: drill').status, 'ok');
  assert.equal(finding(report, 'repository initialised').status, 'ok');
  assert.match(finding(report, 'destination round trip (local repository ' + setup.repository + ')').found, /wrote, read back and removed/);
  for (const skipped of report.findings.filter((entry) => entry.status === 'skipped')) assert.match(skipped.found, /\S{10,}/, 'a skipped finding says why');

});

test('an account without SHOW VIEW and TRIGGER: critical, with the GRANT naming the account as the server does', async (t) => {
  const setup = writeConfig(tempDir(t), { db: mysqlSection('weak') });
  await init(setup.config);
  const { code, report } = await doctor(setup.config);
  assert.equal(code, 2);
  const db = finding(report, 'source db');
  assert.equal(db.status, 'critical');
  assert.match(db.found, /weak@% lacks SHOW VIEW, TRIGGER/);
  assert.match(db.remedy!, /GRANT SHOW VIEW ON `shop`\.\* TO 'weak'@'%';/);
  assert.match(db.remedy!, /GRANT TRIGGER ON `shop`\.\* TO 'weak'@'%';/);
  assert.equal(finding(report, 'source files').status, 'ok', 'the other sources are still examined');
});

test('a database nobody listens for: critical, naming the endpoint and what to check', async (t) => {
  const port = await freeLoopbackPort();
  const setup = writeConfig(tempDir(t), { db: mysqlSection('full', port) });
  await init(setup.config);
  const { code, report } = await doctor(setup.config);
  assert.equal(code, 2);
  const db = finding(report, 'source db');
  assert.equal(db.status, 'critical');
  assert.match(db.found, new RegExp(`127\\.0\\.0\\.1:${port}`));
  assert.ok(db.remedy && db.remedy.length > 10, `a remedy: ${db.remedy}`);
});

test('a PATH without zstd and the dump tool: each missing tool is critical with how to install it', async (t) => {
  const base = tempDir(t);
  const setup = writeConfig(base, { db: mysqlSection('full'), compression: 'zstd' });
  await init(setup.config);
  const bin = join(base, 'bin');
  mkdirSync(bin);
  for (const program of ['getfattr', 'setfattr', 'tar', 'gzip']) {
    const path = execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim();
    symlinkSync(path, join(bin, program));
  }
  const { code, report } = await doctor(setup.config, { PATH: bin });
  assert.equal(code, 2);
  const zstd = finding(report, 'tool zstd');
  assert.equal(zstd.status, 'critical');
  assert.match(zstd.found, /zstd is not installed/);
  assert.match(zstd.remedy!, /apt-get install zstd/);
  const db = finding(report, 'source db');
  assert.equal(db.status, 'critical');
  assert.match(db.found, /mariadb-dump|mysqldump|dump tool/);
  assert.match(db.remedy!, /apt-get install mariadb-client/);
  assert.equal(finding(report, 'tool tar').status, 'ok');
});
