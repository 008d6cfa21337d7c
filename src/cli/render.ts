// Owns how results reach the terminal: the reporter that prints one line per
// step (and a live progress line on a TTY), and how a RestorableError is shown
// (what, where, details, next step) — never a stack trace for expected failures.
// A reader that goes away early (`restorable check | head -1`) is no failure
// of ours: later writes are dropped and the command keeps its own exit code.

import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import type { RunReporter } from '../core/ports.ts';
import { formatBytes } from '../core/units.ts';

export interface Output {
  json: boolean;
  out: NodeJS.WritableStream & { isTTY?: boolean };
  err: NodeJS.WritableStream;
}

export function line(output: Output, text: string): void {
  write(output.out, text + '\n');
}

export function printJson(output: Output, value: unknown): void {
  write(output.out, JSON.stringify(value, null, 2) + '\n');
}

/** Streams whose reader has gone (EPIPE): nothing more is written to them. */
const closedStreams = new WeakSet<NodeJS.WritableStream>();
const guardedStreams = new WeakSet<NodeJS.WritableStream>();

/**
 * Makes a closed pipe on stdout or stderr harmless for the rest of the
 * process: without a listener, Node turns the EPIPE of a write into an
 * uncaught exception (exit 1, a stack trace) after the command already chose
 * its exit code. Other write errors (EIO on a vanished terminal) are dropped
 * the same way: there is nobody left to tell.
 */
export function tolerateClosedPipes(output: Pick<Output, 'out' | 'err'>): void {
  for (const stream of [output.out, output.err]) {
    if (guardedStreams.has(stream)) continue;
    guardedStreams.add(stream);
    stream.on('error', () => closedStreams.add(stream));
  }
}

function write(stream: NodeJS.WritableStream, text: string): void {
  if (closedStreams.has(stream) || (stream as { destroyed?: boolean }).destroyed) return;
  stream.write(text);
}

/** Step lines in text mode; silence in JSON mode (the summary carries everything). */
export function createReporter(output: Output): RunReporter {
  if (output.json) return { step() {}, warn() {}, progress() {} };
  const tty = output.out.isTTY === true;
  const progressBySource = new Map<string, number>();
  let progressShown = false;
  let lastDraw = 0;
  const clearProgress = () => {
    if (progressShown) write(output.out, '\r\x1b[2K');
    progressShown = false;
  };
  return {
    step(message) {
      clearProgress();
      write(output.out, `${message}\n`);
    },
    warn(message) {
      clearProgress();
      write(output.out, `warning: ${message}\n`);
    },
    progress(sourceName, rawBytes) {
      if (!tty) return;
      progressBySource.set(sourceName, rawBytes);
      const now = Date.now();
      if (now - lastDraw < 200) return;
      lastDraw = now;
      const parts = [...progressBySource].map(([name, bytes]) => `${name} ${formatBytes(bytes)}`);
      write(output.out, `\r\x1b[2K… ${parts.join('  ')}`);
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
  write(output.err, lines.join('\n') + '\n');
}

function describeWhere(where: ErrorWhere): string {
  return (['job', 'source', 'destination', 'path'] as const)
    .filter((key) => where[key])
    .map((key) => `${key} ${where[key]}`)
    .join(', ');
}

export function renderUnexpected(output: Output, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  write(output.err, `restorable: unexpected failure: ${message}\n  next: this is a bug in restorable; rerun with RESTORABLE_DEBUG=1 for details and report it\n`);
  if (process.env.RESTORABLE_DEBUG && error instanceof Error) write(output.err, `${error.stack}\n`);
}
