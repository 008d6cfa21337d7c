// Owns reading a postgres artifact's manifest details (PostgresDetails,
// written by the backup side) for the read side: verify, restore and drill
// take only what is there and well-formed, so a set made by an older version
// (or a manifest edited by hand) yields fewer facts, never a crash.

import type { PostgresDetails, PostgresInventory, PostgresSequenceFacts, PostgresTableFacts } from './postgres-details.ts';

/** What the read side compares, each part absent when the manifest does not carry it. */
export interface RecordedPostgresFacts {
  database?: string;
  tables?: PostgresTableFacts[];
  sequences?: PostgresSequenceFacts[];
  inventory?: Partial<PostgresInventory>;
  largeObjects?: { count: number; checksum: string | null };
  extensions: string[];
  roles: { owners: string[]; grantees: string[] };
}

const isText = (value: unknown): value is string => typeof value === 'string';
const textList = (value: unknown): string[] => (Array.isArray(value) ? value.filter(isText) : []);

export function recordedFactsOf(details: Record<string, unknown> | undefined): RecordedPostgresFacts {
  const recorded = (details ?? {}) as Partial<Record<keyof PostgresDetails, unknown>>;
  const tables = Array.isArray(recorded.tables)
    ? (recorded.tables as Array<Partial<PostgresTableFacts>>).filter((table) => isText(table?.name) && isText(table.rows)).map((table) => ({ name: table.name!, rows: table.rows!, checksum: isText(table.checksum) ? table.checksum : null }))
    : undefined;
  const sequences = Array.isArray(recorded.sequences)
    ? (recorded.sequences as Array<Partial<PostgresSequenceFacts>>).filter((sequence) => isText(sequence?.name) && isText(sequence.value)).map((sequence) => ({ name: sequence.name!, value: sequence.value!, isCalled: sequence.isCalled === true }))
    : undefined;
  const largeObjects = recorded.largeObjects as { count?: unknown; checksum?: unknown } | undefined;
  const roles = (recorded.roles ?? {}) as { owners?: unknown; grantees?: unknown };
  return {
    database: isText(recorded.database) ? recorded.database : undefined,
    tables,
    sequences,
    inventory: recorded.inventory && typeof recorded.inventory === 'object' ? (recorded.inventory as Partial<PostgresInventory>) : undefined,
    largeObjects: typeof largeObjects?.count === 'number' ? { count: largeObjects.count, checksum: isText(largeObjects.checksum) ? largeObjects.checksum : null } : undefined,
    extensions: Array.isArray(recorded.extensions) ? (recorded.extensions as Array<{ name?: unknown }>).map((extension) => extension?.name).filter(isText) : [],
    roles: { owners: textList(roles.owners), grantees: textList(roles.grantees) },
  };
}

/**
 * `public."Odd ""Name"""` -> { schema: 'public', name: 'Odd "Name"' }: a
 * qualified name as the server prints it, back into its parts as pg_dump's
 * header comments write them; undefined when it is not `schema.name`.
 */
export function splitQualifiedName(qualified: string): { schema: string; name: string } | undefined {
  const parts: string[] = [];
  let at = 0;
  while (at <= qualified.length) {
    if (qualified[at] === '"') {
      let part = '';
      at++;
      for (;;) {
        const close = qualified.indexOf('"', at);
        if (close === -1) return undefined;
        part += qualified.slice(at, close);
        at = close + 1;
        if (qualified[at] !== '"') break;
        part += '"';
        at++;
      }
      parts.push(part);
    } else {
      const match = /^[^."]+/.exec(qualified.slice(at));
      if (!match) return undefined;
      parts.push(match[0]);
      at += match[0].length;
    }
    if (at === qualified.length) break;
    if (qualified[at] !== '.') return undefined;
    at++;
  }
  return parts.length === 2 ? { schema: parts[0]!, name: parts[1]! } : undefined;
}
