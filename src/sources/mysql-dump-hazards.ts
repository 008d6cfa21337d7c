// Owns the objects of a database that a dump cannot be made of, found before
// the dump starts instead of after it ran for hours (or forever):
//  - an event whose CREATE EVENT text holds `;;` (in its body, a string in it,
//    or its comment): mariadb-dump (checked with 10.11) looks for a delimiter
//    that does not occur in the text and never stops looking, spinning at
//    full CPU without writing a byte; to the operator that looks like a hung
//    server;
//  - an object whose name holds a line break: the dump's completeness check
//    reads the dump line by line and cannot find it, so every such dump fails
//    as "incomplete" after running to its end.
// Both are refused with the object named (line breaks shown as \n) and the
// change that makes the database dumpable.

import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import type { DumpInventory } from './mysql-dump-findings.ts';
import type { DumpTool } from './mysql-dump-tool.ts';
import { quoteIdentifier } from './mysql-privileges.ts';

export interface DumpHazardInputs {
  database: string;
  inventory: DumpInventory;
  /** Events whose name, body or comment contains `;;`. */
  eventsWithDoubleSemicolon: string[];
  tool: DumpTool;
  where: ErrorWhere;
}

/** Throws when the database holds an object the dump cannot carry. */
export function failOnDumpHazards(inputs: DumpHazardInputs): void {
  const db = quoteIdentifier(inputs.database);
  // Only MariaDB's tool is known to spin on it; MySQL's mysqldump is left to the stall timeout.
  if (inputs.tool.flavor === 'mariadb' && inputs.eventsWithDoubleSemicolon.length > 0) {
    const events = inputs.eventsWithDoubleSemicolon;
    const named = events.map((event) => `event ${showName(event)}`).join(', ');
    throw new RestorableError(
      `${named} of ${db} contain${events.length === 1 ? 's' : ''} \`;;\` (in the body or comment), and ${inputs.tool.name} never finishes dumping such an event: ` +
        'it searches for a statement delimiter that does not occur in the event and spins at full CPU without writing anything',
      {
        code: 'DUMP_TOOL_CANNOT_DUMP_EVENT',
        where: inputs.where,
        remedy:
          `rewrite the event without two semicolons in a row, e.g. a string ';;' as CONCAT(';', ';'), and a comment with '; ;': ` +
          `SHOW CREATE EVENT ${db}.${showName(events[0]!)} gives its text, ALTER EVENT ... DO <new body> / COMMENT '<new comment>' changes it; then run the backup again`,
        details: events.map((event) => `SHOW CREATE EVENT ${db}.${showName(event)}`),
      },
    );
  }

  const broken: Array<{ kind: string; name: string }> = [];
  for (const [kind, names] of Object.entries(inputs.inventory) as Array<[keyof DumpInventory, string[]]>) {
    for (const name of names) if (/[\r\n]/.test(name)) broken.push({ kind: kind.replace(/s$/, ''), name });
  }
  if (broken.length > 0) {
    const first = broken[0]!;
    const rename =
      first.kind === 'table' || first.kind === 'view' || first.kind === 'sequence'
        ? `RENAME TABLE ${db}.${showName(first.name)} TO ${quoteIdentifier(first.name.replace(/[\r\n]+/g, '_'))} (and the application's queries with it)`
        : `recreate the ${first.kind} under a name without a line break and drop the old one`;
    throw new RestorableError(
      `${broken.map((object) => `${object.kind} ${showName(object.name)}`).join(', ')} of ${db} ${broken.length === 1 ? 'has a line break in its name' : 'have line breaks in their names'}: ` +
        'restorable cannot prove a dump of such an object complete (it reads the dump line by line), so every backup would fail after the whole dump',
      {
        code: 'MYSQL_NAME_WITH_LINE_BREAK',
        where: inputs.where,
        remedy: `${rename}; then run the backup again`,
      },
    );
  }
}

/** A name in backquotes on one line: a line break shows as \n, a carriage return as \r. */
function showName(name: string): string {
  return quoteIdentifier(name).replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\r', '\\r');
}
