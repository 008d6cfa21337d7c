// Owns the verify side of the files kind: the decoded bytes of a files
// artifact must read as tar, with node-tar's strict parser, to the
// end-of-archive marker; every entry must pass the guard restore runs
// (files-entry-guard.ts), so an archive restore would refuse does not verify;
// and the number of entries must be the one the backup recorded.

import { Writable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import type { ArtifactRecord } from '../core/manifest.ts';
import { EntryGuard, EntryRefusal } from './files-entry-guard.ts';
import type { ContentCheck, ContentCheckName, ContentFinding, ContentFindings } from './source-verify.ts';

/**
 * Reads the decompressed bytes as tar with node-tar's strict parser: a bad
 * header checksum or an entry cut short is an error, and the archive must end
 * with its end-of-archive marker. Counts entries for the manifest's numbers.
 */
export class TarCheck implements ContentCheck {
  private entries = 0;
  private sawEndMarker = false;
  private failure: string | undefined;
  private readonly parser: Parser;
  private readonly ended: Promise<void>;
  /** Ends the check early (the rest of the stream is only drained). */
  private stopReading!: () => void;

  constructor(private readonly artifact: ArtifactRecord) {
    // brotli/zstd off: the bytes are already decompressed, only tar is expected.
    this.parser = new Parser({ strict: true, brotli: false, zstd: false });
    // The guard restore runs: an archive restore would refuse does not verify.
    const guard = new EntryGuard();
    const judge = (entry: ReadEntry): void => {
      try {
        if (this.failure === undefined) guard.judge(entry.path, entry.type, entry.linkpath);
      } catch (error) {
        if (!(error instanceof EntryRefusal)) throw error;
        this.failure = `${error.reason === 'unsafe' ? 'unsafe entry' : 'unsupported entry'}: ${error.message} (restore files refuses this archive)`;
        this.stopReading();
      }
    };
    this.parser.on('entry', (entry: ReadEntry) => {
      this.entries++;
      judge(entry);
      entry.resume();
    });
    this.parser.on('ignoredEntry', judge);
    this.parser.on('eof', () => {
      this.sawEndMarker = true;
    });
    this.ended = new Promise<void>((resolve) => {
      this.stopReading = resolve;
      this.parser.on('error', (error: Error) => {
        this.failure ??= `tar archive unreadable: ${error.message}`;
        resolve();
      });
      this.parser.on('end', () => resolve());
    });
  }

  async stages(): Promise<Writable[]> {
    const parser = this.parser;
    let waitingForDrain: (() => void) | undefined;
    const release = (): void => {
      const callback = waitingForDrain;
      waitingForDrain = undefined;
      callback?.();
    };
    parser.on('drain', release);
    // A parse error ends the wait too: the rest of the stream is only drained.
    void this.ended.then(release);
    return [
      new Writable({
        highWaterMark: 256 * 1024,
        write: (chunk: Buffer, _encoding, callback) => {
          if (this.failure !== undefined || parser.write(chunk) || this.failure !== undefined) return callback();
          waitingForDrain = () => callback();
        },
        final: (callback) => {
          if (this.failure === undefined) parser.end();
          void this.ended.then(() => callback());
        },
      }),
    ];
  }

  async conclude(): Promise<ContentFindings> {
    await this.ended;
    const facts = { entries: this.entries };
    if (this.failure) return { passed: [], failures: [{ check: 'tar', message: this.failure }], facts };
    if (!this.sawEndMarker) {
      return {
        passed: [],
        failures: [{ check: 'tar', message: `tar archive ends after ${this.entries} entries without its end-of-archive marker: it was cut short` }],
        facts,
      };
    }
    const passed: ContentCheckName[] = ['tar'];
    const failures: ContentFinding[] = [];
    const recorded = recordedEntryCounts(this.artifact);
    if (recorded.length > 0) {
      const differing = recorded.filter(({ count }) => count !== this.entries);
      if (differing.length === 0) passed.push('entries');
      else failures.push({ check: 'entries', message: differing.map(({ count, where }) => `the tar archive holds ${this.entries} entries, ${where} says ${count}`).join('; ') });
    }
    return { passed, failures, facts };
  }

  async dispose(): Promise<void> {}
}

/** The entry counts the backup recorded: `details.entries.total` and the index's entry count. */
function recordedEntryCounts(artifact: ArtifactRecord): Array<{ count: number; where: string }> {
  const recorded: Array<{ count: number; where: string }> = [];
  const entries = artifact.details?.entries as { total?: unknown } | undefined;
  if (typeof entries?.total === 'number') recorded.push({ count: entries.total, where: 'the manifest' });
  if (typeof artifact.index?.entries === 'number') recorded.push({ count: artifact.index.entries, where: 'the manifest\'s index record' });
  return recorded;
}
