// The package as a user installs it: `npm pack` gives a tarball that installs
// with `npm install -g` into an empty prefix and runs from its bundle, without
// dev dependencies (tsx, esbuild, TypeScript) and without compiling anything
// (the optional native SQLite module is only needed on Node 20).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../support/temp.ts';

const run = promisify(execFile);
const packageRoot = join(import.meta.dirname, '..', '..');

test('npm pack installs with npm install -g and runs from its bundle, without dev dependencies', async (t) => {
  const dir = tempDir(t);
  const prefix = join(dir, 'prefix');
  await run('npm', ['pack', '--pack-destination', dir], { cwd: packageRoot, maxBuffer: 16 * 1024 * 1024 });
  const tarball = readdirSync(dir).find((name) => /^restorable-.*\.tgz$/.test(name));
  assert.ok(tarball, 'npm pack wrote no tarball');
  // --prefer-offline: the packages come from the cache `npm ci` filled; --omit=optional and
  // --ignore-scripts: as on a machine without a C++ toolchain, nothing is compiled.
  await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund', join(dir, tarball)], {
    cwd: dir,
    maxBuffer: 16 * 1024 * 1024,
  });

  const installed = join(prefix, 'lib', 'node_modules', 'restorable');
  for (const devOnly of ['tsx', 'esbuild', 'typescript']) {
    assert.equal(existsSync(join(installed, 'node_modules', devOnly)), false, `${devOnly} was installed with the package`);
  }
  assert.equal(existsSync(join(installed, 'src')), false, 'the package ships its TypeScript sources');

  const bin = join(prefix, 'bin', 'restorable');
  const version = await run(bin, ['--version'], { cwd: dir });
  assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version);

  // The bundled CLI runs a command beyond --version: a config validates.
  const config = join(dir, 'restorable.yml');
  writeFileSync(config, `app: packaged\nrepository: ${join(dir, 'repo')}\nsources:\n  config: { type: files, paths: [${dir}] }\n`, { mode: 0o600 });
  const validated = await run(bin, ['-c', config, 'config', 'validate', '--json'], { cwd: dir });
  assert.equal((JSON.parse(validated.stdout) as { valid: boolean }).valid, true);
});
