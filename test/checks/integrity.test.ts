// The integrity check (src/checks/integrity.ts): the artifacts the newest
// set's manifest names are on disk with their recorded sizes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/temp.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runCheck } from '../../src/jobs/check.ts';
import { at, backupAt, firstLine, HOUR, result } from '../support/check-harness.ts';

test('a deleted artifact of the newest set is CRITICAL naming the file; a truncated one names both sizes', async (t) => {
  const app = makeSampleApp(tempDir(t));
  const loaded = loadConfig(app.configPath);
  const setId = await backupAt(loaded, new Date(Date.now() - HOUR));
  const filesArtifact = `files/files_backup_${setId}.tar.gz`;
  rmSync(join(app.repository, filesArtifact));

  const cli = await runCli(['check', '-c', app.configPath]);
  assert.equal(cli.code, 2, cli.stdout + cli.stderr);
  const first = firstLine(cli.stdout);
  assert.equal(first.state, 'CRITICAL');
  assert.ok(first.summary.includes(`${filesArtifact} is missing`), first.summary);
  assert.match(cli.stdout, new RegExp(`^CRITICAL integrity: set ${setId} is damaged: ${filesArtifact} is missing - next: `, 'm'));
  // Age counts only backups still on disk: there is no files backup left to restore, the db one is fine.
  assert.match(cli.stdout, /^CRITICAL age:files: every backup of source files is missing from disk/m);
  assert.match(cli.stdout, /^OK age:db: /m);

  const dbArtifact = `db/db_backup_${setId}.sqlite.gz`;
  const manifest = JSON.parse(readFileSync(join(app.repository, 'manifests', `${setId}.json`), 'utf8'));
  const recorded = manifest.artifacts.find((artifact: { source: string }) => artifact.source === 'db').sizeBytes as number;
  truncateSync(join(app.repository, dbArtifact), 100);
  const report = await runCheck({ loaded, clock: at(new Date()) });
  const integrity = result(report, 'integrity');
  assert.equal(integrity.state, 'CRITICAL');
  assert.ok(integrity.summary.includes(`${dbArtifact} is 100 B, the manifest says ${recorded} B`), integrity.summary);
  assert.ok(integrity.summary.includes(`${filesArtifact} is missing`), 'every damaged file is named');
});
