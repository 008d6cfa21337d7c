// Tests the parallel gzip stage the way the seed's own commands judge its
// output: Node's gunzip AND GNU `gunzip -c` / `gunzip -t` / `tar -tzf` /
// `tar -xzf` must read it back byte for byte, at every size around the block
// boundaries; text must shrink and random data must be stored, decided by
// content, not by name; a failing worker must fail the stream; and no worker
// thread may outlive the stage (checked in a child process that must exit on
// its own). Correctness only: speed lives in the benchmark.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { crc32 as nodeCrc32, gunzipSync } from 'node:zlib';
import type { RestorableError } from '../../src/core/errors.ts';
import { createGzipStage, DEFAULT_BLOCK_BYTES, type GzipPool, type GzipStageOptions, type ParallelGzipStage } from '../../src/stages/parallel-gzip.ts';
import { sharedGzipWorkerPool, type MemberJob } from '../../src/stages/gzip-worker-pool.ts';
import { tempDir } from '../support/temp.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const SMALL_BLOCK = 64 * KiB; // the smallest allowed: many members from little data
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Deterministic SQL-dump-like text (compresses about 3-4x, like a real dump). */
function sqlText(bytes: number, seed = 1): Buffer {
  const words = ['appointment', 'customer', 'NULL', 'transcript', 'called', 'about', 'the', 'invoice', 'Berlin', 'confirmed'];
  let state = seed;
  const next = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31);
  const lines: string[] = [];
  let length = 0;
  for (let id = 1; length < bytes; id++) {
    const line = `INSERT INTO calls VALUES (${id},'${words[next() % 10]} ${words[next() % 10]} ${next().toString(16)}','2024-06-${(next() % 28) + 1}');\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

/** Feeds `input` in chunks of the given sizes (cycled), like a real producer would. */
function chunked(input: Buffer, chunkSizes: number[]): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0, turn = 0; offset < input.length; turn++) {
    const size = chunkSizes[turn % chunkSizes.length]!;
    chunks.push(input.subarray(offset, offset + size));
    offset += size;
  }
  return Readable.from(chunks, { objectMode: false });
}

async function compress(input: Buffer, options: Partial<GzipStageOptions> = {}, chunkSizes = [64 * KiB]): Promise<{ gz: Buffer; stage: ParallelGzipStage }> {
  const stage = createGzipStage({ level: 6, ...options });
  const output: Buffer[] = [];
  await pipeline(chunked(input, chunkSizes), stage, async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) output.push(chunk);
  });
  assert.equal(stage.runningWorkerCount, 0, 'no worker thread outlives a finished stage');
  return { gz: Buffer.concat(output), stage };
}

/** Node's gunzip, GNU gunzip -t and gunzip -c must all give back exactly `expected`. */
function assertGunzipsTo(dir: string, gz: Buffer, expected: Buffer, label: string): void {
  assert.ok(gunzipSync(gz).equals(expected), `${label}: Node's gunzip gives back the input`);
  const file = join(dir, `${label.replace(/\W+/g, '-')}.gz`);
  writeFileSync(file, gz);
  execFileSync('gunzip', ['-t', file]);
  const viaGnu = execFileSync('gunzip', ['-c', file], { maxBuffer: 256 * MiB });
  assert.ok(viaGnu.equals(expected), `${label}: GNU gunzip -c gives back the input`);
}

/** Half text, half random, interleaved in 40 KiB stretches: both paths in most blocks. */
function mixedData(bytes: number): Buffer {
  const parts: Buffer[] = [];
  for (let length = 0, turn = 0; length < bytes; turn++) {
    const part = turn % 2 === 0 ? sqlText(40 * KiB, turn + 1) : randomBytes(40 * KiB);
    parts.push(part);
    length += part.length;
  }
  return Buffer.concat(parts).subarray(0, bytes);
}

test('round trips at every size around the block boundaries, one member per block', async (t) => {
  const dir = tempDir(t);
  const cases: Array<{ label: string; bytes: number; blockBytes: number }> = [
    { label: 'empty input', bytes: 0, blockBytes: DEFAULT_BLOCK_BYTES },
    { label: 'one byte', bytes: 1, blockBytes: DEFAULT_BLOCK_BYTES },
    { label: 'exactly one 1 MiB block', bytes: DEFAULT_BLOCK_BYTES, blockBytes: DEFAULT_BLOCK_BYTES },
    { label: 'one 1 MiB block plus one byte', bytes: DEFAULT_BLOCK_BYTES + 1, blockBytes: DEFAULT_BLOCK_BYTES },
    { label: 'many blocks', bytes: 37 * SMALL_BLOCK + 123, blockBytes: SMALL_BLOCK },
    { label: 'many blocks, exact multiple', bytes: 16 * SMALL_BLOCK, blockBytes: SMALL_BLOCK },
  ];
  for (const { label, bytes, blockBytes } of cases) {
    const input = mixedData(bytes);
    const { gz, stage } = await compress(input, { blockBytes });
    assertGunzipsTo(dir, gz, input, label);
    assert.equal(stage.stats.members, Math.max(1, Math.ceil(bytes / blockBytes)), `${label}: members`);
    assert.equal(stage.stats.inputBytes, bytes, `${label}: input bytes counted`);
    assert.equal(stage.stats.outputBytes, gz.length, `${label}: output bytes counted`);
    assert.equal(stage.stats.storedBytes + stage.stats.deflatedBytes, bytes, `${label}: every input byte is stored or deflated`);
  }
});

test('any chunking of the input gives a valid file: tiny chunks, odd sizes, one chunk of many blocks', async (t) => {
  const dir = tempDir(t);
  const input = mixedData(3 * MiB + 4321);
  for (const chunkSizes of [[100], [7777, 1, 65536, 300000], [input.length]]) {
    const { gz } = await compress(input, { blockBytes: 256 * KiB }, chunkSizes);
    assertGunzipsTo(dir, gz, input, `chunks of ${chunkSizes.join('-')}`);
  }
});

test('every level, storing switched off, and one worker all round trip', async (t) => {
  const dir = tempDir(t);
  const input = mixedData(2 * MiB + 17);
  const variants: Array<[string, Partial<GzipStageOptions>]> = [
    ['level 0', { level: 0 }],
    ['level 1', { level: 1 }],
    ['level 9', { level: 9 }],
    ['no stored blocks', { storeIncompressible: false }],
    ['one worker', { workers: 1 }],
    ['three workers', { workers: 3 }],
    ['store only what saves nothing', { minSavings: 0 }],
  ];
  for (const [label, options] of variants) {
    const { gz, stage } = await compress(input, { blockBytes: 256 * KiB, ...options });
    assertGunzipsTo(dir, gz, input, label);
    if (options.storeIncompressible === false) assert.equal(stage.stats.storedBytes, 0, `${label}: nothing stored`);
    if (options.level === 0) assert.equal(stage.stats.deflatedBytes, 0, `${label}: nothing deflated`);
  }
});

test('text is compressed and random data is stored, judged by content', async () => {
  const text = sqlText(3 * MiB);
  const compressedText = await compress(text);
  assert.ok(compressedText.gz.length < text.length * 0.4, `text shrinks: ${compressedText.gz.length} of ${text.length}`);
  assert.equal(compressedText.stage.stats.deflatedBytes, text.length);

  const random = randomBytes(3 * MiB + 5);
  const storedRandom = await compress(random);
  assert.equal(storedRandom.stage.stats.storedBytes, random.length, 'random data is not given to deflate');
  assert.ok(storedRandom.gz.length <= random.length * 1.001 + 64, `random data costs at most 0.1 %: ${storedRandom.gz.length} for ${random.length}`);
});

test('a tar of photos, text and misnamed files: tar -tzf lists it, tar -xzf restores it, each file judged by content', async (t) => {
  const dir = tempDir(t);
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'uploads'), { recursive: true });
  const files: Record<string, Buffer> = {
    'uploads/photo.jpg': randomBytes(3 * MiB + 100), // incompressible, named so
    'notes.txt': sqlText(2 * MiB, 7), // text, named so
    'uploads/scan.txt': randomBytes(2 * MiB + 3), // incompressible although named .txt
    'uploads/fake.jpg': sqlText(2 * MiB + 9, 11), // text although named .jpg
    'empty.log': Buffer.alloc(0),
  };
  for (const [name, content] of Object.entries(files)) writeFileSync(join(tree, name), content);
  const tar = execFileSync('tar', ['-cf', '-', '-C', tree, '.'], { maxBuffer: 256 * MiB });

  const { gz, stage } = await compress(tar, {}, [10240, 512, 65536]); // tar-like record sizes
  const archive = join(dir, 'files_backup.tar.gz');
  writeFileSync(archive, gz);
  const listed = execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const name of Object.keys(files)) assert.ok(listed.includes(`./${name}`), `tar -tzf lists ${name}`);
  const restored = join(dir, 'restored');
  mkdirSync(restored);
  execFileSync('tar', ['-xzf', archive, '-C', restored]);
  for (const [name, content] of Object.entries(files)) {
    assert.ok(readFileSync(join(restored, name)).equals(content), `tar -xzf restores ${name} byte for byte`);
  }

  // A segment straddling two files may go either way: allow two segments of slack per file.
  const slack = 2 * 64 * KiB * Object.keys(files).length;
  const randomBytesTotal = files['uploads/photo.jpg']!.length + files['uploads/scan.txt']!.length;
  const textBytesTotal = files['notes.txt']!.length + files['uploads/fake.jpg']!.length;
  assert.ok(stage.stats.storedBytes >= randomBytesTotal - slack, `random files stored: ${stage.stats.storedBytes} >= ${randomBytesTotal - slack}`);
  assert.ok(stage.stats.storedBytes <= randomBytesTotal + slack, `text files not stored: ${stage.stats.storedBytes} <= ${randomBytesTotal + slack}`);
  assert.ok(gz.length < tar.length - textBytesTotal / 2, 'the text in the archive is compressed');
});

/**
 * The shared pool, except that the worker given block N (0-based) of the one
 * stage using this wrapper throws, or exits with code 70. The fault is
 * injected at the stage's pool port: the stage itself has no fault code.
 */
function poolFailingAt(fault: { throwAtBlock?: number; exitAtBlock?: number }): GzipPool {
  const pool = sharedGzipWorkerPool();
  let submitted = 0;
  return {
    get runningWorkerCount() {
      return pool.runningWorkerCount;
    },
    acquire: (workers) => pool.acquire(workers),
    release: () => pool.release(),
    submit(job, done, owner) {
      const block = submitted++;
      const injected: MemberJob['fault'] = fault.throwAtBlock === block ? 'throw' : fault.exitAtBlock === block ? 'exit' : undefined;
      pool.submit(injected ? { ...job, fault: injected } : job, done, owner);
    },
  };
}

test('a worker that throws fails the pipeline with an error and leaves no thread running', async () => {
  for (const fault of [{ throwAtBlock: 3 }, { exitAtBlock: 3 }, { throwAtBlock: 0 }]) {
    const stage = createGzipStage({ level: 6, blockBytes: SMALL_BLOCK, pool: poolFailingAt(fault) });
    const output: Buffer[] = [];
    await assert.rejects(
      pipeline(chunked(mixedData(20 * SMALL_BLOCK), [40 * KiB]), stage, async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) output.push(chunk);
      }),
      (error: Error) => {
        assert.match(error.message, /gzip worker thread (failed|exited unexpectedly)/);
        assert.match(error.message, /compressed output is incomplete/);
        assert.equal((error as RestorableError).code, 'COMPRESSION_FAILED');
        return true;
      },
      JSON.stringify(fault),
    );
    if (!stage.closed) await once(stage, 'close');
    assert.equal(stage.runningWorkerCount, 0, `${JSON.stringify(fault)}: every worker terminated`);
    assert.ok(stage.stats.members <= 3, `no member after the failed block was written (${stage.stats.members})`);
  }
});

test('stages running at once share one pool of threads, each output intact, and the pool stops with the last stage', async (t) => {
  const dir = tempDir(t);
  const inputs = [sqlText(3 * MiB, 7), mixedData(3 * MiB), randomBytes(2 * MiB)];
  await compress(sqlText(256 * KiB), { blockBytes: SMALL_BLOCK }); // warm-up: whatever Node starts once is running
  // Counted by the kernel, not by the stage: each worker is one OS thread of this process.
  const osThreads = (): number => readdirSync('/proc/self/task').length;
  const threadsBefore = osThreads();
  const stages = inputs.map(() => createGzipStage({ level: 6, blockBytes: SMALL_BLOCK, workers: 2 }));
  let mostThreads = 0;
  const sampler = setInterval(() => (mostThreads = Math.max(mostThreads, osThreads() - threadsBefore)), 1);
  const outputs = await Promise.all(
    stages.map(async (stage, index) => {
      const output: Buffer[] = [];
      await pipeline(chunked(inputs[index]!, [40 * KiB]), stage, async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) output.push(chunk);
      });
      return Buffer.concat(output);
    }),
  );
  clearInterval(sampler);
  outputs.forEach((gz, index) => assertGunzipsTo(dir, gz, inputs[index]!, `shared pool stage ${index}`));
  assert.ok(mostThreads >= 1 && mostThreads <= 2, `three stages asking for 2 workers each ran ${mostThreads} more threads, not up to 6`);
  assert.equal(stages[0]!.runningWorkerCount, 0, 'the pool stopped when the last stage ended');
});

test('a worker dying under one stage fails that stage; a stage running beside it still completes', async (t) => {
  const dir = tempDir(t);
  const healthyInput = sqlText(4 * MiB, 3);
  const healthy = createGzipStage({ level: 6, blockBytes: SMALL_BLOCK, workers: 2 });
  const doomed = createGzipStage({ level: 6, blockBytes: SMALL_BLOCK, workers: 2, pool: poolFailingAt({ exitAtBlock: 5 }) });
  const healthyOutput: Buffer[] = [];
  const [healthyResult, doomedResult] = await Promise.allSettled([
    pipeline(chunked(healthyInput, [40 * KiB]), healthy, async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) healthyOutput.push(chunk);
    }),
    pipeline(chunked(mixedData(4 * MiB), [40 * KiB]), doomed, async function* (source: AsyncIterable<Buffer>) {
      for await (const _chunk of source);
    }),
  ]);
  assert.equal(doomedResult.status, 'rejected');
  assert.match(String((doomedResult as PromiseRejectedResult).reason), /gzip worker thread exited unexpectedly/);
  // The healthy stage may lose a block that sat in the dead thread's queue:
  // then it fails too (the run fails as a whole, as it must); if it
  // completed, its output must be exact.
  if (healthyResult.status === 'fulfilled') assertGunzipsTo(dir, Buffer.concat(healthyOutput), healthyInput, 'beside a dying worker');
  else assert.match(String(healthyResult.reason), /gzip worker thread exited unexpectedly/);
  if (!doomed.closed) await once(doomed, 'close');
  if (!healthy.closed) await once(healthy, 'close');
  assert.equal(healthy.runningWorkerCount, 0, 'no thread left running');
});

test('memory stays bounded: a reader that does not read stops the writer after a few blocks', async () => {
  const blockBytes = SMALL_BLOCK;
  const workers = 2;
  const stage = createGzipStage({ level: 1, blockBytes, workers });
  let produced = 0;
  const endless = new Readable({
    read() {
      produced += 16 * KiB;
      this.push(randomBytes(16 * KiB));
    },
  });
  endless.pipe(stage); // nobody reads the stage
  // Wait until the stage has stopped taking input (not a timing assertion: on
  // a stage without backpressure this loop would end at the deadline instead,
  // with far more input accepted than the bound below).
  let accepted = -1;
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (stage.stats.members > 0 && stage.stats.inputBytes === accepted) break;
    accepted = stage.stats.inputBytes;
  }
  // in flight + the block being filled + the readable buffer (one block) + a margin of writable buffers
  const bound = (2 * workers + 3) * blockBytes;
  assert.ok(accepted <= bound, `accepted ${accepted} bytes with no reader; bound ${bound}`);
  assert.ok(produced - accepted <= 4 * 64 * KiB, `the producer was held back too (${produced} produced)`);
  endless.unpipe(stage);
  endless.destroy();
  stage.destroy();
  await once(stage, 'close');
  assert.equal(stage.runningWorkerCount, 0);
});

test('a slow reader gets the whole file, and output waits for it in the stage without piling up', async (t) => {
  const dir = tempDir(t);
  // A trickling producer, fast workers (mostly random data: stored blocks) and
  // a slower reader: the in-flight budget never runs out here, so only the
  // stage's own check of its readable side keeps output from piling up
  // (without it, about 15 MB of 16 MiB piled up in this setup).
  const blockBytes = SMALL_BLOCK;
  const chunks = Array.from({ length: 96 }, (_, turn) => (turn % 8 === 7 ? sqlText(64 * KiB, turn) : randomBytes(64 * KiB)));
  let next = 0;
  const trickle = new Readable({
    read() {
      if (next === chunks.length) this.push(null);
      else setTimeout(() => this.push(chunks[next++]), 1);
    },
  });
  const stage = createGzipStage({ level: 6, blockBytes });
  const output: Buffer[] = [];
  let mostBuffered = 0; // output pushed but not yet read
  const slowReader = new Writable({
    highWaterMark: 16 * KiB,
    write(chunk: Buffer, _encoding, callback) {
      output.push(chunk);
      mostBuffered = Math.max(mostBuffered, stage.readableLength);
      setTimeout(callback, 4);
    },
  });
  await pipeline(trickle, stage, slowReader);
  assertGunzipsTo(dir, Buffer.concat(output), Buffer.concat(chunks), 'slow reader');
  t.diagnostic(`most output waiting for the reader: ${mostBuffered} bytes`);
  // One block's worth before the stage stops sending, plus what was in flight then (2 x workers).
  const bound = (1 + 2 * 2 + 1) * blockBytes;
  assert.ok(mostBuffered <= bound, `output waiting for the reader stayed bounded: ${mostBuffered} <= ${bound}`);
});

test('destroy() mid-stream terminates the workers, and neither a destroyed nor an abandoned stage keeps the process alive', async (t) => {
  const dir = tempDir(t);
  const stageModule = new URL('../../src/stages/parallel-gzip.ts', import.meta.url).href;
  const script = join(dir, 'scenario.mts');
  writeFileSync(
    script,
    `import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { createGzipStage } from ${JSON.stringify(stageModule)};
const mode = process.argv[2];
const stage = createGzipStage({ level: 9, blockBytes: 64 * 1024, workers: 2 });
const endless = new Readable({ read() { this.push(randomBytes(64 * 1024)); } });
endless.pipe(stage);
let received = 0;
stage.on('data', (chunk) => {
  received += chunk.length;
  if (received < 1024 * 1024) return;
  endless.unpipe(stage);
  endless.destroy();
  if (mode === 'destroy') {
    // Hold the process until 'close' (and no longer): then only a leaked thread could keep it alive.
    const deadline = setTimeout(() => { console.log('no close event'); process.exit(3); }, 15_000);
    stage.on('close', () => {
      clearTimeout(deadline);
      console.log('closed with ' + stage.runningWorkerCount + ' workers running');
    });
    stage.destroy();
  } else {
    stage.pause(); // abandoned: neither ended nor destroyed
    stage.removeAllListeners('data');
    console.log('abandoned');
  }
});
`,
  );
  for (const mode of ['destroy', 'abandon']) {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', script, mode], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    clearTimeout(killer);
    assert.equal(signal, null, `${mode}: the process exited on its own (it was killed after 20 s); stderr: ${stderr}`);
    assert.equal(code, 0, `${mode}: exit code; stderr: ${stderr}`);
    if (mode === 'destroy') assert.match(stdout, /closed with 0 workers running/);
    else assert.match(stdout, /abandoned/);
    t.diagnostic(`${mode}: process exited after ${Date.now() - started} ms`);
  }
});

test('options are checked when the stage is made', () => {
  assert.throws(() => createGzipStage({ level: 10 }), /level must be an integer from 0 to 9/);
  assert.throws(() => createGzipStage({ level: 6, workers: 0 }), /workers must be an integer/);
  assert.throws(() => createGzipStage({ level: 6, blockBytes: 1000 }), /blockBytes must be an integer/);
  assert.throws(() => createGzipStage({ level: 6, minSavings: 1.5 }), /minSavings must be from 0 to 1/);
  assert.throws(() => createGzipStage({ level: 6, minSavings: Number.NaN }), /minSavings must be from 0 to 1/);
  // Making a stage starts no thread: a worker starts with the first block.
  assert.equal(createGzipStage({ level: 6 }).runningWorkerCount, 0);
});

test('the member encoder: CRC32 fallback, compressibility estimate, hand-written stored blocks', async () => {
  // Plain-JavaScript modules (they run in bare worker threads): loaded by URL, untyped.
  const member = await import(new URL('../../src/stages/gzip-worker.mjs', import.meta.url).href);
  const compressibility = await import(new URL('../../src/stages/compressibility.mjs', import.meta.url).href);
  const sample = randomBytes(300 * KiB + 3);
  if (typeof nodeCrc32 === 'function') assert.equal(member.crc32InJavaScript(sample), nodeCrc32(sample), 'the fallback CRC32 matches zlib');
  assert.equal(member.crc32InJavaScript(Buffer.from('123456789')), 0xcbf43926, 'CRC-32 check value');

  const random = randomBytes(4 * MiB);
  let highestForRandom = 0;
  for (let start = 0; start < random.length; start += 64 * KiB) {
    highestForRandom = Math.max(highestForRandom, compressibility.estimateSavings(random, start, start + 64 * KiB));
  }
  assert.ok(highestForRandom < 0.015, `random data estimates near 0 (highest ${highestForRandom})`);
  const text = sqlText(64 * KiB);
  assert.ok(compressibility.estimateSavings(text, 0, text.length) > 0.2, 'text estimates well above the threshold');

  // 200 KiB of random data: stored in 65535-byte blocks, only the last one final.
  const block = randomBytes(200 * KiB);
  const encoded = member.encodeGzipMember(block, { level: 6, minSavings: 0.03 });
  assert.equal(encoded.storedBytes, block.length);
  const bytes: Uint8Array = member.assembleMember(block, encoded);
  assert.ok(gunzipSync(bytes).equals(block));
  assert.equal(bytes.length, 10 + 4 * 5 + block.length + 8, 'header, four stored-block headers, data, trailer');
  assert.deepEqual([...bytes.subarray(0, 4)], [0x1f, 0x8b, 8, 0]);
  assert.equal(bytes[10], 0, 'first stored block is not final');
  assert.equal(bytes[10 + 3 * (5 + 65535)], 1, 'last stored block is final');
});
