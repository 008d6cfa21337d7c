// Owns the hand-off between a dump child, the scanner its output passes
// through on its way to the pipeline, and the producer's verdict: the scanner
// holds back the end of the stream until the verdict is in (so the pipeline
// never publishes a dump the verdict rejects), and a scanner closed before its
// end (the consumer failed) stops the child instead of leaving it blocked on a
// full pipe. A kind's scanner extends SettlingScanner; its producer calls
// scanDumpStream. (The postgres kind uses both; mysql.ts wires the same by hand.)

import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { ProducedArtifact, SourceFacts } from './source.ts';

/** Told the scan once the last byte has passed; the stream ends with the error it rejects with. */
export type SettleScan<Scan> = (scan: Scan) => Promise<void>;

/** A pass-through Transform that reads each chunk, and settles its result before it ends. */
export abstract class SettlingScanner<Scan> extends Transform {
  readonly #settle: SettleScan<Scan> | undefined;

  constructor(settle?: SettleScan<Scan>) {
    super();
    this.#settle = settle;
  }

  /** Reads one chunk (throwing fails the stream). */
  protected abstract scanChunk(chunk: Buffer): void;
  /** The stream has ended: read what is left of a last, unterminated line. */
  protected abstract scanEnd(): void;
  /** What was seen so far (complete once the stream has ended). */
  abstract result(): Scan;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.scanChunk(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.scanEnd();
    if (!this.#settle) {
      callback();
      return;
    }
    this.#settle(this.result()).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }
}

export interface DumpStreamParts<Scan> {
  /** The child's output. */
  output: Readable;
  scanner: (settle: SettleScan<Scan>) => SettlingScanner<Scan>;
  /** The verdict on the whole dump, given the scan (which rejects when the stream was not read to its end). */
  judge: (scanned: Promise<Scan>) => Promise<SourceFacts>;
  /** The scanner closed early: stop the child and say why (the scan rejects with this). */
  closedEarly: () => Error;
}

/** `output` piped through the scanner: the artifact the pipeline consumes, and its verdict. */
export function scanDumpStream<Scan>(parts: DumpStreamParts<Scan>): ProducedArtifact {
  let settled = false;
  let resolveScan!: (scan: Scan) => void;
  let rejectScan!: (error: Error) => void;
  const scanned = new Promise<Scan>((resolve, reject) => {
    resolveScan = resolve;
    rejectScan = reject;
  });
  scanned.catch(() => {});
  let verdict: Promise<SourceFacts> | undefined;
  const scanner = parts.scanner(async (scan) => {
    settled = true;
    resolveScan(scan);
    await verdict;
  });
  verdict = parts.judge(scanned);
  verdict.catch(() => {});
  scanner.on('close', () => {
    if (settled) return;
    rejectScan(parts.closedEarly());
    parts.output.destroy();
  });
  parts.output.on('error', (error) => scanner.destroy(error));
  parts.output.pipe(scanner);
  return { stream: scanner, completed: verdict };
}
