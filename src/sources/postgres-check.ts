// Owns the verify side of the postgres kind: a plain pg_dump script must end
// with its `-- PostgreSQL database dump complete` trailer (a dump cut short by
// a dead server still compresses fine), must name no database (no `\connect`,
// no CREATE DATABASE, no other psql meta-command: it restores under any
// name), and its COPY blocks, setval lines and large objects must hold the
// rows per table, sequence values and large objects the backup recorded of
// the very same bytes. The dump is read with the backup's own
// PostgresDumpScanner, so both sides read it alike.

import type { Writable } from 'node:stream';
import type { ArtifactRecord } from '../core/manifest.ts';
import { discardingSink } from '../storage/verified-read.ts';
import { PostgresDumpScanner, type PostgresDumpScan } from './postgres-dump-scanner.ts';
import { tocKey } from './postgres-inventory.ts';
import { recordedFactsOf, splitQualifiedName } from './postgres-restore-facts.ts';
import type { ContentCheck, ContentCheckName, ContentFinding, ContentFindings } from './source-verify.ts';

export const DUMP_TRAILER = '-- PostgreSQL database dump complete';

export class PostgresDumpCheck implements ContentCheck {
  private readonly scanner = new PostgresDumpScanner();

  constructor(private readonly artifact: ArtifactRecord) {}

  async stages(): Promise<Writable[]> {
    return [this.scanner, discardingSink()];
  }

  async conclude(): Promise<ContentFindings> {
    const scan = this.scanner.result();
    const facts = { lines: scan.lines, tables: scan.rows.size, objects: scan.objects.size };
    const cut = scriptCutShort(scan);
    if (cut) return { passed: [], failures: [{ check: 'dump-trailer', message: cut }], facts };
    const passed: ContentCheckName[] = ['dump-trailer'];
    const failures: ContentFinding[] = [];
    const tied = scriptTiedToDatabase(scan);
    if (tied) failures.push({ check: 'dump-trailer', message: tied });
    const differing = recordedDifferences(this.artifact, scan);
    if (differing === undefined) return { passed, failures, facts };
    if (differing.length === 0) passed.push('row-counts');
    else failures.push({ check: 'row-counts', message: differing.join('; ') });
    return { passed, failures, facts };
  }

  async dispose(): Promise<void> {}
}

/** Why the script is not whole (no trailer at its end, or it ends inside a COPY block), or undefined. */
export function scriptCutShort(scan: PostgresDumpScan): string | undefined {
  if (scan.trailerFound && scan.unterminatedCopy === undefined) return undefined;
  return `the dump does not end with its \`${DUMP_TRAILER}\` trailer: it was cut short (the database server or pg_dump died mid-dump)`;
}

/** Why the script must not be fed to psql (it would leave the target database or run commands), or undefined. */
export function scriptTiedToDatabase(scan: PostgresDumpScan): string | undefined {
  if (scan.databaseStatements.length === 0) return undefined;
  const lines = scan.databaseStatements.slice(0, 3).map((statement) => `line ${statement.line}: ${statement.text.slice(0, 80)}`);
  return `the dump holds statements that tie it to one database or run commands (${lines.join('; ')}): a restorable dump names no database and runs nothing but SQL`;
}

/**
 * What the script holds that differs from what the manifest recorded of the
 * same bytes: rows per table, sequence values, large objects; undefined when
 * the manifest recorded none of them.
 */
function recordedDifferences(artifact: ArtifactRecord, scan: PostgresDumpScan): string[] | undefined {
  const recorded = recordedFactsOf(artifact.details);
  if (!recorded.tables && !recorded.sequences && !recorded.largeObjects) return undefined;
  const differences: string[] = [];
  for (const table of recorded.tables ?? []) {
    const parts = splitQualifiedName(table.name);
    if (!parts) continue;
    const rows = scan.rows.get(tocKey('TABLE DATA', parts.schema, parts.name)) ?? 0;
    if (String(rows) !== table.rows) differences.push(`table ${table.name}: ${rows} rows in the dump, the manifest says ${table.rows}`);
  }
  const sequences = new Map(scan.sequences.map((sequence) => [sequence.name, sequence]));
  for (const sequence of recorded.sequences ?? []) {
    const set = sequences.get(sequence.name);
    if (!set) differences.push(`sequence ${sequence.name}: the dump does not set it`);
    else if (set.value !== sequence.value || set.isCalled !== sequence.isCalled) differences.push(`sequence ${sequence.name}: the dump sets ${set.value}, the manifest says ${sequence.value}`);
  }
  if (recorded.largeObjects && recorded.largeObjects.count !== scan.largeObjects) {
    differences.push(`${scan.largeObjects} large object(s) in the dump, the manifest says ${recorded.largeObjects.count}`);
  }
  return differences;
}
