// Owns how results reach the terminal: the reporter that prints one line per
// step (and a live progress line on a TTY), and how a RestorableError is shown
// (what, where, details, next step) — never a stack trace for expected failures.

import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import type { RunReporter } from '../jobs/ports.ts';
import { formatBytes } from '../core/units.ts';

export interface Output {
  json: boolean;
  out: NodeJS.WritableStream & { isTTY?: boolean };
  err: NodeJS.WritableStream;
}

export function line(output: Output, text: string): void {
  output.out.write(text + '\n');
}

export function printJson(output: Output, value: unknown): void {
  output.out.write(JSON.stringify(value, null, 2) + '\n');
}

/** Step lines in text mode; silence in JSON mode (the summary carries everything). */
export function createReporter(output: Output): RunReporter {
  if (output.json) return { step() {}, warn() {}, progress() {} };
  const tty = output.out.isTTY === true;
  const progressBySource = new Map<string, number>();
  let progressShown = false;
  let lastDraw = 0;
  const clearProgress = () => {
    if (progressShown) output.out.write('\r\x1b[2K');
    progressShown = false;
  };
  return {
    step(message) {
      clearProgress();
      output.out.write(`${message}\n`);
    },
    warn(message) {
      clearProgress();
      output.out.write(`warning: ${message}\n`);
    },
    progress(sourceName, rawBytes) {
      if (!tty) return;
      progressBySource.set(sourceName, rawBytes);
      const now = Date.now();
      if (now - lastDraw < 200) return;
      lastDraw = now;
      const parts = [...progressBySource].map(([name, bytes]) => `${name} ${formatBytes(bytes)}`);
      output.out.write(`\r\x1b[2K… ${parts.join('  ')}`);
      progressShown = true;
    },
  };
}

export function renderError(output: Output, error: RestorableError): void {
  if (output.json) {
    printJson(output, { status: 'failed', error: error.toJSON() });
    return;
  }
  const lines = [`restorable: ${error.message}`];
  const where = describeWhere(error.where);
  if (where) lines.push(`  where: ${where}`);
  for (const detail of error.details) lines.push(`  | ${detail}`);
  if (error.remedy) lines.push(`  next: ${error.remedy}`);
  output.err.write(lines.join('\n') + '\n');
}

function describeWhere(where: ErrorWhere): string {
  return (['job', 'source', 'destination', 'path'] as const)
    .filter((key) => where[key])
    .map((key) => `${key} ${where[key]}`)
    .join(', ');
}

export function renderUnexpected(output: Output, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  output.err.write(`restorable: unexpected failure: ${message}\n  next: this is a bug in restorable; rerun with RESTORABLE_DEBUG=1 for details and report it\n`);
  if (process.env.RESTORABLE_DEBUG && error instanceof Error) output.err.write(`${error.stack}\n`);
}
