// What redaction removes and what it leaves: known secret values anywhere
// (also percent-encoded), and the values of secret-shaped text (--password=,
// DB_PASSWORD=, user:pw@ in URLs, ?token=, Authorization headers, JSON
// "password" fields), while the words around them stay readable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRedactor } from '../../src/notify/redact.ts';

test('known secrets vanish wherever they appear, also percent-encoded; short values are left alone', () => {
  const redact = createRedactor(['Tr0ub4dor&3', 'abc', undefined]);
  assert.equal(redact.text('connecting with Tr0ub4dor&3 failed'), 'connecting with [redacted] failed');
  assert.equal(redact.text('GET /x?p=Tr0ub4dor%263'), 'GET /x?p=[redacted]');
  assert.equal(redact.text('abc is too short to be hunted'), 'abc is too short to be hunted');
});

test('secret-shaped text loses its value and keeps its name', () => {
  const redact = createRedactor([]);
  const cases: Array<[string, string]> = [
    ['mysqldump --user=backup --password=s3cr3t db', 'mysqldump --user=backup --password=[redacted] db'],
    ['DB_PASSWORD=hunter22 in .env', 'DB_PASSWORD=[redacted] in .env'],
    ["PGPASSWORD='quoted value' pg_dump", 'PGPASSWORD=[redacted] pg_dump'],
    ['MYSQL_PWD=x1y2z3', 'MYSQL_PWD=[redacted]'],
    ['s3 failed: https://AKIA:wJalrXUtnFEMI@s3.example.com/bucket', 's3 failed: https://AKIA:[redacted]@s3.example.com/bucket'],
    ['POST https://ntfy.example/topic?auth=tk_abcdef&x=1', 'POST https://ntfy.example/topic?auth=[redacted]&x=1'],
    ['GET /obj?X-Amz-Signature=deadbeef&X-Amz-Date=1', 'GET /obj?X-Amz-Signature=[redacted]&X-Amz-Date=1'],
    ['Authorization: Bearer eyJhbGciOi.payload.sig', 'Authorization: Bearer [redacted]'],
    ['{"user":"backup","password":"p@ss"}', '{"user":"backup","password":"[redacted]"}'],
    ['api_key=0123456789', 'api_key=[redacted]'],
  ];
  for (const [input, expected] of cases) assert.equal(redact.text(input), expected, input);
});

test('ordinary error text is left as it is', () => {
  const redact = createRedactor(['SomeSecret1']);
  for (const text of [
    "Access denied for user 'backup'@'localhost' (using password: YES)",
    'grant SHOW VIEW to backup@localhost',
    'the disk is full: no space left on device while writing /var/backups/askproai/db/db_backup_2026-02-01_03-00-00.sql.gz.partial',
    'https://hc-ping.com/ is reachable',
  ]) {
    assert.equal(redact.text(text), text);
  }
});

test('deep redaction copies plain data and redacts every string in it', () => {
  const redact = createRedactor(['N0tInMail!']);
  const event = { kind: 'backup_failed', error: { message: 'x N0tInMail! y', details: ['a', '--password=zzz'] }, count: 3, flag: true };
  const safe = redact.deep(event);
  assert.deepEqual(safe, { kind: 'backup_failed', error: { message: 'x [redacted] y', details: ['a', '--password=[redacted]'] }, count: 3, flag: true });
  assert.equal(event.error.message, 'x N0tInMail! y', 'the original is untouched');
});
