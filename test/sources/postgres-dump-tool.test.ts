// pg_dump is chosen against the server: an older major than the server's is a clear
// refusal naming what was found and what to install; versions parse as PostgreSQL
// numbers them (server_version_num), before and after 10.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPgDump, majorOf, majorText, parseToolVersion, pgDumpArguments } from '../../src/sources/postgres-dump-tool.ts';
import { tempDir } from '../support/temp.ts';

function fakeTool(dir: string, name: string, versionLine: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho '${versionLine}'\n`);
  chmodSync(path, 0o755);
  return path;
}

test('versions: 15.20 -> 150020, 9.6.24 -> 90624; majors compare as the server numbers them', () => {
  assert.equal(parseToolVersion('pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)'), 150020);
  assert.equal(parseToolVersion('pg_dump (PostgreSQL) 17beta1'), 170000);
  assert.equal(parseToolVersion('pg_dump (PostgreSQL) 9.6.24'), 90624);
  assert.equal(parseToolVersion('mysqldump  Ver 8.0'), 0);
  assert.equal(majorOf(150020), 150000);
  assert.equal(majorOf(90624), 90600);
  assert.deepEqual([majorText(160004), majorText(90624)], ['16', '9.6']);
});

test('a configured pg_dump older than the server is refused with what to install; a newer one is used', async (t) => {
  const dir = tempDir(t);
  const old = fakeTool(dir, 'pg_dump_old', 'pg_dump (PostgreSQL) 13.9');
  await assert.rejects(findPgDump(old, 150020, 'db'), (error: Error & { code: string; remedy: string }) => {
    assert.equal(error.code, 'DUMP_TOOL_TOO_OLD');
    assert.match(error.message, /no pg_dump of PostgreSQL 15 or newer was found for a 15 server \(found: .*pg_dump_old 13\)/);
    assert.match(error.remedy, /postgresql-client-15/);
    return true;
  });
  const newer = fakeTool(dir, 'pg_dump_new', 'pg_dump (PostgreSQL) 16.4');
  assert.equal((await findPgDump(newer, 150020, 'db')).versionNum, 160004);
  assert.equal((await findPgDump(old, 130002, 'db')).path, old, 'the same major as the server is fine');
  await assert.rejects(findPgDump(join(dir, 'missing'), 150020, 'db'), { code: 'DUMP_TOOL_MISSING' });
  await assert.rejects(findPgDump(fakeTool(dir, 'not_pg_dump', 'mysqldump  Ver 8.0'), 150020, 'db'), /is not pg_dump/);
});

test('pg_dump on PATH is used when new enough; the arguments name no database and carry no credentials', async (t) => {
  const dir = tempDir(t);
  fakeTool(dir, 'pg_dump', 'pg_dump (PostgreSQL) 15.20');
  const found = await findPgDump(undefined, 140010, 'db', { PATH: dir });
  assert.equal(found.path, join(dir, 'pg_dump'));
  const args = pgDumpArguments('00000003-00000002-1');
  assert.ok(args.includes('--snapshot=00000003-00000002-1'));
  assert.ok(args.includes('--no-owner') && args.includes('--format=plain'));
  assert.equal(args.some((arg) => /^--(create|dbname|password|host|username)|^-[CdWhU]$/.test(arg)), false);
});
