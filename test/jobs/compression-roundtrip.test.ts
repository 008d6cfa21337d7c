// The fast compression paths end to end, through the real CLI, on a tree that
// mixes text with data that does not compress, including the two liars: text
// named like a photo, and gzip data named `.txt`. For the default (parallel
// gzip, stored blocks for what does not compress) and for zstd, the artifact
// must be read back byte for byte by the stock tools (`gunzip -t`,
// `tar -tzf`/`tar -xzf`; `zstd -t`, `zstd -dc | tar -x`) and by our own
// `restore files`, and the sizes must show each stretch was judged by content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Manifest } from '../../src/core/manifest.ts';
import { runCli } from '../support/cli.ts';
import { describeTree } from '../support/describe-tree.ts';
import { makeSampleApp, pseudoRandomBytes, type SampleApp } from '../support/sample-app.ts';
import { tempDir } from '../support/temp.ts';

const MiB = 1024 * 1024;

/** Log-like text: compresses several times over. */
function logText(bytes: number, seed: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let line = 0; length < bytes; line++) {
    const text = `[2026-11-${String((line % 28) + 1).padStart(2, '0')} 03:00:${String(line % 60).padStart(2, '0')}] production.INFO: job ${seed}-${line} finished for customer ${(line * 7919) % 1000}\n`;
    lines.push(text);
    length += text.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

interface MixedTree {
  /** Bytes of content that cannot shrink. */
  incompressibleBytes: number;
  /** Bytes of text. */
  textBytes: number;
}

/** Fills the sample app's uploads with a mixed tree larger than several 1 MiB gzip members. */
function addMixedTree(app: SampleApp): MixedTree {
  const dir = join(app.uploadsDir, 'mixed');
  mkdirSync(join(dir, 'photos'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const photo = pseudoRandomBytes(3 * MiB + 12_345, 'real photo');
  writeFileSync(join(dir, 'photos/real.jpg'), photo);
  // Looks compressed by name, is text: must still be compressed.
  const fakePhoto = logText(2 * MiB, 1);
  writeFileSync(join(dir, 'photos/not-really.jpg'), fakePhoto);
  // Compressed data named .txt: must be stored, not deflated again.
  const hiddenArchive = gzipSync(pseudoRandomBytes(MiB, 'inside'), { level: 1 });
  writeFileSync(join(dir, 'logs/notes.txt'), hiddenArchive);
  const log = logText(3 * MiB, 2);
  writeFileSync(join(dir, 'logs/laravel.log'), log);
  // One file that switches between the two inside the same block.
  const interleaved = Buffer.concat([logText(300_000, 3), pseudoRandomBytes(700_000, 'middle'), logText(300_000, 4)]);
  writeFileSync(join(dir, 'logs/mixed.bin'), interleaved);
  for (let index = 0; index < 50; index++) writeFileSync(join(dir, `logs/small-${index}.log`), logText(2000 + index * 37, 10 + index));
  return {
    incompressibleBytes: photo.length + hiddenArchive.length + 700_000,
    textBytes: fakePhoto.length + log.length + 600_000,
  };
}

function manifestOf(app: SampleApp): Manifest {
  const [name] = readdirSync(join(app.repository, 'manifests'));
  return JSON.parse(readFileSync(join(app.repository, 'manifests', name!), 'utf8')) as Manifest;
}

for (const compression of ['gzip', 'zstd'] as const) {
  test(`${compression}: a mixed tree with misnamed files comes back byte for byte through the stock tools and restore files`, async (t) => {
    const base = tempDir(t);
    const app = makeSampleApp(join(base, 'app-root'));
    if (compression === 'zstd') appendFileSync(app.configPath, 'compression: zstd\n');
    const tree = addMixedTree(app);
    const original = describeTree(app.uploadsDir);

    const backup = await runCli(['-c', app.configPath, 'backup']);
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    const artifact = manifestOf(app).artifacts.find((record) => record.source === 'files')!;
    const archive = join(app.repository, artifact.path);
    assert.equal(artifact.compression, compression);
    assert.ok(archive.endsWith(compression === 'gzip' ? '.tar.gz' : '.tar.zst'), archive);

    // Judged by content: what cannot shrink costs about its own size, the text far less than its own.
    const stored = statSync(archive).size;
    assert.ok(stored < tree.incompressibleBytes * 1.01 + tree.textBytes / 3, `${stored} bytes for ${tree.incompressibleBytes} incompressible + ${tree.textBytes} text`);
    assert.ok(stored > tree.incompressibleBytes, 'random data cannot have shrunk');

    // The stock tools.
    const byStockTools = join(base, 'stock');
    mkdirSync(byStockTools);
    if (compression === 'gzip') {
      execFileSync('gunzip', ['-t', archive]);
      const listing = execFileSync('tar', ['-tzf', archive], { encoding: 'utf8', maxBuffer: 64 * MiB });
      assert.match(listing, /mixed\/photos\/not-really\.jpg\n/);
      execFileSync('tar', ['-xzf', archive, '-C', byStockTools]);
    } else {
      execFileSync('zstd', ['-q', '-t', archive]);
      execFileSync('bash', ['-c', 'set -o pipefail; zstd -q -dc "$1" | tar -xf - -C "$2"', 'extract', archive, byStockTools]);
    }
    assert.deepEqual(describeTree(join(byStockTools, app.uploadsDir)), original, 'the stock tools give back the tree');

    // Our own restore.
    const target = join(base, 'restored');
    const restore = await runCli(['-c', app.configPath, 'restore', 'files', '--source', 'files', '--to', target]);
    assert.equal(restore.code, 0, restore.stdout + restore.stderr);
    assert.deepEqual(describeTree(join(target, app.uploadsDir)), original, 'restore files gives back the tree');

    const verify = await runCli(['-c', app.configPath, 'verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });
}
