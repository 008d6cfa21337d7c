// `restore files` of a very deep tree (1500 nested directories) through the
// real CLI: it must come back whole, in bounded memory and time. node-tar's
// Unpack needed 3.4 GB and 87 s at depth 700 and ran out of memory at 1100,
// so the drill of such a set never got to record anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { backUpFilesOnly } from '../support/files-only-app.ts';

const DEPTH = 1500;
const PEAK_RSS_LIMIT = 200 * 1024 * 1024;
const PEAK_RSS_PRELOAD = fileURLToPath(new URL('../support/peak-rss.cjs', import.meta.url));

/** `root/d/d/.../d` DEPTH levels deep, with a small file at every 100th level and at the bottom. */
function buildDeepTree(root: string): string {
  let relative = '';
  for (let level = 1; level <= DEPTH; level++) {
    relative = relative === '' ? 'd' : `${relative}/d`;
    if (level % 100 === 0 || level === DEPTH) {
      mkdirSync(join(root, relative), { recursive: true });
      writeFileSync(join(root, relative, `level-${level}.txt`), `level ${level}\n`);
    }
  }
  return relative;
}

test(`a tree ${DEPTH} directories deep restores whole, under 200 MiB peak RSS`, async (t) => {
  const base = tempDir(t);
  const root = join(base, 'src');
  const deepest = buildDeepTree(root);
  const configPath = await backUpFilesOnly(base, root, 'deep');

  const target = join(base, 'restored');
  const peakFile = join(base, 'peak-rss');
  const started = performance.now();
  const restore = await runCli(['-c', configPath, 'restore', 'files', '--to', target], {
    env: { NODE_OPTIONS: `--require ${PEAK_RSS_PRELOAD}`, RESTORABLE_TEST_PEAK_RSS_FILE: peakFile },
  });
  const seconds = (performance.now() - started) / 1000;
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  const peakRss = Number(readFileSync(peakFile, 'utf8'));
  t.diagnostic(`depth ${DEPTH}: restore took ${seconds.toFixed(1)} s, peak RSS ${(peakRss / 1024 / 1024).toFixed(0)} MiB`);

  const restoredRoot = join(target, root);
  assert.equal(readFileSync(join(restoredRoot, deepest, `level-${DEPTH}.txt`), 'utf8'), `level ${DEPTH}\n`, 'the deepest file is back');
  for (let level = 100; level < DEPTH; level += 100) {
    const dir = join(restoredRoot, ...Array.from({ length: level }, () => 'd'));
    assert.deepEqual(readdirSync(dir).sort(), ['d', `level-${level}.txt`], `level ${level}`);
  }
  assert.ok(statSync(join(restoredRoot, deepest)).isDirectory());
  assert.ok(peakRss < PEAK_RSS_LIMIT, `peak RSS ${peakRss} bytes is under ${PEAK_RSS_LIMIT}`);

  // The drill restores it the same way, compares every entry and records the proof.
  const drill = await runCli(['-c', configPath, 'drill']);
  assert.equal(drill.code, 0, drill.stdout + drill.stderr);
  assert.match(drill.stdout, /files: restorable/);
});
