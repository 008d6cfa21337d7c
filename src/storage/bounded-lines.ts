// Owns splitting bytes read from the repository into lines with a bound on
// each line's length. A repository is untrusted input: a 3 MB index that
// decompresses to a single 3 GiB line must not grow one string until Node
// dies with "Invalid string length" (as readline and `split('\n')` do). Every
// reader of JSON lines from the repository (entry indexes in verify, restore
// and drill; the run history; notification records; journals) goes through
// this one splitter. Memory stays at most one line plus one chunk.

import type { Readable } from 'node:stream';

/** An index line is a path and a few numbers: 1 MiB is far beyond any real one. */
export const MAX_LINE_BYTES = 1024 * 1024;

export class LineTooLongError extends Error {
  readonly code = 'LINE_TOO_LONG';
  constructor(
    readonly lineNumber: number,
    readonly maxLineBytes: number,
  ) {
    super(`line ${lineNumber} is longer than ${maxLineBytes} bytes: this is not a file restorable wrote`);
  }
}

/**
 * Push-based splitter: feed chunks, get complete lines (without the newline,
 * a trailing `\r` kept) through `onLine`. A line longer than `maxLineBytes` is
 * never assembled: `onTooLong` is told its number and its bytes are dropped up
 * to the next newline.
 */
export class BoundedLineSplitter {
  /** Lines completed so far (including oversized ones). */
  lineCount = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private skipping = false;

  constructor(
    private readonly onLine: (line: string, lineNumber: number) => void,
    private readonly onTooLong: (lineNumber: number) => void,
    readonly maxLineBytes: number = MAX_LINE_BYTES,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      this.take(chunk.subarray(start, end));
      if (newline === -1) return;
      this.finishLine();
      start = newline + 1;
    }
  }

  /** The end of input: a last line without a newline is handed over too; returns true when there was one. */
  end(): boolean {
    if (this.pendingBytes === 0 && !this.skipping) return false;
    this.finishLine();
    return true;
  }

  private take(piece: Buffer): void {
    if (piece.length === 0 || this.skipping) return;
    if (this.pendingBytes + piece.length > this.maxLineBytes) {
      this.skipping = true;
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    this.pending.push(piece);
    this.pendingBytes += piece.length;
  }

  private finishLine(): void {
    this.lineCount++;
    if (this.skipping) {
      this.skipping = false;
      this.onTooLong(this.lineCount);
      return;
    }
    const line = this.pending.length === 1 ? this.pending[0]!.toString('utf8') : Buffer.concat(this.pending, this.pendingBytes).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    this.onLine(line, this.lineCount);
  }
}

/**
 * The lines of a stream, each at most `maxLineBytes`; a longer one throws
 * LineTooLongError (and destroys the stream). A last line without a newline
 * is yielded like the others.
 */
export async function* readBoundedLines(stream: Readable, maxLineBytes: number = MAX_LINE_BYTES): AsyncGenerator<string> {
  const ready: string[] = [];
  let tooLong: number | undefined;
  const splitter = new BoundedLineSplitter(
    (line) => ready.push(line),
    (lineNumber) => (tooLong ??= lineNumber),
    maxLineBytes,
  );
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (tooLong !== undefined) throw new LineTooLongError(tooLong, maxLineBytes);
      while (ready.length > 0) yield ready.shift()!;
    }
    splitter.end();
    if (tooLong !== undefined) throw new LineTooLongError(tooLong, maxLineBytes);
    while (ready.length > 0) yield ready.shift()!;
  } finally {
    stream.destroy();
  }
}
