// Owns turning SIGINT/SIGTERM into a cancellation: long commands run with an
// AbortSignal that these signals abort, so the job can stop its children,
// remove what it half-wrote and exit with a clear message (never a silent kill).
// Invariants: the handlers live only while the command runs; the abort reason
// is the text `interrupted by SIG...`, which names the signal for the exit code;
// a command that was interrupted exits 128 + the signal's number (130 for
// Ctrl-C, 143 for SIGTERM), whether it then returned, failed or threw
// (main.ts asks exitCodeAfterInterrupt). Commands that do not run through
// here keep Node's default: the signal ends the process, which the shell also
// reports as 130.

import { constants } from 'node:os';

/** The signal that interrupted the running command, until main.ts reads it. */
let interruptedBy: NodeJS.Signals | undefined;

export async function interruptible<T>(action: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    interruptedBy ??= signal;
    interrupt.abort(`interrupted by ${signal}`);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await action(interrupt.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** 128 + the number of the signal that interrupted (130 for SIGINT, 143 for SIGTERM), as a shell reports it. */
export function interruptExitCode(signal: AbortSignal): number {
  const name = /SIG[A-Z]+/.exec(String(signal.reason))?.[0] as keyof typeof constants.signals | undefined;
  const number = name ? constants.signals[name] : undefined;
  return 128 + (number ?? constants.signals.SIGINT);
}

/**
 * The exit code of a command that ended with `code`: 128 + the signal when a
 * signal interrupted it (a backup that failed *because* of Ctrl-C is
 * interrupted, not CRITICAL), else `code`. Reading it forgets the signal, so
 * the next command run in the same process starts clean.
 */
export function exitCodeAfterInterrupt(code: number): number {
  const signal = interruptedBy;
  interruptedBy = undefined;
  return signal ? 128 + constants.signals[signal] : code;
}
