// The GRANT statements restorable prints must run as they are: they name the
// account as CURRENT_USER() reports it (`laravel@127.0.0.1` -> 'laravel'@'127.0.0.1',
// never a guessed @'%', which fails with ERROR 1133 when no such account
// exists), and for the databases restorable makes up (restore targets, drill
// scratch databases) the pattern of all such names, not one name with a
// timestamp or PID in it. EXECUTE is asked for only when a view needs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseGrantTarget, grantPatternMatches, grantStatement, missingDumpPrivileges, parseServerVersion, recommendedGrants } from '../../src/sources/mysql-privileges.ts';

const MARIADB_10_11 = parseServerVersion('10.11.19-MariaDB-0+deb12u1');

test('a GRANT names the account as the server matched it', () => {
  assert.equal(grantStatement(['EXECUTE'], '`shop`.*', 'laravel@127.0.0.1'), "GRANT EXECUTE ON `shop`.* TO 'laravel'@'127.0.0.1';");
  assert.equal(grantStatement(['ALL'], '`shop`.*', "o'brien@%"), "GRANT ALL ON `shop`.* TO 'o''brien'@'%';");
});

test('databases restorable makes up are granted by pattern; other names exactly, wildcards escaped', () => {
  const cases: Array<[string, string]> = [
    ['restorable_drill_bc04ea9f_20261203075344_26792', '`restorable\\_drill\\_%`.*'],
    ['restorable_drill_20260131030000_4242', '`restorable\\_drill\\_%`.*'],
    ['shop_restored_20260131030000', '`shop\\_restored\\_%`.*'],
    ['my_shop', '`my\\_shop`.*'],
    ['100%', '`100\\%`.*'],
  ];
  for (const [database, target] of cases) {
    assert.equal(databaseGrantTarget(database), target, database);
    // The pattern still covers the database it was made for...
    assert.ok(grantPatternMatches(target.slice(1, -3), database), `${target} covers ${database}`);
  }
  // ...and the drill's and restore's next names, but not the application's own database.
  assert.ok(grantPatternMatches('restorable\\_drill\\_%', 'restorable_drill_ffff0000_20270101000000_1'));
  assert.ok(grantPatternMatches('shop\\_restored\\_%', 'shop_restored_20270101000000'));
  assert.ok(!grantPatternMatches('shop\\_restored\\_%', 'shop'));
  assert.ok(!grantPatternMatches('my\\_shop', 'myXshop'));
});

test('EXECUTE is missing only when a view calls a function and the account may not execute it', () => {
  const base = {
    database: 'reports',
    account: 'laravel@127.0.0.1',
    server: MARIADB_10_11,
    procTableReadable: true,
    viewsWithoutShowView: [],
    routines: [],
  };
  const withoutExecute = ["GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON `reports`.* TO `laravel`@`127.0.0.1`"];
  assert.deepEqual(missingDumpPrivileges({ ...base, grantLines: withoutExecute, viewsNeedingExecute: [] }), []);
  const [missing, ...more] = missingDumpPrivileges({ ...base, grantLines: withoutExecute, viewsNeedingExecute: ['taxed'] });
  assert.deepEqual(more, []);
  assert.equal(missing!.privilege, 'EXECUTE');
  assert.equal(missing!.silentLoss, false);
  assert.match(missing!.reason, /view `taxed` calls a stored function/);
  assert.equal(missing!.grant, "GRANT EXECUTE ON `reports`.* TO 'laravel'@'127.0.0.1';");
  const withExecute = ["GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE ON `reports`.* TO `laravel`@`127.0.0.1`"];
  assert.deepEqual(missingDumpPrivileges({ ...base, grantLines: withExecute, viewsNeedingExecute: ['taxed'] }), []);
});

test('the recommended grants are the documented backup block', () => {
  assert.equal(
    recommendedGrants('shop', 'laravel@127.0.0.1', MARIADB_10_11),
    "GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE ON `shop`.* TO 'laravel'@'127.0.0.1'; GRANT SELECT ON `mysql`.`proc` TO 'laravel'@'127.0.0.1';",
  );
});

test('docs/privileges.md carries the same backup GRANTs the pre-flight recommends', async () => {
  const { readFileSync } = await import('node:fs');
  const doc = readFileSync(new URL('../../docs/privileges.md', import.meta.url), 'utf8');
  const block = /<!-- laravel-grants -->\s*```sql\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  for (const statement of recommendedGrants('shop', 'laravel@127.0.0.1', MARIADB_10_11).split('; ').map((line) => line.replace(/;?$/, ';'))) {
    assert.ok(block.includes(statement), `the Laravel block has: ${statement}`);
  }
  assert.ok(block.includes(grantStatement(['ALL'], databaseGrantTarget('restorable_drill_00000000_20260101000000_1'), 'laravel@127.0.0.1')));
  assert.ok(block.includes(grantStatement(['ALL'], databaseGrantTarget('shop_restored_20260101000000'), 'laravel@127.0.0.1')));
});
