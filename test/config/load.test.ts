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
  assert.match(errorOf(`app: a\nsources:\n  db: { type: oracle }\n`).message, /sources.db.type: expected one of "mysql", "sqlite", "files", got "oracle"/);
});

test('YAML syntax errors carry the line', () => {
  assert.match(errorOf(`app: a\nsources:\n  files: { type: files, paths: [/srv]\n`).message, /^restorable.yml:\d+: /);
});

test('defaults: the seed repository path, retention 14/4/3, monitor 26h/48h, gzip 6', () => {
  const loaded = parseConfigText(`app: askproai\n${validSources}`, '/etc/restorable/restorable.yml');
  assert.equal(loaded.repositoryPath, '/var/backups/askproai');
  assert.deepEqual(loaded.config.retention, { daily: 14, weekly: 4, monthly: 3, timezone: 'UTC', make_space: false });
  assert.equal(loaded.config.monitor.warn_after, '26h');
  assert.equal(loaded.config.monitor.critical_after, '48h');
  assert.equal(loaded.config.compression.level, 6);
});

test('a relative repository is resolved against the config file directory', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'r.yml'), `app: a\nrepository: backups\n${validSources}`);
  assert.equal(loadConfig(join(dir, 'r.yml')).repositoryPath, join(dir, 'backups'));
});
