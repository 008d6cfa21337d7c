// Owns the comparison a drill makes between a restored scratch database and
// the facts its manifest recorded (postgres-details.ts): every table's row
// count and checksum taken again with the very definition the backup used
// (checksumSettingsSql + tableChecksumSql, so a row's text is the same on any
// server), every sequence's value, the object inventory (read by the same
// readPostgresInventory the backup used), the large objects, and the smoke
// queries (`drill.queries`). The backup took its facts in the dump's own
// snapshot, so they describe exactly what was restored: a busy application
// passes, a restore that did not bring the rows back as dumped fails naming
// the table.

import type pg from 'pg';
import type { DrillConfig } from '../config/schema.ts';
import { judgeQuery, queriesFor } from './drill-queries.ts';
import { checksumSettingsSql, LARGE_OBJECTS_CHECKSUM_SQL, POSTGRES_INVENTORY_KINDS, postgresKindWord, tableChecksumSql, tableCountSql } from './postgres-details.ts';
import { readPostgresInventory, readSequenceValues } from './postgres-inventory.ts';
import type { RecordedPostgresFacts } from './postgres-restore-facts.ts';

export interface CopyComparison {
  /** "3 table(s), 3 checksum(s), 2 sequence(s), 14 object(s), 1 query(ies)". */
  compared: string;
  differences: string[];
  notes: string[];
}

/** Compares the restored copy `client` is connected to with `recorded`; differences are returned, never thrown. */
export async function compareRestoredCopy(client: pg.Client, recorded: RecordedPostgresFacts, drill: DrillConfig, sourceName: string): Promise<CopyComparison> {
  const differences: string[] = [];
  const notes: string[] = [];
  // Read first: the checksum settings set search_path '' and the inventory reads with it too.
  const restored = await readPostgresInventory(client);
  let objects = 0;
  if (recorded.inventory) {
    for (const kind of POSTGRES_INVENTORY_KINDS) {
      const present = new Set(restored.inventory[kind]);
      for (const name of recorded.inventory[kind] ?? []) {
        objects++;
        if (!present.has(name)) differences.push(`${postgresKindWord(kind)} ${name} is missing after the restore`);
      }
    }
  } else {
    notes.push('objects not compared: the manifest holds no inventory');
  }

  await client.query(checksumSettingsSql());
  let tables = 0;
  let checksums = 0;
  const restoredTables = new Set(restored.inventory.tables);
  for (const table of recorded.tables ?? []) {
    tables++;
    if (!restoredTables.has(table.name)) {
      if (!recorded.inventory) differences.push(`table ${table.name} is missing after the restore`);
      continue;
    }
    const sql = table.checksum === null ? tableCountSql(table.name) : tableChecksumSql(table.name);
    const { rows } = await client.query<{ rows: string; checksum: string | null }>(sql);
    const now = rows[0] ?? { rows: '0', checksum: '0' };
    if (now.rows !== table.rows) {
      differences.push(`table ${table.name}: ${now.rows} rows restored, ${table.rows} in the dump`);
      continue;
    }
    if (table.checksum === null) continue;
    checksums++;
    if (now.checksum !== table.checksum) {
      differences.push(`table ${table.name}: the restored rows differ from the dumped ones (${now.rows} rows, checksum ${now.checksum} after the restore, ${table.checksum} in the dump)`);
    }
  }
  if (!recorded.tables) notes.push('rows not compared: the manifest holds no table facts');

  let sequences = 0;
  const restoredSequences = new Map((await readSequenceValues(client)).map((sequence) => [sequence.name, sequence]));
  for (const sequence of recorded.sequences ?? []) {
    sequences++;
    const now = restoredSequences.get(sequence.name);
    if (!now) {
      if (!recorded.inventory) differences.push(`sequence ${sequence.name} is missing after the restore`);
    } else if (now.value !== sequence.value || now.isCalled !== sequence.isCalled) {
      differences.push(`sequence ${sequence.name}: ${describeSequence(now)} after the restore, ${describeSequence(sequence)} in the dump`);
    }
  }

  if (recorded.largeObjects) {
    const { rows } = await client.query<{ count: string; checksum: string | null }>(LARGE_OBJECTS_CHECKSUM_SQL);
    const now = rows[0] ?? { count: '0', checksum: '0' };
    if (Number(now.count) !== recorded.largeObjects.count) differences.push(`${now.count} large object(s) restored, ${recorded.largeObjects.count} in the dump`);
    else if (recorded.largeObjects.checksum !== null && now.checksum !== recorded.largeObjects.checksum) differences.push(`the restored large objects differ from the dumped ones (checksum ${now.checksum} after the restore, ${recorded.largeObjects.checksum} in the dump)`);
  }

  // The smoke queries see the copy as the application would: its own search path.
  await client.query('RESET search_path');
  let queries = 0;
  for (const query of queriesFor(drill, sourceName)) {
    queries++;
    const answer = await client.query(query.sql).then(
      (result) => firstNumber(Array.isArray(result) ? result[result.length - 1] : result),
      (error: Error) => error,
    );
    differences.push(...judgeQuery(query, answer));
  }
  return {
    compared: `${tables} table(s), ${checksums} checksum(s), ${sequences} sequence(s), ${objects} object(s), ${queries} query(ies)`,
    differences,
    notes,
  };
}

function describeSequence(sequence: { value: string; isCalled: boolean }): string {
  return sequence.isCalled ? `last value ${sequence.value}` : `next value ${sequence.value}`;
}

function firstNumber(result: pg.QueryResult | undefined): number {
  const first = result?.rows[0] as Record<string, unknown> | undefined;
  return first ? Number(Object.values(first)[0]) : Number.NaN;
}
