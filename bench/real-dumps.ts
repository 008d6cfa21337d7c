// Owns the size check of restorable's gzip against the seed's `gzip -9` on
// real dump files: for each file given, the output size and CPU seconds of
// `gzip -9` as one stream (the seed's method), of `gzip -N` as one stream (so
// the cost of the level can be told from the cost of the blocks), and of our
// parallel gzip stage (src/stages/parallel-gzip.ts) at each level and block
// size asked for. Sizes are deterministic; CPU seconds and wall times depend
// on the machine's load, which is printed with every file.
//
//   node --import tsx bench/real-dumps.ts [--levels 4,6,9] [--blocks 1,4] [--workers 2] [--json] DUMP.sql...
//
// The dump files are made by the caller, with restorable's own dump options
// (src/sources/mysql-dump-tool.ts dumpArguments), e.g.
//   mariadb-dump --single-transaction --quick --routines --triggers --events --hex-blob \
//     --default-character-set=utf8mb4 --no-tablespaces --max-allowed-packet=1G -- sakila > sakila.sql
// docs/benchmark.md ("Output size on real dumps") has the figures and how they were made.

import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { sharedGzipWorkerPool } from '../src/stages/gzip-worker-pool.ts';
import { createGzipStage } from '../src/stages/parallel-gzip.ts';
import { measureCommand, pickMeasuringMethod } from './measure.ts';

const MIB = 1024 * 1024;

interface Row {
  method: string;
  outputBytes: number;
  /** Output bytes ÷ those of `gzip -9` on the same file. */
  ratioToGzip9: number;
  cpuSeconds: number;
  wallSeconds: number;
}

interface FileResult {
  file: string;
  rawBytes: number;
  loadAverageAtStart: number;
  rows: Row[];
}

const USAGE = 'usage: node --import tsx bench/real-dumps.ts [--levels 4,6,9] [--blocks 1,4] [--workers 2] [--json] DUMP...';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      levels: { type: 'string', default: '4,5,6,7,8,9' },
      blocks: { type: 'string', default: '1' },
      workers: { type: 'string', default: '2' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  if (positionals.length === 0) throw new Error(USAGE);
  const levels = integerList(values.levels, 1, 9, '--levels');
  const blockMiBs = integerList(values.blocks, 1, 64, '--blocks');
  const workers = integerList(values.workers, 1, 64, '--workers')[0]!;

  // Held for the whole run, so its threads start once (the last stage out
  // would otherwise stop them, and every measurement would pay for new ones).
  const pool = sharedGzipWorkerPool();
  pool.acquire(workers);
  const results: FileResult[] = [];
  try {
    await warmUpPool(workers);
    for (const file of positionals) {
      const result = await measureFile(file, levels, blockMiBs, workers);
      results.push(result);
      if (!values.json) process.stdout.write(render(result));
    }
  } finally {
    await pool.release();
  }
  if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

async function measureFile(file: string, levels: number[], blockMiBs: number[], workers: number): Promise<FileResult> {
  const rawBytes = statSync(file).size;
  const loadAverageAtStart = loadavg()[0]!;
  const seed = await measureGzipProgram(file, 9);
  const rows: Row[] = [{ method: 'gzip -9 (seed, one stream)', ...seed, ratioToGzip9: 1 }];
  for (const level of levels) {
    if (level !== 9) {
      const single = await measureGzipProgram(file, level);
      rows.push({ method: `gzip -${level} (one stream)`, ...single, ratioToGzip9: single.outputBytes / seed.outputBytes });
    }
    for (const blockMiB of blockMiBs) {
      const ours = await measureStage(file, level, blockMiB * MIB, workers);
      rows.push({ method: `restorable level ${level}, ${blockMiB} MiB members`, ...ours, ratioToGzip9: ours.outputBytes / seed.outputBytes });
    }
  }
  return { file, rawBytes, loadAverageAtStart, rows };
}

/** The gzip program on the whole file, as one stream; CPU from GNU time (or bash `times`). */
async function measureGzipProgram(file: string, level: number): Promise<{ outputBytes: number; cpuSeconds: number; wallSeconds: number }> {
  const scratch = mkdtempSync(join(tmpdir(), 'restorable-real-dumps-'));
  try {
    const output = join(scratch, 'out.gz');
    const measured = await measureCommand(['bash', '-c', 'gzip -"$1" -c < "$2" > "$3"', 'gzip', String(level), file, output], pickMeasuringMethod(), {
      label: `gzip -${level} ${file}`,
      deadlineMs: 30 * 60_000,
    });
    return { outputBytes: statSync(output).size, cpuSeconds: measured.cpuSeconds, wallSeconds: measured.wallSeconds };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Our stage in this process; CPU is this process's user+sys (getrusage
 * RUSAGE_SELF counts every thread, so the workers' deflating is in it).
 * Output is counted, not written: the size is what matters here.
 */
async function measureStage(file: string, level: number, blockBytes: number, workers: number): Promise<{ outputBytes: number; cpuSeconds: number; wallSeconds: number }> {
  let outputBytes = 0;
  const counter = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      outputBytes += chunk.length;
      callback();
    },
  });
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await pipeline(createReadStream(file, { highWaterMark: MIB }), createGzipStage({ level, blockBytes, workers }), counter);
  const cpu = process.cpuUsage(cpuBefore);
  return { outputBytes, cpuSeconds: (cpu.user + cpu.system) / 1e6, wallSeconds: (performance.now() - started) / 1000 };
}

/** Starts the pool's threads before anything is measured. */
async function warmUpPool(workers: number): Promise<void> {
  const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const stage = createGzipStage({ level: 1, workers });
  const done = pipeline(stage, sink);
  stage.end(Buffer.alloc(2 * workers * MIB, 'a'));
  await done;
}

function render(result: FileResult): string {
  const lines = [
    `${basename(result.file)}: ${(result.rawBytes / 1e6).toFixed(2)} MB raw (load average ${result.loadAverageAtStart.toFixed(2)} at start)`,
    `  ${'method'.padEnd(40)} ${'output MB'.padStart(10)} ${'x gzip -9'.padStart(10)} ${'CPU s'.padStart(7)} ${'wall s'.padStart(7)}`,
    ...result.rows.map(
      (row) =>
        `  ${row.method.padEnd(40)} ${(row.outputBytes / 1e6).toFixed(3).padStart(10)} ${row.ratioToGzip9.toFixed(3).padStart(9)}x ${row.cpuSeconds.toFixed(2).padStart(7)} ${row.wallSeconds.toFixed(2).padStart(7)}`,
    ),
  ];
  return `${lines.join('\n')}\n\n`;
}

function integerList(text: string, min: number, max: number, name: string): number[] {
  const list = text.split(',').map((part) => Number(part.trim()));
  if (list.length === 0 || list.some((value) => !Number.isInteger(value) || value < min || value > max)) {
    throw new Error(`${name} takes integers ${min}-${max}, comma-separated; got ${text}`);
  }
  return list;
}

main().catch((error: unknown) => {
  process.stderr.write(`real-dumps: ${(error as Error).message}\n`);
  process.exitCode = 2;
});
