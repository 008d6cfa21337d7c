// Owns the ports a job is given instead of reaching for globals: the clock and
// the reporter that renders progress (text, TTY progress line, JSON). Tests
// pass their own; the CLI and daemon pass real ones.

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface RunReporter {
  /** One human line per step ("db: dumped 12.3 MB in 1.2 s"). */
  step(message: string): void;
  warn(message: string): void;
  /** Raw bytes produced so far by a source (for a progress line on a TTY). */
  progress(sourceName: string, rawBytes: number): void;
}

export const silentReporter: RunReporter = { step() {}, warn() {}, progress() {} };
