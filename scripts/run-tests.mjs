// Runs the test suite with Node's built-in runner. Node 20 neither expands
// globs nor finds .ts files in a folder (it then runs 0 tests and exits 0), so
// the file list is built here. `node scripts/run-tests.mjs test/core` runs a part.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function findTests(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return name === 'support' ? [] : findTests(path);
      return name.endsWith('.test.ts') ? [path] : [];
    });
}

const roots = process.argv.slice(2);
const files = (roots.length ? roots : ['test']).flatMap((root) => (root.endsWith('.ts') ? [root] : findTests(root)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
