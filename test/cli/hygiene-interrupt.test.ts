// Ctrl-C exits 130 (128 + SIGINT) without a stack trace, as a shell expects,
// also when the interrupted job then fails because it was interrupted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { runCli, startCli } from '../support/cli.ts';
import { tempDir } from '../support/temp.ts';
import { waitForOutput } from '../support/wait-for-output.ts';
import { writeFilesOnlyConfig } from '../support/files-only-app.ts';

const noStack = /\n\s+at .*:\d+:\d+|EPIPE|Unhandled 'error'/;

test('Ctrl-C during a backup exits 130 without a stack trace', async (t) => {
  const base = tempDir(t);
  const app = join(base, 'app');
  mkdirSync(app);
  // Incompressible, so the backup takes long enough to be interrupted mid-way.
  for (let index = 0; index < 6; index++) writeFileSync(join(app, `blob-${index}.bin`), randomBytes(16 * 1024 * 1024));
  const config = writeFilesOnlyConfig(base, app, 'interrupted');
  assert.equal((await runCli(['-c', config, 'init'])).code, 0);
  const { child, result } = startCli(['-c', config, 'backup']);
  await waitForOutput(child, /backup of interrupted started/);
  child.kill('SIGINT');
  const outcome = await result;
  assert.equal(outcome.code, 130, outcome.stdout + outcome.stderr);
  assert.doesNotMatch(outcome.stderr, noStack);
});
