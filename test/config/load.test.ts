// Config loading: every mistake is reported with file, line and field, and
// what was expected; unknown keys are errors; defaults are applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText, loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { tempDir } from '../support/temp.ts';

function errorOf(yaml: string): ConfigError {
  try {
    parseConfigText(yaml, 'restorable.yml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  assert.fail('the config was accepted');
}

const validSources = `sources:\n  files: { type: files, paths: [/srv/app] }\n`;

test('a wrong type names file, line and field, and what was expected', () => {
  const error = errorOf(`app: shop\nrepository: /tmp/r\nsources:\n  db:\n    type: mysql\n    port: 33o6\n    database: shop\n`);
  assert.equal(error.message, 'restorable.yml:6 sources.db.port: expected a number, got "33o6"');
  assert.equal(error.exitCode, 2);
});

test('an unknown key is an error pointing at its own line', () => {
  const error = errorOf(`app: shop\n${validSources}retention:\n  daily: 14\n  wekly: 4\n`);
  assert.match(error.message, /^restorable.yml:6 retention: unknown key "wekly"/);
});

test('a missing required field is named', () => {
  const error = errorOf(validSources);
  assert.match(error.message, /^restorable.yml(:\d+)? app: required/);
});

test('every problem is listed, not only the first', () => {
  const error = errorOf(`app: shop\nsources:\n  files: { type: files, paths: [/srv] , bogus: 1}\nparallel: 0\n`);
  const all = [error.message, ...error.details].join('\n');
  assert.match(all, /sources.files: unknown key "bogus"/);
  assert.match(all, /parallel: expected number to be >=1, got 0/);
});

test('relative file paths, bad durations and a wrong source type are refused', () => {
  assert.match(errorOf(`app: a\nsources:\n  files: { type: files, paths: [relative/dir] }\n`).message, /restorable.yml:3 sources.files.paths.0: expected an absolute path, got "relative\/dir"/);
  assert.match(errorOf(`app: a\n${validSources}monitor: { warn_after: 26 hours }\n`).message, /monitor.warn_after: .*expected a duration such as "26h"/);
  assert.match(errorOf(`app: a\nsources:\n  db: { type: oracle }\n`).message, /sources.db.type: expected one of "mysql", "postgres", "sqlite", "files", got "oracle"/);
});

test('YAML syntax errors carry the line', () => {
  assert.match(errorOf(`app: a\nsources:\n  files: { type: files, paths: [/srv]\n`).message, /^restorable.yml:\d+: /);
});

test('defaults: the seed repository path, retention 14/4/3, monitor 26h/48h, gzip 4', () => {
  const loaded = parseConfigText(`app: askproai\n${validSources}`, '/etc/restorable/restorable.yml');
  assert.equal(loaded.repositoryPath, '/var/backups/askproai');
  assert.deepEqual(loaded.config.retention, { daily: 14, weekly: 4, monthly: 3, timezone: 'UTC', make_space: false });
  assert.equal(loaded.config.monitor.warn_after, '26h');
  assert.equal(loaded.config.monitor.critical_after, '48h');
  assert.deepEqual(loaded.config.compression, { algorithm: 'gzip', level: 4, database_level: 7, store_incompressible: true, min_savings: 0.03 });
});

test('compression: the shorthand `zstd` or `gzip` is the algorithm with its own default level', () => {
  const zstd = parseConfigText(`app: a\n${validSources}compression: zstd\n`, 'restorable.yml').config.compression;
  assert.deepEqual(zstd, { algorithm: 'zstd', level: 3, database_level: 3, store_incompressible: true, min_savings: 0.03 });
  const gzip = parseConfigText(`app: a\n${validSources}compression: gzip\n`, 'restorable.yml').config.compression;
  assert.deepEqual(gzip, { algorithm: 'gzip', level: 4, database_level: 7, store_incompressible: true, min_savings: 0.03 });
});

test('compression: the object form takes algorithm, level, workers and the gzip-only settings', () => {
  const zstd = parseConfigText(`app: a\n${validSources}compression: { algorithm: zstd, level: 19, workers: 4 }\n`, 'restorable.yml').config.compression;
  assert.deepEqual(zstd, { algorithm: 'zstd', level: 19, database_level: 19, workers: 4, store_incompressible: true, min_savings: 0.03 });
  const gzip = parseConfigText(`app: a\n${validSources}compression:\n  level: 9\n  store_incompressible: false\n  min_savings: 0.1\n`, 'restorable.yml').config.compression;
  assert.deepEqual(gzip, { algorithm: 'gzip', level: 9, database_level: 9, store_incompressible: false, min_savings: 0.1 });
});

test('compression: a zstd level with gzip, a level out of range, an unknown algorithm are errors naming the field', () => {
  const gzip12 = errorOf(`app: a\n${validSources}compression: { algorithm: gzip, level: 12 }\n`);
  assert.match(gzip12.message, /^restorable.yml:4 compression.level: expected a gzip level 1-9 .*got 12$/);
  assert.equal(gzip12.exitCode, 2);
  // gzip is the default algorithm: a bare level 12 is the same mistake.
  assert.match(errorOf(`app: a\n${validSources}compression:\n  level: 12\n`).message, /^restorable.yml:5 compression.level: expected a gzip level 1-9/);
  assert.match(errorOf(`app: a\n${validSources}compression: { algorithm: zstd, level: 20 }\n`).message, /compression.level: expected a level 1-9 for gzip, 1-19 for zstd, got 20/);
  assert.match(errorOf(`app: a\n${validSources}compression: { algorithm: brotli }\n`).message, /compression.algorithm: expected one of "gzip", "zstd", got "brotli"/);
  assert.match(errorOf(`app: a\n${validSources}compression: brotli\n`).message, /compression: expected "gzip", "zstd" or \{ algorithm, level, .*got "brotli"/);
});

test('a relative repository is resolved against the config file directory', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'r.yml'), `app: a\nrepository: backups\n${validSources}`);
  assert.equal(loadConfig(join(dir, 'r.yml')).repositoryPath, join(dir, 'backups'));
});
