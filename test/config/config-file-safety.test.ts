// The configuration is code (issue 11 §1): a config file, or the env_file,
// password_file or dump_tool it names, that another user can change (group-
// or other-writable, or owned by a non-root user other than restorable's) is
// refused as sshd's StrictModes refuses it, naming the file, owner, mode and
// fix, exit 2; --allow-insecure-config turns that into a loud warning.
// Tests run as root: files are given away to uid 65534 (nobody) with chown.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { loadConfig } from '../../src/config/load.ts';
import { findInsecureConfigPaths } from '../../src/config/config-file-safety.ts';
import { ConfigError } from '../../src/core/errors.ts';

const NOBODY = 65534;

function setup(t: Parameters<typeof tempDir>[0]) {
  const root = tempDir(t, 'restorable-safety-');
  const app = join(root, 'app');
  mkdirSync(app, { mode: 0o755 });
  const envPath = join(app, '.env');
  writeFileSync(envPath, 'DB_CONNECTION=sqlite\nDB_DATABASE=database/app.sqlite\n', { mode: 0o600 });
  const config = join(root, 'restorable.yml');
  writeFileSync(config, `app: shop\nrepository: ${join(root, 'backups')}\nsources:\n  db: { type: sqlite, env_file: ${envPath} }\n`, { mode: 0o600 });
  return { root, app, envPath, config };
}

function refusal(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail('the configuration was accepted');
}

describe('config file safety (loadConfig)', () => {
  test('a private config and .env in a mkdtemp dir under /tmp (1777, sticky) pass', (t) => {
    const { config } = setup(t);
    assert.deepEqual(loadConfig(config).insecurePaths, []);
  });

  test('a group-writable config file is refused, naming file, owner, mode and the fix', (t) => {
    const { config } = setup(t);
    chmodSync(config, 0o664);
    const error = refusal(() => loadConfig(config));
    assert.equal(error.code, 'CONFIG_INSECURE');
    assert.equal(error.exitCode, 2);
    assert.match(error.message, new RegExp(`${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(the configuration\\): file owned by root \\(uid 0\\), mode 0664: writable by its group; fix: chmod go-w`));
    assert.match(error.remedy ?? '', /--allow-insecure-config/);
  });

  test('an env_file owned by another non-root user is refused with `chown root`', (t) => {
    const { config, envPath } = setup(t);
    chownSync(envPath, NOBODY, NOBODY);
    const error = refusal(() => loadConfig(config));
    assert.match(error.message, /\(sources\.db\.env_file\): file owned by nobody \(uid 65534\), mode 0600: owned by nobody \(uid 65534\), neither root nor the user restorable runs as; fix: chown root /);
  });

  test('a directory above the file that others can write is refused (they could swap the file)', (t) => {
    const { config, app } = setup(t);
    chmodSync(app, 0o777);
    const error = refusal(() => loadConfig(config));
    assert.match(error.message, /app \(directory of sources\.db\.env_file\): directory owned by root \(uid 0\), mode 0777: writable by group and others; fix: chmod go-w /);
  });

  test('a sticky world-writable directory owned by root is accepted (as /tmp), not one owned by someone else', (t) => {
    const { config, app } = setup(t);
    chmodSync(app, 0o1777);
    assert.deepEqual(loadConfig(config).insecurePaths, []);
    chownSync(app, NOBODY, NOBODY);
    assert.match(refusal(() => loadConfig(config)).message, /directory owned by nobody \(uid 65534\), mode 1777: owned by nobody/);
  });

  test('password_file and dump_tool are checked too; a bare dump_tool name is looked up on PATH', (t) => {
    const { root } = setup(t);
    const passwordFile = join(root, 'db.pass');
    writeFileSync(passwordFile, 'secret\n', { mode: 0o640 });
    const tool = join(root, 'bin', 'fake-dump');
    mkdirSync(join(root, 'bin'));
    writeFileSync(tool, '#!/bin/sh\n', { mode: 0o775 });
    chmodSync(tool, 0o775);
    const config = join(root, 'mysql.yml');
    writeFileSync(config, `app: shop\nrepository: ${join(root, 'backups')}\nsources:\n  db: { type: mysql, database: shop, user: backup, password_file: db.pass, dump_tool: fake-dump }\n`, { mode: 0o600 });
    const findings = findInsecureConfigPaths(loadConfig(config, { allowInsecure: true, warn: () => {} }), { searchPath: join(root, 'bin') });
    assert.deepEqual(
      findings.map((entry) => [entry.path, entry.roles]),
      [[tool, ['sources.db.dump_tool']]],
    );
    chmodSync(passwordFile, 0o646);
    const refused = refusal(() => loadConfig(config));
    assert.match(refused.message, /db\.pass \(sources\.db\.password_file\): file owned by root \(uid 0\), mode 0646: writable by others/);
  });

  test('allowInsecure warns loudly through the given channel and goes on', (t) => {
    const { config } = setup(t);
    chmodSync(config, 0o666);
    const warnings: string[] = [];
    const loaded = loadConfig(config, { allowInsecure: true, warn: (text) => warnings.push(text) });
    assert.equal(loaded.config.app, 'shop');
    assert.equal(loaded.insecurePaths?.length, 1);
    assert.match(warnings.join('\n'), /^WARNING: .* can be changed by other users \(going on because of --allow-insecure-config\)/);
    assert.match(warnings.join('\n'), /mode 0666: writable by group and others; fix: chmod go-w/);
  });
});

describe('config file safety (CLI)', () => {
  test('config validate refuses with exit 2; --allow-insecure-config proceeds with a warning on stderr and lists the findings', async (t) => {
    const { config, envPath } = setup(t);
    chmodSync(envPath, 0o664);
    const refused = await runCli(['-c', config, 'config', 'validate']);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /refusing to use .*: .*\.env \(sources\.db\.env_file\): file owned by root \(uid 0\), mode 0664: writable by its group; fix: chmod go-w /);
    assert.match(refused.stderr, /--allow-insecure-config/);

    const allowed = await runCli(['config', 'validate', '-c', config, '--allow-insecure-config']);
    assert.equal(allowed.code, 1, `valid but insecure is a WARNING: ${allowed.stdout + allowed.stderr}`);
    assert.match(allowed.stderr, /WARNING: .*can be changed by other users/);
    assert.match(allowed.stdout, /valid/);
    assert.match(allowed.stdout, /insecure: .*\.env \(sources\.db\.env_file\).*mode 0664/);

    const json = await runCli(['--allow-insecure-config', '--json', '-c', config, 'config', 'validate']);
    assert.equal(json.code, 1, json.stderr);
    const report = JSON.parse(json.stdout);
    assert.equal(report.insecure.length, 1);
    assert.equal(report.insecure[0].mode, '0664');
    assert.deepEqual(report.insecure[0].roles, ['sources.db.env_file']);
  });

  test('every command refuses an insecure config: backup exits 2 and writes nothing', async (t) => {
    const { config } = setup(t);
    chownSync(config, NOBODY, NOBODY);
    const result = await runCli(['-c', config, 'backup']);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /owned by nobody \(uid 65534\)/);
  });
});
