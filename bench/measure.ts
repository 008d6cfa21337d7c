// Owns measuring one command for the benchmark: wall time (our clock, from
// spawn to exit), CPU seconds (user+sys of the whole process tree) and peak
// RSS (of the largest process in the tree), the way the performance baseline
// measured them: GNU time (`/usr/bin/time -f`), which reads the rusage that
// wait4() returns for the tree. Where GNU time is missing (Debian package
// `time`), a bash wrapper reports the children's CPU with the `times`
// builtin and peak RSS is sampled from /proc (VmHWM of every process in the
// tree): close, but a short-lived process can slip between two samples.
//
// Every command runs in its own process group, so stopAllCommands() (Ctrl-C,
// a failure elsewhere) can end it together with everything it started.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export const GNU_TIME = '/usr/bin/time';

export interface Measurement {
  wallSeconds: number;
  /** user + sys of the process tree (the server's CPU is not in it: see serverCpuSeconds). */
  cpuSeconds: number;
  /** Of the largest single process in the tree, as GNU time's %M reports it. */
  peakRssBytes: number;
  exitCode: number;
  stdout: string;
}

export interface CommandOptions {
  /** What the command is, for error messages ("seed: mysqldump | gzip -9"). */
  label: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The command is killed (its whole process group) after this long. */
  deadlineMs: number;
  /** Exit codes that count as success (default [0]); restorable's 1 means "done, with warnings". */
  okExitCodes?: number[];
}

export class CommandFailedError extends Error {}

/** 'gnu-time' when /usr/bin/time is there, else the bash + /proc fallback. */
export type MeasuringMethod = 'gnu-time' | 'bash-times-and-proc';

/** RESTORABLE_BENCH_WITHOUT_GNU_TIME=1 takes the fallback on purpose (to check it where GNU time is installed). */
export function pickMeasuringMethod(): MeasuringMethod {
  return existsSync(GNU_TIME) && !process.env.RESTORABLE_BENCH_WITHOUT_GNU_TIME ? 'gnu-time' : 'bash-times-and-proc';
}

const running = new Set<ChildProcess>();
let stopping = false;

/** Kills every command still running (whole process groups): TERM, then KILL after a grace period. */
export async function stopAllCommands(graceMs = 5_000): Promise<void> {
  stopping = true;
  const children = [...running];
  for (const child of children) signalGroup(child, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (running.size > 0 && Date.now() < deadline) await sleep(100);
  for (const child of running) signalGroup(child, 'SIGKILL');
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

/** Runs argv (no shell: pass ['bash', '-c', ...] for a pipeline) and measures it. Non-zero exit rejects. */
export async function measureCommand(argv: string[], method: MeasuringMethod, options: CommandOptions): Promise<Measurement> {
  if (stopping) throw new CommandFailedError(`${options.label}: not started, the benchmark is stopping`);
  const reportDir = mkdtempSync(join(tmpdir(), 'restorable-bench-time-'));
  const reportFile = join(reportDir, 'rusage');
  try {
    if (method === 'gnu-time') {
      // %e is not used: wall time comes from our clock for every method alike.
      const result = await runInOwnGroup([GNU_TIME, '-f', '%U %S %M', '-o', reportFile, ...argv], options, false);
      const { cpuSeconds, peakRssBytes } = parseGnuTimeReport(readFileSync(reportFile, 'utf8'), options.label);
      return { wallSeconds: result.wallSeconds, cpuSeconds, peakRssBytes, exitCode: result.exitCode, stdout: result.stdout };
    }
    // `times` prints the shell's own user/sys, then its children's; the
    // wrapper keeps the command's exit code.
    const wrapper = `"$@"; rc=$?; times > '${reportFile}'; exit $rc`;
    const result = await runInOwnGroup(['bash', '-c', wrapper, 'bench-measure', ...argv], options, true);
    const cpuSeconds = parseBashTimes(readFileSync(reportFile, 'utf8'), options.label);
    return { wallSeconds: result.wallSeconds, cpuSeconds, peakRssBytes: result.sampledPeakRssBytes, exitCode: result.exitCode, stdout: result.stdout };
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }
}

interface RawRun {
  wallSeconds: number;
  exitCode: number;
  stdout: string;
  sampledPeakRssBytes: number;
}

async function runInOwnGroup(argv: string[], options: CommandOptions, sampleRss: boolean): Promise<RawRun> {
  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-8_000)));
  let peakRss = 0;
  const sampler = sampleRss
    ? setInterval(() => {
        if (child.pid !== undefined) peakRss = Math.max(peakRss, sampleTreePeakRss(child.pid));
      }, 100)
    : undefined;
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    signalGroup(child, 'SIGKILL');
  }, options.deadlineMs);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
    });
    const wallSeconds = (performance.now() - started) / 1000;
    if (timedOut) throw new CommandFailedError(`${options.label}: killed after its deadline of ${options.deadlineMs / 1000} s`);
    if (code === null || !(options.okExitCodes ?? [0]).includes(code)) {
      const how = signal ? `was killed by ${signal}` : `exited with ${code}`;
      throw new CommandFailedError(`${options.label} ${how}\n  command: ${argv.join(' ')}\n  stderr tail:\n${indent(lastLines(stderr, 15))}${stdout ? `\n  stdout tail:\n${indent(lastLines(stdout, 15))}` : ''}`);
    }
    return { wallSeconds, exitCode: code, stdout, sampledPeakRssBytes: peakRss };
  } finally {
    clearTimeout(deadline);
    if (sampler) clearInterval(sampler);
    running.delete(child);
  }
}

/** GNU time writes "Command exited with non-zero status N" before the format line; the format line is last. */
function parseGnuTimeReport(text: string, label: string): { cpuSeconds: number; peakRssBytes: number } {
  const lastLine = text.trim().split('\n').pop() ?? '';
  const [user, system, maxRssKb] = lastLine.trim().split(/\s+/).map(Number);
  if (![user, system, maxRssKb].every((value) => Number.isFinite(value))) throw new Error(`${label}: cannot read GNU time's report: ${JSON.stringify(text)}`);
  return { cpuSeconds: user! + system!, peakRssBytes: maxRssKb! * 1024 };
}

/** bash `times`: line 1 the shell's user/sys, line 2 its children's, as "1m2.345s 0m0.120s". */
function parseBashTimes(text: string, label: string): number {
  const lines = text.trim().split('\n');
  const seconds = (lines[1] ?? '').trim().split(/\s+/).map((field) => {
    const match = /^(\d+)m([\d.]+)s$/.exec(field);
    return match ? Number(match[1]) * 60 + Number(match[2]) : NaN;
  });
  if (seconds.length !== 2 || seconds.some((value) => !Number.isFinite(value))) throw new Error(`${label}: cannot read bash times: ${JSON.stringify(text)}`);
  return seconds[0]! + seconds[1]!;
}

/** The largest VmHWM (peak RSS) among rootPid and its descendants right now, in bytes. */
function sampleTreePeakRss(rootPid: number): number {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
      const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(afterName[1]));
    } catch {
      // the process ended while we looked
    }
  }
  const inTree = (pid: number): boolean => {
    for (let current = pid, hops = 0; current > 1 && hops < 64; hops++) {
      if (current === rootPid) return true;
      current = parentOf.get(current) ?? 0;
    }
    return false;
  };
  let peak = 0;
  for (const pid of parentOf.keys()) {
    if (!inTree(pid)) continue;
    try {
      const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match) peak = Math.max(peak, Number(match[1]) * 1024);
    } catch {
      // ended meanwhile
    }
  }
  return peak;
}

/** CPU seconds (user+sys) a process has used so far, from /proc/<pid>/stat: the MariaDB server's share. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat (11 and 12 after the name), in clock ticks.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

// USER_HZ: 100 on every Linux architecture Node supports (getconf CLK_TCK).
const CLOCK_TICKS_PER_SECOND = 100;

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
