// Owns the question "may this account dump the whole database?", answered
// from SHOW GRANTS plus a few exact probes, and the GRANT statements that fix
// what is missing. Pure: the queries live in mysql-inventory.ts.
//
// Why grants and not just the inventory: MariaDB hides from an account the
// objects it has no privilege on, from information_schema AND from the SHOW
// statements mariadb-dump uses. Checked on MariaDB 10.11:
//   - routines: listed only to their definer, to holders of EXECUTE / ALTER
//     ROUTINE / CREATE ROUTINE, and to readers of mysql.proc; their bodies only
//     to the definer and readers of mysql.proc. Invisible routines are left out
//     of the dump with exit status 0; visible ones without a readable body make
//     mariadb-dump fail ("insufficient privileges to SHOW CREATE FUNCTION").
//   - triggers: listed only with TRIGGER on their table; without it they are
//     left out with exit status 0.
//   - tables: listed only with a privilege on them; a table-level grant makes
//     every other table silently absent.
//   - views without SHOW VIEW, and any dump without EVENT: mariadb-dump fails
//     (exit 2), so these are loud, but pre-flight should say so first.
// So an inventory taken with the dump account cannot see what it cannot see:
// the account must hold the privileges that make everything visible.

export type ServerFlavor = 'mariadb' | 'mysql';

export interface ServerVersion {
  flavor: ServerFlavor;
  /** e.g. `10.11.19-MariaDB-0+deb12u1` */
  text: string;
  major: number;
  minor: number;
  patch: number;
}

export function parseServerVersion(text: string): ServerVersion {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(text);
  const [major, minor, patch] = match ? [Number(match[1]), Number(match[2]), Number(match[3])] : [0, 0, 0];
  return { flavor: /mariadb/i.test(text) ? 'mariadb' : 'mysql', text, major, minor, patch };
}

function atLeast(version: ServerVersion, major: number, minor: number, patch = 0): boolean {
  if (version.major !== major) return version.major > major;
  if (version.minor !== minor) return version.minor > minor;
  return version.patch >= patch;
}

/** One `GRANT ... ON ... TO ...` line, reduced to what matters here. */
export interface ParsedGrant {
  /** Upper-case privilege names; `ALL` for ALL [PRIVILEGES]. Column-level privileges are left out. */
  privileges: string[];
  scope: 'global' | 'database' | 'table' | 'routine';
  /** Database name or pattern (`app`, `app\_%`), unquoted; absent for global grants. */
  database?: string;
  table?: string;
}

export function parseGrantLine(line: string): ParsedGrant | undefined {
  if (!/^GRANT\s/i.test(line)) return undefined;
  const split = splitAtTopLevelOn(line);
  if (!split) return undefined; // `GRANT role TO user`
  const object = /^(?:(PROCEDURE|FUNCTION|PACKAGE\s+BODY|PACKAGE)\s+)?(\*|`(?:[^`]|``)*`|[^\s.`]+)(?:\.(\*|`(?:[^`]|``)*`|[^\s`]+))?\s+TO\s/i.exec(split.object);
  if (!object) return undefined;
  const privileges = splitTopLevel(split.privileges, ',')
    .map((privilege) => privilege.trim().toUpperCase().replace(/\s+/g, ' '))
    .filter((privilege) => privilege !== '' && !privilege.includes('('))
    .map((privilege) => (privilege === 'ALL PRIVILEGES' ? 'ALL' : privilege));
  const unquote = (token: string) => (token.startsWith('`') ? token.slice(1, -1).replaceAll('``', '`') : token);
  const first = object[2]!;
  const second = object[3];
  if (object[1]) return { privileges, scope: 'routine', database: unquote(first), table: second && unquote(second) };
  if (first === '*' && (second === undefined || second === '*')) return { privileges, scope: 'global' };
  if (second === undefined || second === '*') return { privileges, scope: 'database', database: unquote(first) };
  return { privileges, scope: 'table', database: unquote(first), table: unquote(second) };
}

/** Splits `GRANT <privileges> ON <object...>` at the ON outside parentheses and quotes. */
function splitAtTopLevelOn(line: string): { privileges: string; object: string } | undefined {
  let depth = 0;
  let quote: string | undefined;
  for (let index = 6; index < line.length; index++) {
    const char = line[index]!;
    if (quote) {
      if (char === quote) quote = undefined;
      continue;
    }
    if (char === '`' || char === "'" || char === '"') quote = char;
    else if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (depth === 0 && /\s/.test(char) && /^ON\s/i.test(line.slice(index + 1, index + 4))) {
      return { privileges: line.slice(6, index), object: line.slice(index + 4).trimStart() };
    }
  }
  return undefined;
}

function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (quote) {
      if (char === quote) quote = undefined;
      continue;
    }
    if (char === '`' || char === "'" || char === '"') quote = char;
    else if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (depth === 0 && char === separator) {
      parts.push(text.slice(start, index));
      start = index + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** Does a database name in a grant (`app\_%`: LIKE pattern, `\` escapes) cover `database`? */
export function grantPatternMatches(pattern: string, database: string): boolean {
  let regex = '';
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index]!;
    if (char === '\\' && index + 1 < pattern.length) regex += escapeRegex(pattern[++index]!);
    else if (char === '%') regex += '.*';
    else if (char === '_') regex += '.';
    else regex += escapeRegex(char);
  }
  return new RegExp(`^${regex}$`, 's').test(database);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The privileges an account holds on all of `database` (global and database-level grants). */
export function databasePrivileges(grants: ParsedGrant[], database: string): Set<string> {
  const held = new Set<string>();
  for (const grant of grants) {
    const covers = grant.scope === 'global' || (grant.scope === 'database' && grantPatternMatches(grant.database!, database));
    if (covers) grant.privileges.forEach((privilege) => held.add(privilege));
  }
  return held;
}

export function globalPrivileges(grants: ParsedGrant[]): Set<string> {
  const held = new Set<string>();
  for (const grant of grants) if (grant.scope === 'global') grant.privileges.forEach((privilege) => held.add(privilege));
  return held;
}

export interface RoutineVisibility {
  kind: 'procedure' | 'function';
  name: string;
  /** information_schema.ROUTINES.ROUTINE_DEFINITION was readable. */
  bodyReadable: boolean;
  definer: string;
}

export interface PrivilegeInputs {
  database: string;
  /** CURRENT_USER(), e.g. `backup@localhost`. */
  account: string;
  server: ServerVersion;
  /** SHOW GRANTS, one line each. */
  grantLines: string[];
  /** `SELECT ... FROM mysql.proc` worked (MariaDB; MySQL 8 has no such table). */
  procTableReadable: boolean;
  /** Views whose SHOW CREATE VIEW failed. */
  viewsWithoutShowView: string[];
  /**
   * Views that call a stored function the account may not execute: the dump
   * reads their columns (SHOW FIELDS) after every table, and fails there
   * (error 1370), hours into a large dump. Absent: not probed.
   */
  viewsNeedingExecute?: string[];
  /** Routines information_schema shows this account. */
  routines: RoutineVisibility[];
}

export interface MissingPrivilege {
  privilege: string;
  /** What goes wrong without it, for the operator. */
  reason: string;
  /** mariadb-dump would leave objects out and still exit 0. */
  silentLoss: boolean;
  /** The statement an administrator runs, e.g. GRANT SHOW VIEW ON `app`.* TO 'backup'@'localhost'; */
  grant: string;
}

const ROUTINE_LISTING_PRIVILEGES = ['ALL', 'EXECUTE', 'ALTER ROUTINE', 'CREATE ROUTINE'];

export function missingDumpPrivileges(inputs: PrivilegeInputs): MissingPrivilege[] {
  const grants = inputs.grantLines.map(parseGrantLine).filter((grant): grant is ParsedGrant => grant !== undefined);
  const onDatabase = databasePrivileges(grants, inputs.database);
  const global = globalPrivileges(grants);
  const has = (privilege: string) => onDatabase.has('ALL') || onDatabase.has(privilege);
  const to = accountLiteral(inputs.account);
  const onDb = `${quoteIdentifier(inputs.database)}.*`;
  const db = quoteIdentifier(inputs.database);
  const missing: MissingPrivilege[] = [];

  if (!has('SELECT')) {
    missing.push({
      privilege: 'SELECT',
      reason: `without SELECT on all of ${db}, the server hides every table the account has no grant on and the dump leaves them out`,
      silentLoss: true,
      grant: `GRANT SELECT ON ${onDb} TO ${to};`,
    });
  }
  if (inputs.viewsWithoutShowView.length > 0) {
    missing.push({
      privilege: 'SHOW VIEW',
      reason: `the dump cannot read the definition of ${listNames('view', inputs.viewsWithoutShowView)}`,
      silentLoss: false,
      grant: `GRANT SHOW VIEW ON ${onDb} TO ${to};`,
    });
  }
  const viewsNeedingExecute = inputs.viewsNeedingExecute ?? [];
  if (viewsNeedingExecute.length > 0 && !has('EXECUTE')) {
    missing.push({
      privilege: 'EXECUTE',
      reason: `${listNames('view', viewsNeedingExecute)} ${viewsNeedingExecute.length === 1 ? 'calls' : 'call'} a stored function, and the dump reads the columns of views only after every table: without EXECUTE it would fail at its very end`,
      silentLoss: false,
      grant: grantStatement(['EXECUTE'], onDb, inputs.account),
    });
  }
  if (!has('TRIGGER')) {
    missing.push({
      privilege: 'TRIGGER',
      reason: `the server hides triggers from accounts without TRIGGER, so restorable cannot tell whether ${db} has any, and the dump would silently leave them out`,
      silentLoss: true,
      grant: `GRANT TRIGGER ON ${onDb} TO ${to};`,
    });
  }
  if (!has('EVENT')) {
    missing.push({
      privilege: 'EVENT',
      reason: `the dump lists the events of ${db} and fails without EVENT`,
      silentLoss: false,
      grant: `GRANT EVENT ON ${onDb} TO ${to};`,
    });
  }

  const routineFix = routinePrivilegeFix(inputs.server, onDb, to);
  const fullRoutineAccess =
    inputs.procTableReadable ||
    global.has('ALL') ||
    (inputs.server.flavor === 'mysql' && (global.has('SELECT') || global.has('SHOW_ROUTINE'))) ||
    (inputs.server.flavor === 'mariadb' && atLeast(inputs.server, 11, 3) && has('SHOW CREATE ROUTINE'));
  if (!fullRoutineAccess) {
    const unreadable = inputs.routines.filter((routine) => !routine.bodyReadable);
    const canListAll = ROUTINE_LISTING_PRIVILEGES.some((privilege) => onDatabase.has(privilege));
    const unreadableText = unreadable.map((routine) => `${routine.kind} ${quoteIdentifier(routine.name)} (defined by ${routine.definer})`).join(', ');
    if (!canListAll) {
      missing.push({
        privilege: routineFix.privilege,
        reason:
          `the server shows stored procedures and functions only to accounts that may read them, so restorable cannot tell whether ${db} has any ` +
          `it cannot see, and the dump would silently leave those out` +
          (unreadable.length > 0 ? `; it can already see ${unreadableText} but not read its body` : ''),
        silentLoss: true,
        grant: routineFix.grant,
      });
    } else if (unreadable.length > 0) {
      missing.push({
        privilege: routineFix.privilege,
        reason: `the dump cannot read the body of ${unreadableText}`,
        silentLoss: false,
        grant: routineFix.grant,
      });
    }
  }
  return missing;
}

/** The privilege that shows every routine with its body, and its GRANT, per server flavor and version. */
export function routinePrivilegeFix(server: ServerVersion, onDb: string, to: string): { privilege: string; grant: string } {
  if (server.flavor === 'mariadb' && atLeast(server, 11, 3)) {
    return { privilege: 'SHOW CREATE ROUTINE', grant: `GRANT SHOW CREATE ROUTINE ON ${onDb} TO ${to};` };
  }
  if (server.flavor === 'mysql' && atLeast(server, 8, 0, 20)) {
    return { privilege: 'SHOW_ROUTINE', grant: `GRANT SHOW_ROUTINE ON *.* TO ${to};` };
  }
  return { privilege: 'SELECT on mysql.proc', grant: `GRANT SELECT ON \`mysql\`.\`proc\` TO ${to};` };
}

/** Everything a complete dump needs, as GRANT statements (the documented least-privilege set). */
export function recommendedGrants(database: string, account: string, server: ServerVersion): string {
  const onDb = `${quoteIdentifier(database)}.*`;
  const to = accountLiteral(account);
  return `GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE ON ${onDb} TO ${to}; ${routinePrivilegeFix(server, onDb, to).grant}`;
}

/** `GRANT <privileges> ON <on> TO '<user>'@'<host>';` for the account as CURRENT_USER() reports it (`laravel@127.0.0.1`). */
export function grantStatement(privileges: string[], on: string, account: string): string {
  return `GRANT ${privileges.join(', ')} ON ${on} TO ${accountLiteral(account)};`;
}

/** Names restorable makes up for databases it creates: `<db>_restored_<set digits>` (restore db), `restorable_drill_...` (drill). */
const GENERATED_DATABASE_NAME = [/^(.+_restored_)\d+$/s, /^(restorable_drill_).*$/s];

/**
 * What a GRANT for a database restorable creates should name: for a name it
 * made up, the LIKE pattern of all such names (`shop\_restored\_%`.*,
 * `restorable\_drill\_%`.*), so one grant serves every later restore or
 * drill; any other name exactly (its `_` and `%` escaped, which GRANT would
 * read as wildcards).
 */
export function databaseGrantTarget(database: string): string {
  const escape = (text: string) => text.replaceAll('\\', '\\\\').replaceAll('_', '\\_').replaceAll('%', '\\%');
  for (const generated of GENERATED_DATABASE_NAME) {
    const match = generated.exec(database);
    if (match) return `${quoteIdentifier(escape(match[1]!) + '%')}.*`;
  }
  return `${quoteIdentifier(escape(database))}.*`;
}

function listNames(kind: string, names: string[]): string {
  const shown = names.slice(0, 10).map(quoteIdentifier).join(', ');
  const more = names.length > 10 ? ` and ${names.length - 10} more` : '';
  return `${kind}${names.length === 1 ? '' : 's'} ${shown}${more}`;
}

export function quoteIdentifier(name: string): string {
  return '`' + name.replaceAll('`', '``') + '`';
}

/** `backup@localhost` (CURRENT_USER()) -> `'backup'@'localhost'`. */
export function accountLiteral(account: string): string {
  const at = account.lastIndexOf('@');
  const user = at < 0 ? account : account.slice(0, at);
  const host = at < 0 ? '%' : account.slice(at + 1);
  const literal = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
  return `${literal(user)}@${literal(host)}`;
}
