// The CLI contract: exit codes, global options anywhere, --json, and errors
// for people (what, where, next step) with no stack traces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/temp.ts';

const noStack = /\n\s+at .*:\d+:\d+/;

test('a bad config exits 2, naming line and field, without a stack trace', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'restorable.yml');
  writeFileSync(config, 'app: shop\nsources:\n  db:\n    type: mysql\n    database: shop\n    port: "33o6"\n');
  const result = await runCli(['config', 'validate', '-c', config], { cwd: dir });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /restorable.yml:6 sources.db.port: expected a number, got "33o6"/);
  assert.doesNotMatch(result.stderr, noStack);
});

test('global options work before and after the command; --json gives data', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'x.yml');
  writeFileSync(config, `app: shop\nrepository: ${dir}/repo\nsources:\n  config: { type: files, paths: [${dir}] }\n`);
  const before = await runCli(['-c', config, '--json', 'config', 'validate']);
  const after = await runCli(['config', 'validate', '--json', '-c', config]);
  assert.equal(before.code, 0, before.stderr);
  assert.deepEqual(JSON.parse(before.stdout), JSON.parse(after.stdout));
  assert.equal(JSON.parse(before.stdout).valid, true);
});

test('RESTORABLE_CONFIG is used when -c is absent; a missing config says where it looked', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'env.yml');
  writeFileSync(config, `app: viaenv\nrepository: ${dir}/repo\nsources:\n  config: { type: files, paths: [${dir}] }\n`);
  const viaEnv = await runCli(['config', 'validate', '--json'], { env: { RESTORABLE_CONFIG: config }, cwd: dir });
  assert.equal(JSON.parse(viaEnv.stdout).job, 'viaenv');
  const none = await runCli(['list'], { env: { RESTORABLE_CONFIG: '' }, cwd: dir });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no configuration found/);
  assert.match(none.stderr, /next: pass -c FILE/);
});

test('an unknown command or option is a usage error (exit 2)', async () => {
  assert.equal((await runCli(['bogus'])).code, 2);
  const badOption = await runCli(['backup', '--bogus']);
  assert.equal(badOption.code, 2);
  assert.match(badOption.stderr, /unknown option '--bogus'/);
});

test('config schema prints a JSON Schema that knows every source type', async () => {
  const result = await runCli(['config', 'schema']);
  assert.equal(result.code, 0);
  const schema = JSON.parse(result.stdout);
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.match(JSON.stringify(schema), /"mysql".*"sqlite".*"files"/s);
});

test('init --laravel writes a config that validates', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, '.env'), `APP_NAME="My Shop"\nDB_CONNECTION=sqlite\nDB_DATABASE=${dir}/database.sqlite\n`);
  const target = join(dir, 'restorable.yml');
  const init = await runCli(['init', '--laravel', dir, '-o', target, '--repository', join(dir, 'backups')]);
  assert.equal(init.code, 0, init.stderr);
  const validate = await runCli(['config', 'validate', '--json', '-c', target]);
  assert.equal(validate.code, 0, validate.stderr);
  const parsed = JSON.parse(validate.stdout);
  assert.equal(parsed.job, 'my-shop');
  assert.deepEqual(parsed.sources.map((s: { type: string }) => s.type), ['sqlite', 'files', 'files']);
  assert.equal((await runCli(['init', '--laravel', dir, '-o', target, '--repository', join(dir, 'backups')])).code, 2, 'refuses to overwrite');
});
