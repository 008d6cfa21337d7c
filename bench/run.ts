// `npm run bench`: restorable against the seed's shell method on the same
// Laravel-like data, side by side, round after round. Owns the run itself:
// options, the scratch directory, the private MariaDB, the restorable config,
// the order of the measurements, cleaning up (also on Ctrl-C) and the output.
// What a figure means lives in report.ts; how one command is measured in
// measure.ts; the data set and its cache in dataset.ts. docs/benchmark.md
// explains how to run it and how to read it.

import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { prepareDataset, stopDatasetGeneration, type Dataset, type DatasetSize } from './dataset.ts';
import { CommandFailedError, measureCommand, pickMeasuringMethod, processCpuSeconds, stopAllCommands, type Measurement, type MeasuringMethod } from './measure.ts';
import { startBenchMariadb, type BenchMariadb } from './private-mariadb.ts';
import {
  checkTargets,
  OPERATION_COMMANDS,
  OPERATION_TITLES,
  renderLegend,
  renderMedians,
  renderRound,
  renderTargets,
  summarize,
  type Operation,
  type PairMeasurement,
  type RoundInfo,
  type SideMeasurement,
} from './report.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..');
const RESTORABLE_BIN = join(REPO_ROOT, 'bin', 'restorable');
const DATASET_GENERATOR = resolve(REPO_ROOT, '..', 'shared', 'bench', 'make-dataset.mjs');
const DEFAULT_CACHE_DIR = join(tmpdir(), 'restorable-bench-cache');
/** One command (a 1.5 GB gzip -9 under load takes minutes) is killed after this long. */
const COMMAND_DEADLINE_MS = 60 * 60_000;

const USAGE = `usage: npm run bench -- [--size small|reference] [--rounds N] [--json] [--out FILE] [--cache-dir DIR] [--also-level N]

  --size       data set size: reference (default, ~1.5 GB files + ~200 MB dump) or small (~100 MB + ~30 MB)
  --rounds     rounds of every measurement, seed and restorable alternating who goes first (default 3)
  --json       print the results as JSON on stdout (the tables then go to stderr)
  --out FILE   also write the results as JSON to FILE
  --cache-dir  where generated data sets are kept between runs (default ${DEFAULT_CACHE_DIR})
  --also-level also run the full backup with compression: { level: N } (one gzip level for every artifact;
               4 was the default before databases got their own), against the same round's seed

Expect about 1-2 minutes for --size small --rounds 1 and 20-30 minutes for the reference size with 3 rounds
(plus a few minutes the first time, to generate the data set). See docs/benchmark.md.`;

interface Options {
  size: DatasetSize;
  rounds: number;
  json: boolean;
  out?: string;
  cacheDir: string;
  /** Also run the full backup with one gzip level for every artifact (`compression: { level: N }`), against the same seed run. */
  alsoLevel: number | undefined;
}

function readOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string', default: 'reference' },
      rounds: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      'cache-dir': { type: 'string', default: DEFAULT_CACHE_DIR },
      'also-level': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  if (values.size !== 'small' && values.size !== 'reference') throw new UsageError(`--size must be small or reference, not ${values.size}`);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50) throw new UsageError(`--rounds must be a whole number from 1 to 50, not ${values.rounds}`);
  const alsoLevel = values['also-level'] === undefined ? undefined : Number(values['also-level']);
  if (alsoLevel !== undefined && !(Number.isInteger(alsoLevel) && alsoLevel >= 1 && alsoLevel <= 9)) throw new UsageError(`--also-level must be a gzip level from 1 to 9, not ${values['also-level']}`);
  return { size: values.size, rounds, json: values.json, out: values.out === undefined ? undefined : resolve(values.out), cacheDir: resolve(values['cache-dir']), alsoLevel };
}

class UsageError extends Error {}
class InterruptedError extends Error {}

/** Everything a round needs; made once per benchmark run. */
interface Bench {
  dataset: Dataset;
  mariadb: BenchMariadb;
  method: MeasuringMethod;
  configFile: string;
  repository: string;
  /** The same sources with `compression: zstd`, into a repository of its own. */
  zstd: { configFile: string; repository: string };
  /** With --also-level: the same sources with `compression: { level: N }`, into a repository of its own. */
  oneLevel: { level: number; configFile: string; repository: string } | undefined;
  seedDir: string;
  restoreDir: string;
  log: (line: string) => void;
  checkpoint: () => void;
}

async function main(argv: string[]): Promise<number> {
  let options: Options | 'help';
  try {
    options = readOptions(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { size, rounds } = options;
  // Tables go to stdout, unless stdout carries the JSON.
  const print = (text: string) => (options.json ? process.stderr : process.stdout).write(`${text}\n`);
  const startedAt = Date.now();
  const log = (line: string) => process.stderr.write(`[bench ${formatElapsed(Date.now() - startedAt)}] ${line}\n`);

  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      log(`${signal} again: still stopping, please wait for the clean-up`);
      return;
    }
    interrupted = signal;
    log(`${signal}: stopping what runs, then stopping MariaDB and removing the scratch directory`);
    stopDatasetGeneration();
    void stopAllCommands();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const checkpoint = () => {
    if (interrupted) throw new InterruptedError(`interrupted by ${interrupted}`);
  };

  const method = pickMeasuringMethod();
  if (method !== 'gnu-time') {
    log('note: /usr/bin/time (Debian package `time`) is missing: CPU comes from bash `times`, peak RSS is sampled from /proc every 100 ms (apt-get install time for exact figures)');
  }
  for (const tool of ['mariadb-install-db', 'mariadbd', 'mariadb', 'mysqldump', 'gzip', 'zstd', 'tar', 'bash', 'sync']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      process.stderr.write(`the benchmark needs ${tool} on PATH (Debian: mariadb-server, mariadb-client, gzip, zstd, tar, bash, coreutils)\n`);
      return 2;
    }
  }

  const scratch = mkdtempSync(join(tmpdir(), 'restorable-bench-'));
  let mariadb: BenchMariadb | undefined;
  try {
    const dataset = await prepareDataset(DATASET_GENERATOR, options.cacheDir, size, log);
    checkpoint();
    const treeStats = measureTree(dataset.treeDir);
    log(`data set: ${treeStats.files} files, ${megabytes(treeStats.bytes)} MB in ${dataset.treeDir}; SQL ${megabytes(statSync(dataset.sqlFile).size)} MB`);

    log(`starting a private MariaDB in ${join(scratch, 'mariadb')}`);
    mariadb = await startBenchMariadb(join(scratch, 'mariadb'));
    log(`MariaDB up (socket ${mariadb.socket}, port ${mariadb.port}); loading the data set's SQL ...`);
    const loadStarted = Date.now();
    await mariadb.loadFile(dataset.sqlFile);
    log(`loaded in ${formatElapsed(Date.now() - loadStarted)}`);
    checkpoint();

    const bench: Bench = {
      dataset,
      mariadb,
      method,
      configFile: join(scratch, 'restorable.yml'),
      zstd: { configFile: join(scratch, 'restorable-zstd.yml'), repository: join(scratch, 'repository-zstd') },
      oneLevel:
        options.alsoLevel === undefined
          ? undefined
          : { level: options.alsoLevel, configFile: join(scratch, 'restorable-one-level.yml'), repository: join(scratch, 'repository-one-level') },
      repository: join(scratch, 'repository'),
      seedDir: join(scratch, 'seed'),
      restoreDir: join(scratch, 'restore'),
      log,
      checkpoint,
    };
    writeConfig(bench);
    // Untimed: checks the config and fills tsx's compile cache, so round 1 does not pay for it.
    await measureCommand([RESTORABLE_BIN, '-c', bench.configFile, 'config', 'validate'], method, { label: 'restorable config validate', deadlineMs: 120_000 });
    const versions = toolVersions();

    print(
      `restorable bench: --size ${size} (${treeStats.files} files, ${megabytes(treeStats.bytes)} MB; SQL ${megabytes(statSync(dataset.sqlFile).size)} MB), ` +
        `${rounds} round(s), ${cpus().length} CPUs, load average ${loadavg().map((value) => value.toFixed(2)).join(' ')}, measured with ${method}`,
    );
    print(`versions: ${Object.entries(versions).map(([tool, version]) => `${tool} ${version}`).join('; ')}\n`);

    const pairs: PairMeasurement[] = [];
    const roundInfos: RoundInfo[] = [];
    for (let round = 1; round <= rounds; round++) {
      const loadAverageAtStart = loadavg()[0]!;
      log(`round ${round}/${rounds} (load average ${loadAverageAtStart.toFixed(2)})`);
      const startup = await measure(bench, [RESTORABLE_BIN, '--version'], 'restorable --version');
      const info: RoundInfo = {
        round,
        loadAverageAtStart,
        restorableStartup: { wallSeconds: startup.wallSeconds, cpuSeconds: startup.cpuSeconds, peakRssBytes: startup.peakRssBytes },
      };
      roundInfos.push(info);
      const measured = await runRound(bench, round);
      pairs.push(...measured);
      print(`${renderRound(info, measured)}\n`);
    }

    const summaries = summarize(pairs);
    const targets = checkTargets(summaries, pairs);
    print(renderMedians(summaries, roundInfos));
    print('');
    print(renderTargets(targets));
    print('');
    print(renderLegend());
    log(`done in ${formatElapsed(Date.now() - startedAt)}`);

    const results = {
      benchmark: 'restorable vs the seed method',
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: new Date().toISOString(),
      size,
      rounds,
      measuringMethod: method,
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
      versions,
      dataset: { treeDir: dataset.treeDir, treeFiles: treeStats.files, treeBytes: treeStats.bytes, sqlBytes: statSync(dataset.sqlFile).size, generatedThisRun: dataset.generated },
      commands: OPERATION_COMMANDS,
      roundInfo: roundInfos,
      pairs,
      medians: summaries,
      targets,
    };
    const json = `${JSON.stringify(results, null, 2)}\n`;
    if (options.json) process.stdout.write(json);
    if (options.out) {
      writeFileSync(options.out, json);
      log(`results written to ${options.out}`);
    }
    return 0;
  } catch (error) {
    if (interrupted) {
      log(`interrupted (${interrupted}); nothing measured is printed for the unfinished round`);
      return 130;
    }
    const message = error instanceof CommandFailedError || error instanceof UsageError ? error.message : (error as Error).stack ?? String(error);
    process.stderr.write(`bench FAILED: ${message}\n`);
    return 2;
  } finally {
    await stopAllCommands();
    if (mariadb) {
      log('stopping MariaDB');
      await mariadb.stop().catch((error: Error) => log(`stopping MariaDB failed: ${error.message}`));
    }
    rmSync(scratch, { recursive: true, force: true });
    log(`removed ${scratch} (the data set stays cached in ${options.cacheDir})`);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

// ---------------------------------------------------------------- one round

async function runRound(bench: Bench, round: number): Promise<PairMeasurement[]> {
  const seedFirst = round % 2 === 1;
  const { dataset, mariadb, seedDir, restoreDir, repository } = bench;
  for (const dir of [seedDir, restoreDir]) mkdirSync(dir, { recursive: true });
  rmSync(repository, { recursive: true, force: true });
  const seedDb = join(seedDir, 'db_backup.sql.gz');
  const seedFiles = join(seedDir, 'files_backup.tar.gz');
  const seedDbOnly = join(seedDir, 'db_only.sql.gz');
  const dumpCommand = `mysqldump ${mariadb.clientArgs.map(quote).join(' ')} --single-transaction --quick --routines --triggers --events ${quote(dataset.database)}`;
  const pairs: PairMeasurement[] = [];
  const pair = async (operation: Operation, seed: () => Promise<SideMeasurement>, restorable: () => Promise<SideMeasurement>) => {
    bench.checkpoint();
    bench.log(`  ${OPERATION_TITLES[operation]}: ${seedFirst ? 'seed, then restorable' : 'restorable, then seed'}`);
    const first = seedFirst ? await withServerCpu(bench, seed) : await withServerCpu(bench, restorable);
    const second = seedFirst ? await withServerCpu(bench, restorable) : await withServerCpu(bench, seed);
    const [seedSide, restorableSide] = seedFirst ? [first, second] : [second, first];
    record(operation, seedSide, restorableSide);
  };
  const record = (operation: Operation, seedSide: SideMeasurement, restorableSide: SideMeasurement) => {
    const measured: PairMeasurement = {
      operation,
      round,
      firstSide: seedFirst ? 'seed' : 'restorable',
      seed: seedSide,
      restorable: restorableSide,
      wallRatio: restorableSide.wallSeconds / seedSide.wallSeconds,
    };
    if (seedSide.outputBytes !== undefined && restorableSide.outputBytes !== undefined) measured.outputRatio = restorableSide.outputBytes / seedSide.outputBytes;
    if (seedSide.outputBytes !== undefined && restorableSide.artifactBytes !== undefined) measured.artifactRatio = restorableSide.artifactBytes / seedSide.outputBytes;
    bench.log(`    wall: seed ${seedSide.wallSeconds.toFixed(2)} s, restorable ${restorableSide.wallSeconds.toFixed(2)} s -> ${measured.wallRatio.toFixed(2)}x`);
    pairs.push(measured);
  };

  // 1. Full backup: the seed runs its two pipelines in parallel, as the seed script does.
  await pair(
    'fullBackup',
    async () => {
      const started = performance.now();
      const [db, files] = await Promise.all([
        measure(bench, pipeline(`${dumpCommand} | gzip -9 > ${quote(seedDb)}`), 'seed: mysqldump | gzip -9'),
        measure(bench, pipeline(`tar -cf - ${quote(dataset.treeDir)} | gzip -9 > ${quote(seedFiles)}`), 'seed: tar | gzip -9'),
      ]);
      return {
        wallSeconds: (performance.now() - started) / 1000,
        cpuSeconds: db.cpuSeconds + files.cpuSeconds,
        serverCpuSeconds: NaN,
        peakRssBytes: Math.max(db.peakRssBytes, files.peakRssBytes),
        outputBytes: statSync(seedDb).size + statSync(seedFiles).size,
      };
    },
    () => restorableBackup(bench, []),
  );

  // 1b. The same full backup with compression: zstd, against this round's seed figures.
  bench.checkpoint();
  bench.log(`  ${OPERATION_TITLES.fullBackupZstd}: restorable (seed figures from this round's full backup)`);
  const seedFull = pairs.find((measured) => measured.operation === 'fullBackup')!.seed;
  const zstdSide = await withServerCpu(bench, () => restorableBackup(bench, [], bench.zstd));
  checkZstdArtifacts(bench.zstd.repository);
  record('fullBackupZstd', seedFull, zstdSide);
  rmSync(bench.zstd.repository, { recursive: true, force: true });

  // 1c. With --also-level N: the full backup with one gzip level for every artifact, against the same seed figures.
  if (bench.oneLevel) {
    bench.checkpoint();
    bench.log(`  ${OPERATION_TITLES.fullBackupOneLevel} (compression: { level: ${bench.oneLevel.level} }): restorable (seed figures from this round's full backup)`);
    record('fullBackupOneLevel', seedFull, await withServerCpu(bench, () => restorableBackup(bench, [], bench.oneLevel)));
    rmSync(bench.oneLevel.repository, { recursive: true, force: true });
  }

  // 2. Verify what each just wrote.
  await pair(
    'verify',
    async () => sideOf(await measure(bench, pipeline(`gunzip -t ${quote(seedDb)} && tar -tzf ${quote(seedFiles)} > /dev/null`), 'seed: gunzip -t && tar -tzf')),
    async () => sideOf(await measure(bench, restorable(bench, 'verify', 'latest'), 'restorable verify')),
  );

  // 3. Restore the database into a new database on the same server.
  const seedTarget = `bench_seed_r${round}`;
  const restorableTarget = `bench_restorable_r${round}`;
  await dropDatabases(mariadb, [seedTarget, restorableTarget]);
  await pair(
    'restoreDb',
    async () => {
      await mariadb.query(`CREATE DATABASE \`${seedTarget}\` CHARACTER SET utf8mb4`);
      return sideOf(await measure(bench, pipeline(`gunzip < ${quote(seedDb)} | mariadb ${mariadb.clientArgs.map(quote).join(' ')} ${quote(seedTarget)}`), 'seed: gunzip | mariadb'));
    },
    async () => sideOf(await measure(bench, restorable(bench, 'restore', 'db', '--into', restorableTarget), 'restorable restore db')),
  );
  await compareDatabases(bench, dataset.database, [seedTarget, restorableTarget]);
  await dropDatabases(mariadb, [seedTarget, restorableTarget]);

  // 4. Restore the files into new directories.
  const seedTree = join(restoreDir, `seed-r${round}`);
  const restorableTree = join(restoreDir, `restorable-r${round}`);
  await pair(
    'restoreFiles',
    async () => {
      mkdirSync(seedTree);
      return sideOf(await measure(bench, ['tar', '-xzf', seedFiles, '-C', seedTree], 'seed: tar -xzf'));
    },
    async () => sideOf(await measure(bench, restorable(bench, 'restore', 'files', '--to', restorableTree), 'restorable restore files')),
  );
  compareTrees(bench, dataset.treeDir, seedTree, restorableTree);
  rmSync(restoreDir, { recursive: true, force: true });

  // 5. The database part alone, each into a fresh place.
  rmSync(repository, { recursive: true, force: true });
  await pair(
    'dbOnly',
    async () => {
      const measured = await measure(bench, pipeline(`${dumpCommand} | gzip -9 > ${quote(seedDbOnly)}`), 'seed: mysqldump | gzip -9');
      return { ...sideOf(measured), outputBytes: statSync(seedDbOnly).size };
    },
    () => restorableBackup(bench, ['--only', 'db']),
  );

  rmSync(repository, { recursive: true, force: true });
  rmSync(seedDir, { recursive: true, force: true });
  // Restore into the order the report uses.
  return pairs.sort((a, b) => ORDER.indexOf(a.operation) - ORDER.indexOf(b.operation));
}

const ORDER: Operation[] = ['fullBackup', 'fullBackupZstd', 'fullBackupOneLevel', 'dbOnly', 'verify', 'restoreDb', 'restoreFiles'];

async function restorableBackup(bench: Bench, extraArgs: string[], target = { configFile: bench.configFile, repository: bench.repository }): Promise<SideMeasurement> {
  const { configFile, repository } = target;
  rmSync(repository, { recursive: true, force: true });
  // Untimed: a backup needs an initialised repository (`restorable init`), which the seed has no counterpart of.
  const init = spawnSync(process.execPath, [RESTORABLE_BIN, '-c', configFile, 'init'], { encoding: 'utf8' });
  if (init.status !== 0) throw new CommandFailedError(`restorable init failed: ${init.stderr.slice(0, 500)}`);
  const variant = target === bench.zstd ? ' (zstd)' : target === bench.oneLevel ? ` (level ${bench.oneLevel.level})` : '';
  const label = `restorable backup ${extraArgs.join(' ')}${variant}`.trim();
  // Exit 1 = published with warnings (e.g. a file could not be read): measured, but said out loud.
  const measured = await measure(bench, [RESTORABLE_BIN, '-c', configFile, 'backup', ...extraArgs, '--json'], label, [0, 1]);
  const outcome = JSON.parse(measured.stdout) as { status: string; artifacts?: { source: string; sizeBytes: number }[]; warnings?: unknown[] };
  if (outcome.status !== 'ok') bench.log(`    ${label}: status ${outcome.status}, warnings: ${JSON.stringify(outcome.warnings).slice(0, 500)}`);
  return {
    ...sideOf(measured),
    outputBytes: directoryBytes(repository),
    artifactBytes: (outcome.artifacts ?? []).reduce((sum, artifact) => sum + artifact.sizeBytes, 0),
  };
}

/** Untimed: what the zstd run wrote must be readable by the stock tool, or its speed means nothing. */
function checkZstdArtifacts(repository: string): void {
  const artifacts = readdirSync(repository, { recursive: true, encoding: 'utf8' }).filter((path) => path.endsWith('.zst')).map((path) => join(repository, path));
  const tar = artifacts.find((path) => path.endsWith('.tar.zst'));
  if (!artifacts.some((path) => path.endsWith('.sql.zst')) || !tar) throw new CommandFailedError(`the zstd backup wrote no .sql.zst and .tar.zst in ${repository}`);
  for (const script of [`zstd -q -t ${artifacts.map(quote).join(' ')}`, `zstd -q -dc ${quote(tar)} | tar -tf - > /dev/null`]) {
    const result = spawnSync('bash', ['-c', `set -o pipefail; ${script}`], { encoding: 'utf8' });
    if (result.status !== 0) throw new CommandFailedError(`stock zstd could not read the zstd backup: ${script}: ${result.stderr.trim()}`);
  }
}

function restorable(bench: Bench, ...args: string[]): string[] {
  return [RESTORABLE_BIN, '-c', bench.configFile, ...args, '--json'];
}

/** A shell pipeline that fails when any of its commands fails (Debian's dash has no pipefail: bash). */
function pipeline(script: string): string[] {
  return ['bash', '-c', `set -o pipefail; ${script}`];
}

async function measure(bench: Bench, argv: string[], label: string, okExitCodes?: number[]): Promise<Measurement> {
  bench.checkpoint();
  // Untimed: write back what the previous command left dirty, so it is not billed to this one.
  spawnSync('sync');
  return measureCommand(argv, bench.method, { label, deadlineMs: COMMAND_DEADLINE_MS, okExitCodes });
}

async function withServerCpu(bench: Bench, run: () => Promise<SideMeasurement>): Promise<SideMeasurement> {
  const before = processCpuSeconds(bench.mariadb.pid);
  const side = await run();
  // Clock ticks are 1/100 s: round away the float residue of the subtraction.
  return { ...side, serverCpuSeconds: Math.round((processCpuSeconds(bench.mariadb.pid) - before) * 100) / 100 };
}

function sideOf(measured: Measurement): SideMeasurement {
  return { wallSeconds: measured.wallSeconds, cpuSeconds: measured.cpuSeconds, serverCpuSeconds: NaN, peakRssBytes: measured.peakRssBytes };
}

// ---------------------------------------------------------------- set-up and sanity checks

function writeConfig(bench: Bench): void {
  const yaml = [
    '# Written by `npm run bench` (bench/run.ts) for one benchmark run; removed with its scratch directory.',
    'app: bench',
    `repository: ${JSON.stringify(bench.repository)}`,
    'sources:',
    `  db: { type: mysql, socket: ${JSON.stringify(bench.mariadb.socket)}, user: root, database: ${JSON.stringify(bench.dataset.database)} }`,
    `  files: { type: files, paths: [${JSON.stringify(bench.dataset.treeDir)}] }`,
    '',
  ].join('\n');
  writeFileSync(bench.configFile, yaml, { mode: 0o600 });
  const zstdYaml = yaml.replace(`repository: ${JSON.stringify(bench.repository)}`, `repository: ${JSON.stringify(bench.zstd.repository)}`);
  writeFileSync(bench.zstd.configFile, `${zstdYaml}compression: zstd\n`, { mode: 0o600 });
  if (bench.oneLevel) {
    const oneLevelYaml = yaml.replace(`repository: ${JSON.stringify(bench.repository)}`, `repository: ${JSON.stringify(bench.oneLevel.repository)}`);
    writeFileSync(bench.oneLevel.configFile, `${oneLevelYaml}compression: { level: ${bench.oneLevel.level} }\n`, { mode: 0o600 });
  }
}

async function dropDatabases(mariadb: BenchMariadb, names: string[]): Promise<void> {
  await mariadb.query(names.map((name) => `DROP DATABASE IF EXISTS \`${name}\`;`).join(' '));
}

/** Both restores must hold what the source holds (exact row counts per table), or the timing compares different work. */
async function compareDatabases(bench: Bench, source: string, targets: string[]): Promise<void> {
  const tables = (await bench.mariadb.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = '${source}' AND table_type = 'BASE TABLE' ORDER BY table_name`))
    .split('\n')
    .filter(Boolean);
  const counts = async (database: string) =>
    (await bench.mariadb.query(tables.map((table) => `SELECT '${table}', COUNT(*) FROM \`${database}\`.\`${table}\``).join(' UNION ALL '))).trim();
  const expected = await counts(source);
  for (const target of targets) {
    if ((await counts(target)) !== expected) bench.log(`    WARNING: ${target} does not hold the same row counts as ${source}: the restore db figures compare unequal work`);
  }
}

/** Both restored trees must hold the data set's tree (file count and bytes), under its absolute path. */
function compareTrees(bench: Bench, sourceTree: string, ...restoredRoots: string[]): void {
  const expected = measureTree(sourceTree);
  for (const root of restoredRoots) {
    const restoredTree = join(root, sourceTree);
    const found = existsSync(restoredTree) ? measureTree(restoredTree) : { files: 0, bytes: 0 };
    if (found.files !== expected.files || found.bytes !== expected.bytes) {
      bench.log(`    WARNING: ${restoredTree} holds ${found.files} files / ${found.bytes} bytes, the data set ${expected.files} / ${expected.bytes}: the restore files figures compare unequal work`);
    }
  }
}

/** Regular files and their bytes under dir (symlinks are not followed). */
function measureTree(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        files++;
        bytes += lstatSync(path).size;
      }
    }
  };
  walk(dir);
  return { files, bytes };
}

function directoryBytes(dir: string): number {
  return existsSync(dir) ? measureTree(dir).bytes : 0;
}

function toolVersions(): Record<string, string> {
  const firstLine = (command: string, args: string[]) => {
    const result = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
    return `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n')[0] ?? '?';
  };
  return {
    restorable: firstLine(RESTORABLE_BIN, ['--version']),
    node: process.version,
    mysqldump: firstLine('mysqldump', ['--version']),
    mariadbd: firstLine('mariadbd', ['--version']),
    gzip: firstLine('gzip', ['--version']),
    tar: firstLine('tar', ['--version']),
  };
}

function quote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function formatElapsed(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

process.exitCode = await main(process.argv.slice(2));
