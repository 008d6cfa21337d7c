// A remedy must never send the operator to a command that does not exist: a
// MySQL failure once said "run `restorable doctor`", which no version had.
// Every `restorable <command>` written in the sources (remedies, messages,
// help) must be a command the CLI lists in its --help.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../support/cli.ts';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

test('every `restorable <command>` the sources tell an operator to run is a command of the CLI', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0, help.stderr);
  const commands = new Set([...help.stdout.split('Commands:')[1]!.matchAll(/^\s{2}([a-z][a-z-]*)\b/gm)].map((match) => match[1]!));
  assert.ok(commands.has('backup') && commands.has('check'), `commands parsed from --help: ${[...commands].join(', ')}`);

  const named: Array<{ file: string; command: string }> = [];
  for (const file of sourceFiles(SRC)) {
    // A command in backquotes (`restorable verify`, also escaped inside template strings), or after "run".
    for (const match of readFileSync(file, 'utf8').matchAll(/(?:\\?`|\brun )restorable ([a-z][a-z-]*)/g)) {
      if (match[1] === 'as') continue; // "run restorable as a user that ..."
      named.push({ file: file.slice(SRC.length + 1), command: match[1]! });
    }
  }
  assert.ok(named.length > 10, 'the sources were read');
  const unknown = named.filter((entry) => !commands.has(entry.command));
  assert.deepEqual(unknown, [], `commands named in the sources that the CLI does not have (it has: ${[...commands].join(', ')})`);
});
