// Owns child processes: spawnStream() runs a program without a shell and gives
// its stdout as a stream plus a `completed` promise that resolves only when the
// child exited with code 0 and no signal. A pipe alone cannot tell that a dump
// died after closing stdout; this can. Failures carry exit code, signal and the
// tail of stderr (execa-style), so the operator sees why.

import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { RestorableError } from '../core/errors.ts';

const STDERR_TAIL_BYTES = 8 * 1024;

export interface SpawnStreamOptions {
  /** Human name for messages, e.g. "mariadb-dump". Defaults to the program name. */
  name?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Extra file descriptors for the child (fd 3, 4...), e.g. a pipe carrying credentials. */
  extraStdio?: Array<'pipe' | 'ignore' | number>;
  /** Kill the child if it runs longer than this (ms). */
  deadlineMs?: number;
  /** Kill the child if stdout produced nothing for this long (ms). */
  stallTimeoutMs?: number;
  /**
   * stdin of the child: 'ignore' (default), 'pipe' (then use `stdin`), or
   * another child's stdout, so that one child feeds the other directly.
   */
  stdin?: 'ignore' | 'pipe' | Readable;
}

export class ChildProcessError extends RestorableError {
  readonly exitStatus: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderrTail: string;

  constructor(program: string, exitStatus: number | null, signal: NodeJS.Signals | null, stderrTail: string, reason?: string) {
    const how = reason ?? (signal ? `was killed by ${signal}` : `exited with status ${exitStatus}`);
    super(`${program} ${how}`, {
      code: 'CHILD_FAILED',
      details: stderrTail ? stderrTail.trimEnd().split('\n').slice(-20) : [],
    });
    this.name = 'ChildProcessError';
    this.exitStatus = exitStatus;
    this.signal = signal;
    this.stderrTail = stderrTail;
  }
}

export interface SpawnedStream {
  child: ChildProcess;
  stdout: Readable;
  stdin: Writable | null;
  /** Resolves when the child exited 0 without a signal; rejects with ChildProcessError otherwise. */
  completed: Promise<void>;
  /** stderr collected so far (tail). */
  stderrTail(): string;
  /** Kill the child (SIGTERM, then SIGKILL after a grace period). */
  kill(reason?: string): void;
}

export function spawnStream(program: string, args: string[], options: SpawnStreamOptions = {}): SpawnedStream {
  const name = options.name ?? program;
  const stdio: StdioOptions = [options.stdin ?? 'ignore', 'pipe', 'pipe', ...(options.extraStdio ?? [])];
  const child = spawn(program, args, { env: options.env, cwd: options.cwd, stdio });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES);
  });

  let killReason: string | undefined;
  const kill = (reason?: string): void => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    killReason ??= reason;
    child.kill('SIGTERM');
    setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, 2000).unref();
  };

  const timers: NodeJS.Timeout[] = [];
  if (options.deadlineMs) {
    timers.push(setTimeout(() => kill(`ran longer than its deadline of ${Math.round(options.deadlineMs! / 1000)} s and was stopped`), options.deadlineMs));
  }
  if (options.stallTimeoutMs && child.stdout) {
    let stall = setTimeout(() => kill(`produced no output for ${Math.round(options.stallTimeoutMs! / 1000)} s and was stopped`), options.stallTimeoutMs);
    timers.push(stall);
    child.stdout.on('data', () => {
      stall.refresh();
    });
  }

  const completed = new Promise<void>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      timers.forEach(clearTimeout);
      const reason = error.code === 'ENOENT' ? 'could not be started: program not found' : `could not be started: ${error.message}`;
      reject(new ChildProcessError(name, null, null, stderr, reason));
    });
    // 'close' (not 'exit') so stderr has been fully read before we judge.
    child.once('close', (code, signal) => {
      timers.forEach(clearTimeout);
      if (code === 0 && signal === null && killReason === undefined) resolve();
      else reject(new ChildProcessError(name, code, signal, stderr, killReason));
    });
  });
  // Callers may attach late; never let this become an unhandled rejection by itself.
  completed.catch(() => {});

  return { child, stdout: child.stdout!, stdin: child.stdin, completed, stderrTail: () => stderr, kill };
}

/** Runs a program to completion and returns its stdout as text (for short queries). */
export async function runToText(program: string, args: string[], options: SpawnStreamOptions = {}): Promise<string> {
  const spawned = spawnStream(program, args, options);
  let out = '';
  spawned.stdout.setEncoding('utf8');
  spawned.stdout.on('data', (chunk: string) => {
    out += chunk;
  });
  await spawned.completed;
  return out;
}
