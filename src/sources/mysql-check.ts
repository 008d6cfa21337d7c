// Owns the verify side of the mysql kind: a dump must end with mysqldump's
// `-- Dump completed` trailer (a dump cut short by a dead server still
// compresses fine), and it is scanned with the backup's own DumpScanner, so the
// rows per table are compared with the counts the backup recorded from the
// very same bytes.

import type { Writable } from 'node:stream';
import type { ArtifactRecord } from '../core/manifest.ts';
import { discardingSink } from '../storage/verified-read.ts';
import { DumpScanner } from './mysql-dump-scanner.ts';
import type { ContentCheck, ContentCheckName, ContentFinding, ContentFindings } from './source-verify.ts';

const DUMP_TRAILER = '-- Dump completed';

export class DumpCheck implements ContentCheck {
  private readonly scanner = new DumpScanner();

  constructor(private readonly artifact: ArtifactRecord) {}

  async stages(): Promise<Writable[]> {
    return [this.scanner, discardingSink()];
  }

  async conclude(): Promise<ContentFindings> {
    const scan = this.scanner.result();
    const facts = { lines: scan.lines, tables: scan.inventory.tables.length };
    if (!scan.trailerFound) {
      const message = `the dump does not end with its \`${DUMP_TRAILER}\` trailer: it was cut short (the database server or the dump tool died mid-dump)`;
      return { passed: [], failures: [{ check: 'dump-trailer', message }], facts };
    }
    const passed: ContentCheckName[] = ['dump-trailer'];
    const failures: ContentFinding[] = [];
    const tables = this.artifact.details?.tables as Record<string, { rows?: unknown }> | undefined;
    if (tables && typeof tables === 'object') {
      const differing = Object.entries(tables)
        .filter(([, table]) => typeof table?.rows === 'number')
        .filter(([name, table]) => (scan.rowsByTable[name] ?? 0) !== table.rows)
        .map(([name, table]) => `table ${name}: ${scan.rowsByTable[name] ?? 0} rows in the dump, the manifest says ${table.rows as number}`);
      if (differing.length === 0) passed.push('row-counts');
      else failures.push({ check: 'row-counts', message: differing.join('; ') });
    }
    return { passed, failures, facts };
  }

  async dispose(): Promise<void> {}
}
