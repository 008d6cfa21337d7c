// The CLI in a pipe behaves as a Unix tool should: a reader that goes away
// (`check | head -1`, `list --json | true`) leaves the command's own exit code
// and no stack trace. Ctrl-C is hygiene-interrupt.test.ts; the report, the
// documentation's links and the demo are hygiene-docs.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, runCli } from '../support/cli.ts';
import { tempDir } from '../support/temp.ts';
import { backUpFilesOnly, writeFilesOnlyConfig } from '../support/files-only-app.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const noStack = /\n\s+at .*:\d+:\d+|EPIPE|Unhandled 'error'/;

/** Runs `restorable ARGS | READER` under `set -o pipefail`: the pipeline's status is restorable's when the reader succeeds. */
function piped(args: string[], reader: string): { status: number | null; stdout: string; stderr: string } {
  const quoted = [process.execPath, BIN, ...args].map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ');
  const result = spawnSync('bash', ['-c', `set -o pipefail; ${quoted} | ${reader}`], { encoding: 'utf8', cwd: ROOT });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('check | head -1 and check | true exit with the state code and print no stack trace', async (t) => {
  const base = tempDir(t);
  const app = join(base, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'a.txt'), 'a');
  const healthy = await backUpFilesOnly(base, app, 'piped');
  const empty = join(tempDir(t), 'restorable.yml');
  writeFilesOnlyConfig(dirname(empty), app, 'empty');
  assert.equal((await runCli(['-c', empty, 'init'])).code, 0);

  const codes: number[] = [];
  for (const config of [healthy, empty]) {
    const alone = await runCli(['-c', config, 'check']);
    codes.push(alone.code!);
    assert.ok([0, 1, 2, 3].includes(alone.code!), alone.stdout + alone.stderr);
    assert.ok(alone.stdout.split('\n').filter(Boolean).length > 1, 'check prints more than the line head keeps');
    for (const reader of ['head -1', 'true']) {
      const result = piped(['-c', config, 'check'], reader);
      assert.equal(result.status, alone.code, `check | ${reader}: ${result.stderr}`);
      assert.doesNotMatch(result.stderr, noStack);
    }
  }
  assert.notEqual(codes[1], 0, 'the empty repository is a non-OK state, so the code is really passed on');
  for (const args of [['list', '--json'], ['--help']]) {
    const result = piped(['-c', healthy, ...args], 'true');
    assert.equal(result.status, 0, `${args.join(' ')} | true: ${result.stderr}`);
    assert.doesNotMatch(result.stderr, noStack);
  }
});
