// Owns the benchmark's data set: the Laravel-like tree and SQL dump that
// ../shared/bench/make-dataset.mjs generates, cached under one directory per
// size (generating the reference size takes minutes). A cache entry counts
// only when its stamp, written last, names the same size and the same
// generator (sha256 of make-dataset.mjs): an interrupted or outdated build is
// thrown away and made again.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

export type DatasetSize = 'small' | 'reference';

export interface Dataset {
  size: DatasetSize;
  /** The application tree: what the `files` source and the seed's tar archive. */
  treeDir: string;
  /** Schema + data; creates and uses the database named by `database`. */
  sqlFile: string;
  database: string;
  /** True when this run made it (false: taken from the cache). */
  generated: boolean;
}

const DATABASE = 'laravel';

interface Stamp {
  size: DatasetSize;
  generatorSha256: string;
  database: string;
  madeAt: string;
}

export async function prepareDataset(generator: string, cacheRoot: string, size: DatasetSize, log: (line: string) => void): Promise<Dataset> {
  if (!existsSync(generator)) throw new Error(`the data set generator is missing: ${generator} (expected ../shared/bench/make-dataset.mjs beside the checkout)`);
  const generatorSha256 = createHash('sha256').update(readFileSync(generator)).digest('hex');
  const entryDir = join(cacheRoot, size);
  const stampFile = join(entryDir, 'complete.json');
  const dataset: Dataset = { size, treeDir: join(entryDir, 'tree'), sqlFile: join(entryDir, 'dump.sql'), database: DATABASE, generated: false };
  if (existsSync(stampFile)) {
    try {
      const stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as Stamp;
      if (stamp.size === size && stamp.generatorSha256 === generatorSha256 && stamp.database === DATABASE && existsSync(dataset.treeDir) && existsSync(dataset.sqlFile)) {
        log(`data set (${size}): cached in ${entryDir} (made ${stamp.madeAt})`);
        return dataset;
      }
    } catch {
      // an unreadable stamp is no stamp: build again
    }
    log(`data set (${size}): the cache in ${entryDir} is from another generator or size; making it again`);
  }
  rmSync(entryDir, { recursive: true, force: true });
  mkdirSync(entryDir, { recursive: true, mode: 0o700 });
  log(`data set (${size}): generating into ${entryDir} (reference size: a few minutes) ...`);
  const started = Date.now();
  const partialSql = `${dataset.sqlFile}.partial`;
  await Promise.all([
    runGenerator(generator, ['files', '--size', size, '--out', dataset.treeDir]),
    runGenerator(generator, ['sql', '--size', size, '--database', DATABASE, '--sql-out', partialSql]),
  ]);
  renameSync(partialSql, dataset.sqlFile);
  const stamp: Stamp = { size, generatorSha256, database: DATABASE, madeAt: new Date().toISOString() };
  writeFileSync(stampFile, `${JSON.stringify(stamp, null, 2)}\n`);
  log(`data set (${size}): made in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { ...dataset, generated: true };
}

const generatorsRunning = new Set<ChildProcess>();

/** Ends a generation in progress (Ctrl-C); the half-made cache entry has no stamp, so it is rebuilt next time. */
export function stopDatasetGeneration(): void {
  for (const child of generatorsRunning) child.kill('SIGTERM');
}

function runGenerator(generator: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [generator, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    generatorsRunning.add(child);
    child.once('close', () => generatorsRunning.delete(child));
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4_000)));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`make-dataset.mjs ${args.join(' ')} ${signal ? `was killed by ${signal}` : `exited with ${code}`}: ${stderr.trim()}`)),
    );
  });
}
