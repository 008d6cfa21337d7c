// Owns the question "will this server let this account load this dump?",
// asked before `restore db` sends its first statement (and before it takes a
// safety dump): the privileges the dump's objects need on the target (CREATE
// ROUTINE for its functions, TRIGGER, EVENT, CREATE VIEW, ... and SET USER
// when they are defined by another account), the server's max_allowed_packet
// against the largest statement recorded at backup time, binary-logging
// rules for routines, and the server version family. A restore that would
// fail half-way is refused here with the exact fix, the target untouched.
//
// Also owns what max_allowed_packet means for an operator: the fix (SET
// GLOBAL plus the my.cnf line) used by the pre-flight, by the explanation of
// a load that died of it, and by the backup's warning that its own server
// could not load the dump back.

import type { RowDataPacket } from 'mysql2';
import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import { describeEndpoint, type MysqlConnection } from './mysql-connection.ts';
import { MysqlSession } from './mysql-inventory.ts';
import type { DumpInventory } from './mysql-dump-findings.ts';
import {
  accountLiteral,
  databaseGrantTarget,
  databasePrivileges,
  globalPrivileges,
  parseGrantLine,
  parseServerVersion,
  quoteIdentifier,
  type ParsedGrant,
  type ServerVersion,
} from './mysql-privileges.ts';

const MIB = 1024 * 1024;
/** The most any server accepts (and what our client asks for). */
export const MAX_PACKET_LIMIT = 1024 * MIB;

/** What the set recorded at backup time about the database it dumped (the artifact's details). */
export interface RecordedDumpFacts {
  inventory?: DumpInventory;
  /** DEFINER accounts of views, routines, triggers, events (absent in sets made before they were recorded). */
  definers?: string[];
  /** Bytes of the largest statement of the dump (absent in older sets). */
  maxStatementBytes?: number;
  server?: { version?: string; flavor?: string };
}

export interface RestorePreflightRequest {
  connection: MysqlConnection;
  /** The target database. */
  database: string;
  targetExists: boolean;
  facts: RecordedDumpFacts;
  /** "set 2026-12-03_07-00-00" for messages. */
  what: string;
  where: ErrorWhere;
}

export interface RestorePreflight {
  /** CURRENT_USER() of the restoring account, e.g. `app@localhost`. */
  account: string;
  server: ServerVersion;
  maxAllowedPacket: number;
  /** Things checked, for the operator. */
  notes: string[];
  /** Things that may still go wrong but need not. */
  warnings: string[];
}

export interface MissingRestorePrivilege {
  privilege: string;
  reason: string;
  /** `database` privileges are granted on the target, `global` ones on *.* */
  scope: 'database' | 'global';
}

export interface RestorePrivilegeInputs {
  database: string;
  account: string;
  server: ServerVersion;
  grantLines: string[];
  targetExists: boolean;
  inventory: DumpInventory | undefined;
  definers: string[] | undefined;
  /** @@GLOBAL.log_bin is on and log_bin_trust_function_creators off. */
  binlogRestrictsRoutines: boolean;
}

/** The privileges the dump's statements need that the account lacks (pure). */
export function missingRestorePrivileges(inputs: RestorePrivilegeInputs): MissingRestorePrivilege[] {
  const grants = inputs.grantLines.map(parseGrantLine).filter((grant): grant is ParsedGrant => grant !== undefined);
  const onDatabase = databasePrivileges(grants, inputs.database);
  const global = globalPrivileges(grants);
  const has = (privilege: string) => onDatabase.has('ALL') || onDatabase.has(privilege);
  const db = quoteIdentifier(inputs.database);
  const inventory = inputs.inventory;
  const count = (kind: keyof DumpInventory) => inventory?.[kind]?.length ?? 0;
  const missing: MissingRestorePrivilege[] = [];
  const need = (privilege: string, reason: string) => {
    if (!has(privilege)) missing.push({ privilege, reason, scope: 'database' });
  };

  need('CREATE', inputs.targetExists ? `the dump creates its tables in ${db}` : `${db} does not exist yet and is created first`);
  need('DROP', 'the dump drops each table and view before it creates it (DROP TABLE IF EXISTS)');
  need('INSERT', 'the dump inserts the rows');
  need('ALTER', 'the dump disables and re-enables keys around each table\'s rows (ALTER TABLE ... DISABLE KEYS)');
  need('LOCK TABLES', 'the dump locks each table while it inserts its rows');
  if (count('views') > 0) {
    need('CREATE VIEW', `the set has ${count('views')} view(s)`);
    need('SELECT', `creating a view needs SELECT on the tables it reads (${count('views')} view(s))`);
  }
  const routines = count('procedures') + count('functions');
  if (routines > 0) {
    need('CREATE ROUTINE', `the set has ${routines} stored procedure(s)/function(s)`);
    if (inputs.targetExists) need('ALTER ROUTINE', 'the dump drops a routine of the same name before it creates it (DROP FUNCTION/PROCEDURE IF EXISTS)');
  }
  if (count('triggers') > 0) need('TRIGGER', `the set has ${count('triggers')} trigger(s)`);
  if (count('events') > 0) need('EVENT', `the set has ${count('events')} event(s)`);

  const superLike = global.has('ALL') || global.has('SUPER');
  const others = (inputs.definers ?? []).filter((definer) => !sameAccount(definer, inputs.account));
  if (others.length > 0 && !superLike) {
    const setUser = setUserPrivilege(inputs.server);
    if (!setUser.held.some((privilege) => global.has(privilege))) {
      missing.push({
        privilege: setUser.name,
        reason: `the dump creates views, routines, triggers or events with DEFINER=${others.join(', ')}, and only an account with ${setUser.name} may name another account as definer (else: ERROR 1227)`,
        scope: 'global',
      });
    }
  }
  if (inputs.binlogRestrictsRoutines && (count('functions') > 0 || count('triggers') > 0) && !superLike) {
    missing.push({
      privilege: 'SUPER',
      reason: 'binary logging is on and log_bin_trust_function_creators is off, so creating functions and triggers needs SUPER (else: ERROR 1419); or SET GLOBAL log_bin_trust_function_creators=1',
      scope: 'global',
    });
  }
  return missing;
}

/** `root@localhost` vs `root@localhost` (CURRENT_USER() and DEFINER use the same form). */
function sameAccount(definer: string, account: string): boolean {
  return definer.replaceAll('`', '') === account;
}

/** The privilege that lets an account name another as DEFINER, per server. */
function setUserPrivilege(server: ServerVersion): { name: string; held: string[] } {
  if (server.flavor === 'mariadb') {
    const modern = server.major > 10 || (server.major === 10 && (server.minor > 5 || (server.minor === 5 && server.patch >= 2)));
    return modern ? { name: 'SET USER', held: ['SET USER'] } : { name: 'SUPER', held: [] };
  }
  if (server.major > 8 || (server.major === 8 && server.minor >= 2)) return { name: 'SET_ANY_DEFINER', held: ['SET_ANY_DEFINER', 'SET_USER_ID'] };
  if (server.major === 8) return { name: 'SET_USER_ID', held: ['SET_USER_ID'] };
  return { name: 'SUPER', held: [] };
}

/** The GRANT statements that give `account` what is missing. */
export function restoreGrants(missing: MissingRestorePrivilege[], database: string, account: string): string[] {
  const to = accountLiteral(account);
  const statements: string[] = [];
  const onDatabase = missing.filter((entry) => entry.scope === 'database').map((entry) => entry.privilege);
  if (onDatabase.length > 0) statements.push(`GRANT ${onDatabase.join(', ')} ON ${databaseGrantTarget(database)} TO ${to};`);
  for (const entry of missing.filter((candidate) => candidate.scope === 'global')) statements.push(`GRANT ${entry.privilege} ON *.* TO ${to};`);
  return statements;
}

/** "4 MiB", "6.5 MiB", "900 KiB". */
export function formatPacketSize(bytes: number): string {
  if (bytes < MIB) return `${Math.ceil(bytes / 1024)} KiB`;
  const mib = bytes / MIB;
  return `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB`;
}

/** The fix for a server whose max_allowed_packet is below `neededBytes`: SET GLOBAL now, my.cnf for good. */
export function packetFix(neededBytes: number): string {
  // Whole MiB with headroom for the packet header and a statement a little longer than recorded.
  const mib = Math.min(1024, Math.max(1, Math.ceil((neededBytes * 1.05) / MIB) + 1));
  return (
    `as a MySQL administrator, run: SET GLOBAL max_allowed_packet=${mib * MIB}; ` +
    `and set max_allowed_packet = ${mib}M under [mysqld] in the server's my.cnf (e.g. /etc/mysql/mariadb.conf.d/50-server.cnf) so it survives a restart`
  );
}

/**
 * Backup side: the warning when the largest statement of a dump is larger
 * than the max_allowed_packet of the server it came from, which therefore
 * could not load it back as configured.
 */
export function packetTooSmallWarning(maxStatementBytes: number | undefined, serverMaxAllowedPacket: number | undefined, endpoint: string): { code: string; message: string } | undefined {
  if (!maxStatementBytes || !serverMaxAllowedPacket || maxStatementBytes <= serverMaxAllowedPacket) return undefined;
  return {
    code: 'DUMP_ROWS_EXCEED_SERVER_PACKET',
    message:
      `the dump's largest statement is ${formatPacketSize(maxStatementBytes)} but max_allowed_packet of the server at ${endpoint} is ${formatPacketSize(serverMaxAllowedPacket)}: ` +
      `this server could not load the dump back (restores and drills would fail with "server has gone away"); ${packetFix(maxStatementBytes)}`,
  };
}

/** Runs the checks against the server; throws RESTORE_PREFLIGHT_FAILED naming the fix. */
export async function checkRestorePreflight(request: RestorePreflightRequest): Promise<RestorePreflight> {
  const { connection, database, facts, where } = request;
  const endpoint = describeEndpoint(connection);
  const session = await MysqlSession.open(connection, where);
  let account: string;
  let server: ServerVersion;
  let maxAllowedPacket: number;
  let binlogRestrictsRoutines: boolean;
  let grantLines: string[];
  try {
    const [identity] = await session.query<RowDataPacket>(
      'SELECT VERSION() AS version, CURRENT_USER() AS account, @@GLOBAL.max_allowed_packet AS packet, @@GLOBAL.log_bin AS logBin, @@GLOBAL.log_bin_trust_function_creators AS trustCreators',
    );
    account = String(identity!.account);
    server = parseServerVersion(String(identity!.version));
    maxAllowedPacket = Number(identity!.packet);
    binlogRestrictsRoutines = Number(identity!.logBin) === 1 && Number(identity!.trustCreators) !== 1;
    const grantRows = await session.query<RowDataPacket>('SHOW GRANTS');
    grantLines = grantRows.map((row) => String(Object.values(row)[0]).replace(/\s+IDENTIFIED BY .*$/i, ''));
  } finally {
    await session.close();
  }

  const notes: string[] = [`restoring as ${account} on ${server.text} at ${endpoint}`];
  const warnings: string[] = [];
  const problems: string[] = [];
  const fixes: string[] = [];

  const missing = missingRestorePrivileges({
    database,
    account,
    server,
    grantLines,
    targetExists: request.targetExists,
    inventory: facts.inventory,
    definers: facts.definers,
    binlogRestrictsRoutines,
  });
  if (missing.length > 0) {
    problems.push(`${account} lacks ${missing.map((entry) => entry.privilege).join(', ')}`);
    fixes.push(...restoreGrants(missing, database, account));
  }
  if (!facts.definers) notes.push(`${request.what} does not record the definers of its objects (made by an older restorable): SET USER was not checked`);

  const largest = facts.maxStatementBytes;
  let packetProblem: string | undefined;
  if (typeof largest !== 'number') {
    notes.push(`${request.what} does not record its largest statement (made by an older restorable): max_allowed_packet (${formatPacketSize(maxAllowedPacket)}) was not checked`);
  } else if (largest > MAX_PACKET_LIMIT) {
    packetProblem = `the largest statement of ${request.what} is ${formatPacketSize(largest)}, more than any server accepts (1 GiB)`;
  } else if (largest > maxAllowedPacket) {
    packetProblem = `the server's max_allowed_packet is ${formatPacketSize(maxAllowedPacket)} but the largest statement of ${request.what} is ${formatPacketSize(largest)}: the server would drop the connection ("server has gone away") half-way through the load`;
  } else {
    notes.push(`largest statement ${formatPacketSize(largest)}, server max_allowed_packet ${formatPacketSize(maxAllowedPacket)}`);
  }
  if (packetProblem) problems.push(packetProblem);

  const source = facts.server?.version ? parseServerVersion(facts.server.version) : undefined;
  if (source && source.flavor !== server.flavor) {
    warnings.push(`${request.what} was dumped from ${source.text} but the target server is ${server.text}: a ${source.flavor} dump may use collations or syntax a ${server.flavor} server does not know`);
  } else if (source && (server.major < source.major || (server.major === source.major && server.minor < source.minor))) {
    warnings.push(`${request.what} was dumped from ${source.text}, a newer server than the target ${server.text}: features the older server lacks would fail the load`);
  }

  if (problems.length > 0) {
    const details = [
      ...missing.map((entry) => `${entry.privilege}: ${entry.reason}`),
      ...(packetProblem ? [packetProblem] : []),
    ];
    const remedies: string[] = [];
    if (fixes.length > 0) remedies.push(`as a MySQL administrator, run: ${fixes.join(' ')} (or restore as an account that may: restore.mysql in the config, or --defaults-file FILE)`);
    if (packetProblem && largest! <= MAX_PACKET_LIMIT) remedies.push(packetFix(largest!));
    throw new RestorableError(`the restore of ${request.what} into database ${database} at ${endpoint} would fail: ${problems.join('; ')}; nothing was changed`, {
      code: 'RESTORE_PREFLIGHT_FAILED',
      where,
      details,
      remedy: remedies.join('; then ') || 'split the largest rows, or load this dump with a client and server that accept the statement',
    });
  }
  return { account, server, maxAllowedPacket, notes, warnings };
}

/**
 * A load that failed because the server dropped the connection: when the
 * server's max_allowed_packet is the likely cause, the message and fix that
 * say so (the client only says "server has gone away"); else undefined.
 */
export async function explainLostConnection(connection: MysqlConnection, clientError: string, where: ErrorWhere, largestStatementBytes?: number): Promise<{ message: string; remedy: string } | undefined> {
  if (!/gone away|Lost connection|packet bigger than|\b(2006|2013|1153)\b/i.test(clientError)) return undefined;
  let packet: number;
  try {
    const session = await MysqlSession.open(connection, where);
    try {
      const [row] = await session.query<RowDataPacket>('SELECT @@GLOBAL.max_allowed_packet AS packet');
      packet = Number(row!.packet);
    } finally {
      await session.close();
    }
  } catch {
    return undefined; // the server is really gone: the client's message stands
  }
  if (typeof largestStatementBytes === 'number' && largestStatementBytes <= packet) return undefined;
  const needed = largestStatementBytes ?? packet * 2;
  return {
    message:
      `the server closed the connection during the load, most likely at a statement larger than its max_allowed_packet (${formatPacketSize(packet)})` +
      (largestStatementBytes ? `; the largest statement of the dump is ${formatPacketSize(largestStatementBytes)}` : ''),
    remedy: `${packetFix(needed)}, then restore again${largestStatementBytes ? '' : ' (the set does not record its largest statement: if it fails again, raise the value further, up to 1G)'}`,
  };
}
