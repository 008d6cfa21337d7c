// Owns recognising, in the first bytes of a dump's line, the statements
// where a dump creates an object or starts inserting rows, and reading the
// object's name out of them (quoted or bare, maybe database-qualified).
//
// How mariadb-dump 10.11 writes objects (checked against real dumps):
//   CREATE TABLE `t` (                                   table
//   CREATE SEQUENCE `s` start with ...                   sequence
//   /*!50001 CREATE VIEW `v` AS SELECT NULL AS ...       view stand-in (not counted)
//   /*!50001 VIEW `v` AS select ...                      final view definition
//   CREATE DEFINER=`u`@`h` [AGGREGATE] PROCEDURE|FUNCTION `p`(...   routine
//   /*!50003 CREATE*/ /*!50017 DEFINER=...*/ /*!50003 TRIGGER tr ... trigger: the
//       name is as the user typed it (unquoted, quoted, `db`.tr), maybe on the next line
//   /*!50106 CREATE*/ /*!50117 DEFINER=...*/ /*!50106 EVENT `e` ... event

const IDENTIFIER = String.raw`(?:\x60(?:[^\x60]|\x60\x60)*\x60|"(?:[^"]|"")*"|[^\s.\x60"(;]+)`;
const NAME = String.raw`(${IDENTIFIER})(?:\.(${IDENTIFIER}))?`;
const IF_NOT_EXISTS = String.raw`(?:IF\s+NOT\s+EXISTS\s+)?`;
const ACCOUNT_PART = String.raw`(?:\x60(?:[^\x60]|\x60\x60)*\x60|'(?:[^'\\]|\\.|'')*'|[^\s@]+)`;

export const CREATE_TABLE = new RegExp(String.raw`^CREATE\s+TABLE\s+${IF_NOT_EXISTS}${NAME}`, 'i');
export const CREATE_SEQUENCE = new RegExp(String.raw`^CREATE\s+SEQUENCE\s+${IF_NOT_EXISTS}${NAME}`, 'i');
export const FINAL_VIEW = new RegExp(String.raw`^/\*!\d+\s+VIEW\s+${NAME}`, 'i');
export const ROUTINE = new RegExp(
  String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*${ACCOUNT_PART}(?:@${ACCOUNT_PART})?\s+)?(?:AGGREGATE\s+)?(PROCEDURE|FUNCTION)\s+${IF_NOT_EXISTS}${NAME}`,
  'i',
);
export const VERSIONED_CREATE = /^\/\*!\d+\s*CREATE\s*\*\//i;
export const TRIGGER_OR_EVENT = /\/\*!\d+\s*(TRIGGER|EVENT)(?=\s|$)/i;
export const NAME_AT_START = new RegExp(String.raw`^\s*${IF_NOT_EXISTS}${NAME}`, 'i');
export const INSERT = new RegExp(
  String.raw`^(?:INSERT|REPLACE)\s+(?:IGNORE\s+)?INTO\s+(${IDENTIFIER})\s*(?:\((?:[^()\x60]|\x60(?:[^\x60]|\x60\x60)*\x60)*\)\s*)?VALUES`,
  'i',
);
export const INSERT_START = /^(?:INSERT|REPLACE)\s/i;
export const NAMES_DATABASE = /^(?:\/\*!\d*\s*)?(?:USE\s|CREATE\s+(?:DATABASE|SCHEMA)\b)/i;

/** `\`we\`\`ird\`` -> `we\`ird`; bare names stay as they are. */
export function unquoteIdentifier(token: string): string {
  if (token.startsWith('`') && token.endsWith('`') && token.length >= 2) return token.slice(1, -1).replaceAll('``', '`');
  if (token.startsWith('"') && token.endsWith('"') && token.length >= 2) return token.slice(1, -1).replaceAll('""', '"');
  return token;
}
