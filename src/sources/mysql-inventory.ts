// Owns talking to the server in-process with mysql2 (the password never leaves
// this process): connecting with operator-facing errors, the server version,
// the account's grants, and the inventory of one database from
// information_schema (tables with engine and size, views, sequences,
// procedures, functions, triggers, events).

import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import { describeEndpoint, scrubSecret, type MysqlConnection } from './mysql-connection.ts';
import { passwordRefused, tooManyConnections } from './mysql-refusals.ts';
import type { DumpInventory } from './mysql-dump-findings.ts';
import {
  missingDumpPrivileges,
  recommendedGrants,
  parseServerVersion,
  quoteIdentifier,
  type MissingPrivilege,
  type RoutineVisibility,
  type ServerVersion,
} from './mysql-privileges.ts';

const CONNECT_TIMEOUT_MS = 10_000;
const QUERY_TIMEOUT_MS = 60_000;

export interface TableInfo {
  name: string;
  /** InnoDB, MyISAM, ...; null when the server does not say. */
  engine: string | null;
  /** The engine takes part in --single-transaction's snapshot. */
  transactional: boolean;
  /** DATA_LENGTH + INDEX_LENGTH from information_schema (an estimate for InnoDB). */
  approximateBytes: number;
  /** WITH SYSTEM VERSIONING (MariaDB): the table keeps the history of its rows. */
  systemVersioned?: boolean;
  /** Versioned by transaction id (ROW START is a BIGINT): mariadb-dump cannot dump its history. */
  transactionPreciseHistory?: boolean;
}

export interface DatabaseInspection {
  server: ServerVersion;
  /** CURRENT_USER(): the account the server matched, e.g. `backup@localhost`. */
  account: string;
  inventory: DumpInventory;
  tables: TableInfo[];
  missingPrivileges: MissingPrivilege[];
  /**
   * The accounts the dump recreates views, routines, triggers and events
   * for (DEFINER=...), e.g. `root@localhost`: restoring them as any other
   * account needs SET USER (or SUPER), which restore's pre-flight checks.
   */
  definers: string[];
  /** The server's global max_allowed_packet: the largest statement it accepts from a client loading the dump. */
  maxAllowedPacket: number;
  /** The database's default character set and collation (a restore creates its target with the same). */
  databaseCharset?: string;
  databaseCollation?: string;
  /** The other databases the account sees: a name in the dump qualified by one of them is a cross-database reference. */
  otherDatabases?: string[];
  /** Events whose name, body or comment holds `;;`, which mariadb-dump cannot dump (see mysql-dump-hazards.ts). */
  eventsWithDoubleSemicolon?: string[];
}

/**
 * A mysql2 connection whose failures are RestorableErrors naming the source
 * and server. Query deadlines are ours, not mysql2's: mysql2's per-query timer
 * outlives a destroyed connection and kept the process alive for its full
 * length; ours are unref'd and destroy() fails whatever is still pending.
 */
export class MysqlSession {
  readonly #gone: Promise<never>;
  #markGone!: (error: Error) => void;

  private constructor(
    private readonly connection: Connection,
    private readonly target: MysqlConnection,
    private readonly where: ErrorWhere,
  ) {
    this.#gone = new Promise<never>((_, reject) => {
      this.#markGone = reject;
    });
    this.#gone.catch(() => {});
  }

  static async open(target: MysqlConnection, where: ErrorWhere): Promise<MysqlSession> {
    try {
      const connection = await createConnection({
        ...(target.socket ? { socketPath: target.socket } : { host: target.host, port: target.port }),
        user: target.user,
        password: target.password?.reveal(),
        connectTimeout: CONNECT_TIMEOUT_MS,
        charset: 'utf8mb4_general_ci',
        supportBigNumbers: true,
        multipleStatements: false,
      });
      const session = new MysqlSession(connection, target, where);
      // A dead server must fail our queries, not crash the process.
      connection.on('error', (error: Error) => session.#markGone(error));
      return session;
    } catch (error) {
      throw describeMysqlError(error, target, where, 'connecting');
    }
  }

  async query<Row extends RowDataPacket>(sql: string, values: unknown[] = [], timeoutMs = QUERY_TIMEOUT_MS): Promise<Row[]> {
    const doing = sql.trim().split(/\s+/).slice(0, 4).join(' ');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = Object.assign(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`), { code: 'QUERY_TIMEOUT' });
        this.destroy(error);
        reject(error);
      }, timeoutMs);
      timer.unref();
    });
    deadline.catch(() => {});
    try {
      const [rows] = await Promise.race([this.connection.query<Row[]>({ sql, values }), deadline, this.#gone]);
      return rows;
    } catch (error) {
      throw describeMysqlError(error, this.target, this.where, doing);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Like query(), but resolves with the server's error instead of throwing (for probes). */
  async probe(sql: string, values: unknown[] = []): Promise<{ ok: true; rows: RowDataPacket[] } | { ok: false; error: RestorableError }> {
    try {
      return { ok: true, rows: await this.query<RowDataPacket>(sql, values) };
    } catch (error) {
      const serverError = (error as RestorableError).cause as MysqlServerError | undefined;
      if (typeof serverError?.errno === 'number' && serverError.errno >= 1000 && serverError.errno < 5000) return { ok: false, error: error as RestorableError };
      throw error;
    }
  }

  async close(): Promise<void> {
    try {
      await Promise.race([this.connection.end(), this.#gone]);
    } catch {
      this.connection.destroy();
    }
  }

  /** Drops the connection now (the server may be gone); pending queries fail. */
  destroy(reason: Error = Object.assign(new Error('the connection was closed'), { code: 'PROTOCOL_CONNECTION_LOST' })): void {
    this.#markGone(reason);
    this.connection.destroy();
  }
}

/** "execute command denied to user ... for routine ...". */
const ER_PROCACCESS_DENIED_ERROR = 1370;

function serverErrno(error: RestorableError): number | undefined {
  return ((error as RestorableError).cause as MysqlServerError | undefined)?.errno;
}

interface MysqlServerError extends Error {
  code?: string;
  errno?: number;
  sqlMessage?: string;
}

/** mysql2's errors -> what failed, where, and the next step. */
export function describeMysqlError(error: unknown, target: MysqlConnection, where: ErrorWhere, doing: string): RestorableError {
  if (error instanceof RestorableError) return error;
  const failure = error as MysqlServerError;
  const endpoint = describeEndpoint(target);
  const server = `the MySQL server at ${endpoint}`;
  const scrub = (text: string) => scrubSecret(text, target.password);
  const reason = scrub(failure.sqlMessage ?? failure.message ?? String(error));
  switch (failure.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EAI_AGAIN':
    case 'ENOTFOUND':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'PROTOCOL_CONNECTION_LOST':
    case 'QUERY_TIMEOUT':
      return new RestorableError(`cannot reach ${server} (${reason})`, {
        code: 'MYSQL_UNREACHABLE',
        where,
        remedy: target.socket
          ? `check that the server is running and listening on ${target.socket} (systemctl status mariadb), or fix socket in sources.${where.source ?? '<name>'} / DB_SOCKET in the .env`
          : `check that the server is running and listening on ${target.host}:${target.port}, or fix host/port in sources.${where.source ?? '<name>'} / DB_HOST and DB_PORT in the .env`,
        cause: error,
      });
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR':
      return passwordRefused({ target, where, serverMessage: reason, cause: error });
    case 'ER_CON_COUNT_ERROR':
    case 'ER_TOO_MANY_USER_CONNECTIONS':
      return tooManyConnections({ target, where, serverMessage: reason, cause: error });
    case 'ER_NOT_SUPPORTED_AUTH_MODE':
      return new RestorableError(`${server} refused ${target.user}: ${reason}`, {
        code: 'MYSQL_ACCESS_DENIED',
        where,
        remedy: `check the user and password of sources.${where.source ?? '<name>'} (password_file, password_env or DB_PASSWORD), and that the account may connect from ${target.socket ? 'localhost (socket)' : 'this host'}`,
        cause: error,
      });
    case 'ER_DBACCESS_DENIED_ERROR':
    case 'ER_TABLEACCESS_DENIED_ERROR':
    case 'ER_SPECIFIC_ACCESS_DENIED_ERROR':
      return new RestorableError(`${target.user} lacks a privilege on ${server} while ${doing}: ${reason}`, {
        code: 'MYSQL_PRIVILEGES_MISSING',
        where,
        remedy: `GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE ON ${quoteIdentifier(target.database)}.* TO the account (SELECT CURRENT_USER() names it); every privilege restorable needs is in docs/privileges.md`,
        cause: error,
      });
    default:
      return new RestorableError(`${server} failed while ${doing}: ${reason}`, {
        code: 'MYSQL_QUERY_FAILED',
        where,
        remedy: 'see the server\'s message above and its error log (journalctl -u mariadb, or the log_error file); run the backup again when the server is healthy',
        cause: error,
      });
  }
}

/** Version, account, inventory, table engines and sizes, and the privileges the dump still needs. */
export async function inspectDatabase(session: MysqlSession, database: string, where: ErrorWhere, endpoint: string): Promise<DatabaseInspection> {
  const [identity] = await session.query<RowDataPacket>('SELECT VERSION() AS version, CURRENT_USER() AS account, @@GLOBAL.max_allowed_packet AS maxAllowedPacket');
  const server = parseServerVersion(String(identity!.version));
  const account = String(identity!.account);

  const schemata = await session.query<RowDataPacket>(
    'SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
    [database],
  );
  if (schemata.length === 0) {
    throw new RestorableError(`database ${quoteIdentifier(database)} does not exist on ${endpoint}, or ${account} has no privilege on it`, {
      code: 'MYSQL_DATABASE_MISSING',
      where,
      remedy: `check the database name (sources.${where.source ?? '<name>'}.database or DB_DATABASE); if it is right: ${recommendedGrants(database, account, server)}`,
    });
  }

  const grantRows = await session.query<RowDataPacket>('SHOW GRANTS');
  // Keep only the statement text; never the `IDENTIFIED BY PASSWORD '<hash>'` part.
  const grantLines = grantRows.map((row) => String(Object.values(row)[0]).replace(/\s+IDENTIFIED BY .*$/i, ''));
  const procProbe = await session.probe('SELECT 1 FROM mysql.proc LIMIT 0');

  const tableRows = await session.query<RowDataPacket>(
    `SELECT t.TABLE_NAME AS name, t.TABLE_TYPE AS type, t.ENGINE AS engine, e.TRANSACTIONS AS transactions,
            COALESCE(t.DATA_LENGTH, 0) + COALESCE(t.INDEX_LENGTH, 0) AS bytes
       FROM information_schema.TABLES t LEFT JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE
      WHERE t.TABLE_SCHEMA = ?`,
    [database],
  );
  const tables: TableInfo[] = [];
  const views: string[] = [];
  const sequences: string[] = [];
  for (const row of tableRows) {
    const name = String(row.name);
    if (row.type === 'VIEW') views.push(name);
    else if (row.type === 'SEQUENCE') sequences.push(name);
    else if (row.type === 'BASE TABLE' || row.type === 'SYSTEM VERSIONED') {
      tables.push({
        name,
        engine: row.engine === null ? null : String(row.engine),
        transactional: row.transactions === 'YES',
        approximateBytes: Number(row.bytes),
        ...(row.type === 'SYSTEM VERSIONED' ? { systemVersioned: true } : {}),
      });
    }
  }

  if (tables.some((table) => table.systemVersioned)) {
    const transactionPrecise = await session.query<RowDataPacket>(
      `SELECT DISTINCT TABLE_NAME AS name FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = ? AND GENERATION_EXPRESSION = 'ROW START' AND DATA_TYPE = 'bigint'`,
      [database],
    );
    const names = new Set(transactionPrecise.map((row) => String(row.name)));
    for (const table of tables) if (names.has(table.name)) table.transactionPreciseHistory = true;
  }

  const routineRows = await session.query<RowDataPacket>(
    `SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS type, ROUTINE_DEFINITION IS NOT NULL AS readable, DEFINER AS definer
       FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION')`,
    [database],
  );
  const routines: RoutineVisibility[] = routineRows.map((row) => ({
    kind: row.type === 'PROCEDURE' ? 'procedure' : 'function',
    name: String(row.name),
    bodyReadable: Number(row.readable) === 1,
    definer: String(row.definer),
  }));

  const viewsWithoutShowView: string[] = [];
  const viewsNeedingExecute: string[] = [];
  for (const view of views) {
    const probe = await session.probe(`SHOW CREATE VIEW ${quoteIdentifier(database)}.${quoteIdentifier(view)}`);
    if (!probe.ok) {
      viewsWithoutShowView.push(view);
      continue;
    }
    // What the dump itself runs for each view, after all tables: it opens the
    // view, which needs EXECUTE on every stored function the view calls.
    const fields = await session.probe(`SHOW FIELDS FROM ${quoteIdentifier(database)}.${quoteIdentifier(view)}`);
    if (!fields.ok && serverErrno(fields.error) === ER_PROCACCESS_DENIED_ERROR) viewsNeedingExecute.push(view);
  }

  const inventory: DumpInventory = {
    tables: tables.map((table) => table.name).sort(),
    views: views.sort(),
    sequences: sequences.sort(),
    procedures: routines.filter((routine) => routine.kind === 'procedure').map((routine) => routine.name).sort(),
    functions: routines.filter((routine) => routine.kind === 'function').map((routine) => routine.name).sort(),
    triggers: await namesOf(session, 'SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?', database),
    events: await namesOf(session, 'SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?', database),
  };

  const missingPrivileges = missingDumpPrivileges({
    database,
    account,
    server,
    grantLines,
    procTableReadable: procProbe.ok,
    viewsWithoutShowView,
    viewsNeedingExecute,
    routines,
  });
  const definers = new Set(routines.map((routine) => routine.definer));
  for (const sql of [
    'SELECT DEFINER AS name FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?',
    'SELECT DEFINER AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?',
    'SELECT DEFINER AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?',
  ]) {
    for (const definer of await namesOf(session, sql, database)) definers.add(definer);
  }
  const otherDatabases = (await session.query<RowDataPacket>('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME <> ?', [database])).map(
    (row) => String(row.name),
  );
  return {
    server,
    account,
    inventory,
    tables: tables.sort((a, b) => compareNames(a.name, b.name)),
    missingPrivileges,
    definers: [...definers].sort(),
    maxAllowedPacket: Number(identity!.maxAllowedPacket),
    databaseCharset: String(schemata[0]!.charset),
    databaseCollation: String(schemata[0]!.collation),
    otherDatabases,
    eventsWithDoubleSemicolon: await namesOf(
      session,
      "SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? AND (EVENT_DEFINITION LIKE '%;;%' OR EVENT_COMMENT LIKE '%;;%' OR EVENT_NAME LIKE '%;;%')",
      database,
    ),
  };
}

/** The object names alone, for the re-check after a dump (cheap). */
export async function readInventory(session: MysqlSession, database: string): Promise<DumpInventory> {
  const tableRows = await session.query<RowDataPacket>('SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [database]);
  const routineRows = await session.query<RowDataPacket>(
    "SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION')",
    [database],
  );
  const namesWhere = (rows: RowDataPacket[], test: (type: unknown) => boolean) => rows.filter((row) => test(row.type)).map((row) => String(row.name)).sort();
  return {
    tables: namesWhere(tableRows, (type) => type === 'BASE TABLE' || type === 'SYSTEM VERSIONED'),
    views: namesWhere(tableRows, (type) => type === 'VIEW'),
    sequences: namesWhere(tableRows, (type) => type === 'SEQUENCE'),
    procedures: namesWhere(routineRows, (type) => type === 'PROCEDURE'),
    functions: namesWhere(routineRows, (type) => type === 'FUNCTION'),
    triggers: await namesOf(session, 'SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?', database),
    events: await namesOf(session, 'SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?', database),
  };
}

async function namesOf(session: MysqlSession, sql: string, database: string): Promise<string[]> {
  // Without the privilege some servers refuse instead of hiding; the privilege
  // check reports that, so an empty list is the right answer here.
  const probe = await session.probe(sql, [database]);
  return probe.ok ? probe.rows.map((row) => String(row.name)).sort() : [];
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
