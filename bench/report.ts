// Owns what the benchmark concludes from its measurements: the per-round
// ratios (restorable ÷ seed, measured side by side in the same round), their
// medians, the check against the speed issue's targets, and the text table.
// Ratios are the figures; absolute seconds depend on how busy the shared
// machine was and are printed as informative only.

export const OPERATIONS = ['fullBackup', 'fullBackupZstd', 'fullBackupOneLevel', 'dbOnly', 'verify', 'restoreDb', 'restoreFiles'] as const;
export type Operation = (typeof OPERATIONS)[number];

export const OPERATION_TITLES: Record<Operation, string> = {
  fullBackup: 'full backup',
  fullBackupZstd: 'full backup, zstd',
  fullBackupOneLevel: 'full backup, one level',
  dbOnly: 'db only',
  verify: 'verify',
  restoreDb: 'restore db',
  restoreFiles: 'restore files',
};

/** What each side runs, for the legend and the JSON. */
export const OPERATION_COMMANDS: Record<Operation, { seed: string; restorable: string }> = {
  fullBackup: {
    seed: 'mysqldump --single-transaction --quick --routines --triggers --events db | gzip -9  and  tar -cf - tree | gzip -9, in parallel',
    restorable: 'restorable backup --json (sources db + files, fresh repository)',
  },
  fullBackupZstd: {
    seed: 'the same round\'s seed full backup (gzip -9; the seed has no zstd method, so its figures are reused, not run again)',
    restorable: 'restorable backup --json with compression: zstd (.sql.zst, .tar.zst; checked untimed with zstd -t and zstd -dc | tar -t)',
  },
  fullBackupOneLevel: {
    seed: 'the same round\'s seed full backup (its figures are reused, not run again)',
    restorable: 'only with --also-level N: restorable backup --json with compression: { level: N }, one gzip level for every artifact (4 was the default before databases got their own)',
  },
  dbOnly: { seed: 'mysqldump ... db | gzip -9', restorable: 'restorable backup --only db --json (fresh repository)' },
  verify: { seed: 'gunzip -t db.sql.gz && tar -tzf files.tar.gz > /dev/null (the seed docs\' check)', restorable: 'restorable verify latest --json' },
  restoreDb: { seed: 'gunzip < db.sql.gz | mariadb NEWDB', restorable: 'restorable restore db --into NEWDB --json' },
  restoreFiles: { seed: 'tar -xzf files.tar.gz -C NEWDIR', restorable: 'restorable restore files --to NEWDIR --json' },
};

export interface SideMeasurement {
  wallSeconds: number;
  /** user+sys of the command's process tree. */
  cpuSeconds: number;
  /** CPU the private MariaDB server spent meanwhile (dump and restore work happens there too). */
  serverCpuSeconds: number;
  peakRssBytes: number;
  /** Bytes written: the seed's .gz files; for restorable everything in its repository (artifacts, manifest, run log). */
  outputBytes?: number;
  /** restorable only: the artifacts alone (without manifest and logs). */
  artifactBytes?: number;
}

export interface PairMeasurement {
  operation: Operation;
  round: number;
  /** Which side ran first in this round (alternated, so neither always gets the warmer cache). */
  firstSide: 'seed' | 'restorable';
  seed: SideMeasurement;
  restorable: SideMeasurement;
  wallRatio: number;
  outputRatio?: number;
  artifactRatio?: number;
}

export interface RoundInfo {
  round: number;
  /** 1-minute load average when the round started: how busy the shared machine was. */
  loadAverageAtStart: number;
  /**
   * `restorable --version`: the fixed cost of starting the CLI (Node, the tsx
   * loader, our modules) that every restorable figure includes. It weighs
   * heavily on the small data set and hardly on the reference one.
   */
  restorableStartup: { wallSeconds: number; cpuSeconds: number; peakRssBytes: number };
}

export interface OperationSummary {
  operation: Operation;
  rounds: number;
  medianWallRatio: number;
  medianOutputRatio?: number;
  medianArtifactRatio?: number;
  seed: SideMeasurement;
  restorable: SideMeasurement;
}

export interface TargetCheck {
  target: string;
  measured: string;
  pass: boolean;
}

export function median(values: number[]): number {
  const finite = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const middle = Math.floor(finite.length / 2);
  return finite.length % 2 ? finite[middle]! : (finite[middle - 1]! + finite[middle]!) / 2;
}

function medianSide(sides: SideMeasurement[]): SideMeasurement {
  const of = (pick: (side: SideMeasurement) => number | undefined) => median(sides.map(pick).filter((value): value is number => value !== undefined));
  const summary: SideMeasurement = {
    wallSeconds: of((side) => side.wallSeconds),
    cpuSeconds: of((side) => side.cpuSeconds),
    serverCpuSeconds: of((side) => side.serverCpuSeconds),
    peakRssBytes: of((side) => side.peakRssBytes),
  };
  if (sides.some((side) => side.outputBytes !== undefined)) summary.outputBytes = of((side) => side.outputBytes);
  if (sides.some((side) => side.artifactBytes !== undefined)) summary.artifactBytes = of((side) => side.artifactBytes);
  return summary;
}

export function summarize(pairs: PairMeasurement[]): OperationSummary[] {
  return OPERATIONS.flatMap((operation) => {
    const mine = pairs.filter((pair) => pair.operation === operation);
    if (mine.length === 0) return [];
    const summary: OperationSummary = {
      operation,
      rounds: mine.length,
      medianWallRatio: median(mine.map((pair) => pair.wallRatio)),
      seed: medianSide(mine.map((pair) => pair.seed)),
      restorable: medianSide(mine.map((pair) => pair.restorable)),
    };
    if (mine.some((pair) => pair.outputRatio !== undefined)) summary.medianOutputRatio = median(mine.map((pair) => pair.outputRatio ?? NaN));
    if (mine.some((pair) => pair.artifactRatio !== undefined)) summary.medianArtifactRatio = median(mine.map((pair) => pair.artifactRatio ?? NaN));
    return [summary];
  });
}

const MIB = 1024 * 1024;
const RSS_LIMIT_BYTES = 200 * MIB;

/** The targets of the speed issue, graded on the medians (RSS: on the worst single restorable run). */
export function checkTargets(summaries: OperationSummary[], pairs: PairMeasurement[]): TargetCheck[] {
  const find = (operation: Operation) => summaries.find((summary) => summary.operation === operation);
  const checks: TargetCheck[] = [];
  const full = find('fullBackup');
  if (full) {
    const output = full.medianOutputRatio ?? NaN;
    checks.push({
      target: 'full backup wall <= 0.25x seed, total output <= 1.01x seed',
      measured: `wall ${ratio(full.medianWallRatio)}, output ${ratio(output, 3)}`,
      pass: full.medianWallRatio <= 0.25 && output <= 1.01,
    });
  }
  const zstd = find('fullBackupZstd');
  if (zstd) checks.push({ target: 'full backup with compression: zstd, wall <= 0.12x seed', measured: `wall ${ratio(zstd.medianWallRatio)}, output ${ratio(zstd.medianOutputRatio ?? NaN, 3)}`, pass: zstd.medianWallRatio <= 0.12 });
  const dbOnly = find('dbOnly');
  if (dbOnly) checks.push({ target: 'db part wall <= 0.4x seed', measured: `wall ${ratio(dbOnly.medianWallRatio)}`, pass: dbOnly.medianWallRatio <= 0.4 });
  const restoreDb = find('restoreDb');
  if (restoreDb) checks.push({ target: 'restore db wall <= 1.1x seed', measured: `wall ${ratio(restoreDb.medianWallRatio)}`, pass: restoreDb.medianWallRatio <= 1.1 });
  if (pairs.length > 0) {
    const worstOf = (candidates: PairMeasurement[]) => candidates.reduce((top, pair) => (pair.restorable.peakRssBytes > top.restorable.peakRssBytes ? pair : top));
    const worst = worstOf(pairs);
    const isBackup = (operation: Operation) => operation === 'fullBackup' || operation === 'fullBackupZstd' || operation === 'fullBackupOneLevel' || operation === 'dbOnly';
    const backups = pairs.filter((pair) => isBackup(pair.operation));
    // Graded on every command; the backups' own peak is named too, since the speed issue is about backups.
    const backupNote = backups.length && !isBackup(worst.operation) ? `; backups alone: max ${mib(worstOf(backups).restorable.peakRssBytes)} MiB` : '';
    checks.push({
      target: 'restorable peak RSS <= 200 MiB (every command, every round)',
      measured: `max ${mib(worst.restorable.peakRssBytes)} MiB (${OPERATION_TITLES[worst.operation]}, round ${worst.round})${backupNote}`,
      pass: worst.restorable.peakRssBytes <= RSS_LIMIT_BYTES,
    });
  }
  return checks;
}

// ---------------------------------------------------------------- text rendering

const HEADER = ['operation', 'wall x seed', 'seed wall s*', 'rest wall s*', 'seed CPU s', 'rest CPU s', 'srv CPU s seed/rest', 'seed RSS MiB', 'rest RSS MiB', 'output x seed', 'seed out MB', 'rest out MB'];

function row(title: string, wallRatio: number, seed: SideMeasurement, restorable: SideMeasurement, outputRatio: number | undefined): string[] {
  return [
    title,
    ratio(wallRatio),
    seconds(seed.wallSeconds),
    seconds(restorable.wallSeconds),
    seconds(seed.cpuSeconds),
    seconds(restorable.cpuSeconds),
    `${seconds(seed.serverCpuSeconds)} / ${seconds(restorable.serverCpuSeconds)}`,
    mib(seed.peakRssBytes),
    mib(restorable.peakRssBytes),
    outputRatio === undefined ? '-' : ratio(outputRatio, 3),
    seed.outputBytes === undefined ? '-' : megabytes(seed.outputBytes),
    restorable.outputBytes === undefined ? '-' : megabytes(restorable.outputBytes),
  ];
}

export function renderRound(info: RoundInfo, pairs: PairMeasurement[]): string {
  const first = pairs[0]?.firstSide ?? 'seed';
  const title = `round ${info.round} (load average ${info.loadAverageAtStart.toFixed(2)} at start; ${first} ran first in each pair; ${describeStartup(info.restorableStartup)})`;
  return `${title}\n${table([HEADER, ...pairs.map((pair) => row(OPERATION_TITLES[pair.operation], pair.wallRatio, pair.seed, pair.restorable, pair.outputRatio))])}`;
}

export function renderMedians(summaries: OperationSummary[], roundInfos: RoundInfo[]): string {
  const rounds = Math.max(0, ...summaries.map((summary) => summary.rounds));
  const startup = {
    wallSeconds: median(roundInfos.map((info) => info.restorableStartup.wallSeconds)),
    cpuSeconds: median(roundInfos.map((info) => info.restorableStartup.cpuSeconds)),
    peakRssBytes: median(roundInfos.map((info) => info.restorableStartup.peakRssBytes)),
  };
  const loads = roundInfos.map((info) => info.loadAverageAtStart.toFixed(2)).join(', ');
  const lines = [
    `medians over ${rounds} round(s) (ratios: median of the per-round ratios; load average at round starts: ${loads}; ${describeStartup(startup)})`,
    table([HEADER, ...summaries.map((summary) => row(OPERATION_TITLES[summary.operation], summary.medianWallRatio, summary.seed, summary.restorable, summary.medianOutputRatio))]),
  ];
  const full = summaries.find((summary) => summary.operation === 'fullBackup');
  if (full?.medianArtifactRatio !== undefined) lines.push(`artifacts alone (without manifest and run log): full backup ${ratio(full.medianArtifactRatio, 3)} of the seed's output`);
  return lines.join('\n');
}

export function renderTargets(checks: TargetCheck[]): string {
  return ['targets (speed issue)', ...checks.map((check) => `  ${check.pass ? 'PASS' : 'MISS'}  ${check.target.padEnd(62)} measured: ${check.measured}`)].join('\n');
}

export function renderLegend(): string {
  return [
    'legend: "wall x seed" and "output x seed" are restorable / seed, measured side by side in the same round: these are the figures.',
    '        * absolute seconds are informative only (they move with the load of the shared machine).',
    '        CPU s = user+sys of the command\'s process tree; srv CPU s = what the private MariaDB spent meanwhile;',
    '        RSS = peak of the largest process in the tree; rest out MB = everything restorable wrote (artifacts, manifest, run log).',
    '        restorable start-up = `restorable --version` (Node + tsx loader + modules): a fixed cost inside every restorable figure.',
    ...Object.entries(OPERATION_COMMANDS).map(([operation, commands]) => `        ${OPERATION_TITLES[operation as Operation]}: seed = ${commands.seed}; restorable = ${commands.restorable}`),
  ].join('\n');
}

function describeStartup(startup: RoundInfo['restorableStartup']): string {
  return `restorable start-up ${seconds(startup.wallSeconds)} s wall, ${seconds(startup.cpuSeconds)} CPU s, ${mib(startup.peakRssBytes)} MiB`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((cells) => cells[column]!.length)));
  return rows.map((cells) => `  ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')}`).join('\n');
}

function ratio(value: number, digits = 2): string {
  return Number.isFinite(value) ? `${value.toFixed(digits)}x` : '-';
}

function seconds(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function mib(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / MIB).toFixed(0) : '-';
}

function megabytes(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / 1e6).toFixed(1) : '-';
}
