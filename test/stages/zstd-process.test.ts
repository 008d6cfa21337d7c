// The zstd child process as a stream: what it writes is what the stock zstd
// reads (with a content checksum), backpressure reaches the writer, and every
// way the child can fail (corrupt input, a signal, a missing program) errors
// the stream instead of ending it; destroying the stream kills the child.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ZstdError, ZstdProcess } from '../../src/stages/zstd-process.ts';
import { artifactExtension, createCompressor, createDecompressor, describeDecompressionError } from '../../src/stages/codec.ts';
import { RestorableError } from '../../src/core/errors.ts';
import { tempDir } from '../support/temp.ts';

function collector(): { sink: Writable; bytes: () => Buffer; ended: () => boolean } {
  const parts: Buffer[] = [];
  let ended = false;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      parts.push(chunk);
      callback();
    },
    final(callback) {
      ended = true;
      callback();
    },
  });
  return { sink, bytes: () => Buffer.concat(parts), ended: () => ended };
}

async function compress(input: Buffer, options: { level?: number; workers?: number } = {}): Promise<Buffer> {
  const out = collector();
  await pipeline(Readable.from([input]), new ZstdProcess({ mode: 'compress', ...options }), out.sink);
  return out.bytes();
}

const sql = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `INSERT INTO users VALUES (${i},'user ${i}','u${i}@example.test');\n`).join(''));

test('compress then decompress gives the input back; the stock zstd accepts the frame and its checksum', async (t) => {
  const compressed = await compress(sql, { level: 3, workers: 2 });
  assert.ok(compressed.length < sql.length / 5, `compressed ${compressed.length} of ${sql.length}`);
  const out = collector();
  await pipeline(Readable.from([compressed]), new ZstdProcess({ mode: 'decompress' }), out.sink);
  assert.ok(out.bytes().equals(sql));

  const file = join(tempDir(t), 'dump.sql.zst');
  writeFileSync(file, compressed);
  execFileSync('zstd', ['-t', '-q', file]);
  assert.match(execFileSync('zstd', ['-lv', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }), /Check: XXH64/);
  assert.ok(execFileSync('zstd', ['-dc', file], { maxBuffer: 64 * 1024 * 1024 }).equals(sql));
});

test('empty input is a valid empty frame', async () => {
  const compressed = await compress(Buffer.alloc(0));
  assert.ok(compressed.length > 0);
  const out = collector();
  await pipeline(Readable.from([compressed]), new ZstdProcess({ mode: 'decompress' }), out.sink);
  assert.equal(out.bytes().length, 0);
});

test('a flipped byte or a cut: the stream errors with zstd\'s own words and never ends', async () => {
  const compressed = await compress(randomBytes(300_000));
  const flipped = Buffer.from(compressed);
  flipped[Math.floor(flipped.length / 2)]! ^= 0xff;
  for (const [what, input, expected] of [
    ['flipped', flipped, /^zstd stream corrupt \(zstd: .+\)$/],
    ['cut', compressed.subarray(0, compressed.length - 100), /^zstd stream truncated \(zstd: .*premature end.*\)$/],
  ] as const) {
    const out = collector();
    const error = await pipeline(Readable.from([input]), new ZstdProcess({ mode: 'decompress' }), out.sink).then(
      () => assert.fail(`${what}: the stream ended cleanly`),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof ZstdError, `${what}: ${error}`);
    assert.equal(error.code, 'ZSTD_FAILED');
    assert.equal(error.exitStatus, 1);
    assert.match(describeDecompressionError(error)!, expected, what);
    assert.equal(out.ended(), false, `${what}: the consumer never saw an end`);
  }
});

test('a child killed mid-stream fails the stream; a signal is not reported as damage', async () => {
  const compressed = await compress(randomBytes(4 * 1024 * 1024));
  const zstd = new ZstdProcess({ mode: 'decompress' });
  let child: ChildProcess | undefined;
  const slow = new Writable({
    highWaterMark: 1,
    write(_chunk, _encoding, callback) {
      child ??= (zstd as unknown as { spawned: { child: ChildProcess } }).spawned.child;
      child.kill('SIGKILL');
      setTimeout(callback, 5);
    },
  });
  const error = await pipeline(Readable.from([compressed]), zstd, slow).then(
    () => assert.fail('the stream ended cleanly'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof ZstdError, String(error));
  assert.equal(error.signal, 'SIGKILL');
  assert.equal(describeDecompressionError(error), undefined);
});

test('destroying the stream kills the child', async () => {
  const zstd = new ZstdProcess({ mode: 'compress' });
  zstd.on('error', () => {});
  zstd.write(randomBytes(100_000));
  const child = (zstd as unknown as { spawned: { child: ChildProcess } }).spawned.child;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('close', (_code, signal) => resolve(signal)));
  zstd.destroy();
  assert.equal(await exited, 'SIGTERM');
});

test('backpressure: a consumer that stops reading stops the writer (64 MB offered, a bounded part taken)', async () => {
  let offered = 0;
  const source = Readable.from(
    (function* () {
      for (let i = 0; i < 1024; i++) {
        offered += 65536;
        yield randomBytes(65536);
      }
    })(),
  );
  const stuck = new Writable({ highWaterMark: 1, write() {} });
  const running = pipeline(source, new ZstdProcess({ mode: 'compress', workers: 2 }), stuck).catch((error: unknown) => error);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.ok(offered < 32 * 1024 * 1024, `${offered} bytes taken while nothing was read`);
  stuck.destroy(new Error('stop'));
  assert.match(String(await running), /stop/);
});

test('zstd missing from PATH: ZSTD_NOT_INSTALLED with the install hint, even for a stream made before its pipeline', async () => {
  const zstd = new ZstdProcess({ mode: 'compress', program: '/nonexistent/zstd' });
  // The child starts on first use, so this wait cannot turn into an 'error' nobody listens to.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const error = await pipeline(Readable.from([sql]), zstd, collector().sink).then(
    () => assert.fail('the stream ended cleanly'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof RestorableError);
  assert.equal(error.code, 'ZSTD_NOT_INSTALLED');
  assert.equal(error.message, 'zstd is not installed (needed by compression: zstd)');
  assert.equal(error.remedy, 'install it (apt-get install zstd) or set compression: gzip');
  assert.equal(describeDecompressionError(error), undefined);
});

test('the codec: extensions by algorithm, gzip through the same calls, and an unknown algorithm refused', async () => {
  assert.equal(artifactExtension('gzip'), 'gz');
  assert.equal(artifactExtension('zstd'), 'zst');
  for (const algorithm of ['gzip', 'zstd'] as const) {
    const compressed = collector();
    await pipeline(Readable.from([sql]), createCompressor({ algorithm, level: 3, storeIncompressible: true, minSavings: 0.03 }), compressed.sink);
    const out = collector();
    await pipeline(Readable.from([compressed.bytes()]), createDecompressor(algorithm), out.sink);
    assert.ok(out.bytes().equals(sql), algorithm);
  }
  assert.throws(() => createDecompressor('xz' as never), { code: 'UNKNOWN_COMPRESSION' });
});
