// Owns what restorable says when the server refuses a connection, the same
// for its own sessions (pre-flight, inventory) and for the dump tool: a
// password it does not take (error 1045) is a wrong or changed password, not
// a missing privilege, and names the config field the password came from;
// no free connection (error 1040) says how many restorable needs and how to
// raise max_connections.

import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import { describeEndpoint, type MysqlConnection } from './mysql-connection.ts';

/** Error 1045 as the server words it: "Access denied for user 'x'@'h' (using password: YES)". */
export const ACCESS_DENIED_TEXT = /\b1045\b|Access denied for user '[^']*'@'[^']*' \(using password/;
/** Error 1040: "Too many connections". */
export const TOO_MANY_CONNECTIONS_TEXT = /\b1040\b|Too many connections/i;

export interface RefusalContext {
  target: MysqlConnection;
  where: ErrorWhere;
  /** CURRENT_USER() when the pre-flight already knows it (`laravel@127.0.0.1`); else the configured user. */
  account?: string;
  /** Who connected: `mariadb-dump` for the dump, absent for restorable's own queries. */
  client?: string;
  /** The server's own words, scrubbed. */
  serverMessage: string;
  /** The client library's error, kept for probes that look at its errno. */
  cause?: unknown;
}

/** Error 1045. */
export function passwordRefused(context: RefusalContext): RestorableError {
  const { target, where, client } = context;
  const who = context.account ?? target.user;
  const field = `sources.${where.source ?? '<name>'}`;
  const from = target.passwordSource ?? `${field} (password_file, password_env or DB_PASSWORD in its env_file)`;
  const withoutPassword = !target.password || /using password: NO/.test(context.serverMessage);
  const when = client ? ` when ${client} connected, although it took it for the pre-flight moments before: the password changed?` : '';
  const message = withoutPassword
    ? `the MySQL server at ${describeEndpoint(target)} refused ${who} without a password (error 1045): ${context.serverMessage}`
    : `the MySQL server at ${describeEndpoint(target)} refused the password of ${who} (error 1045)${when || ': wrong password, or the password changed?'}`;
  const remedy = withoutPassword
    ? `give restorable the password of ${target.user}: ${field}.password_file, ${field}.password_env, or DB_PASSWORD in the .env of ${field}.env_file`
    : `the password comes from ${from}: put the account's current password there (or set it back on the server with ALTER USER), ` +
      `and check that ${target.user} may connect from ${target.socket ? 'localhost (socket)' : 'this host'}; then run the backup again`;
  return new RestorableError(message, {
    code: 'MYSQL_ACCESS_DENIED',
    where,
    remedy,
    details: withoutPassword ? [] : [context.serverMessage],
    cause: context.cause,
  });
}

/** Error 1040. */
export function tooManyConnections(context: RefusalContext): RestorableError {
  const { target, where, client } = context;
  return new RestorableError(
    `the MySQL server at ${describeEndpoint(target)} has no free connection for ${client ?? 'restorable'} (error 1040, too many connections): ${context.serverMessage}`,
    {
      code: 'MYSQL_TOO_MANY_CONNECTIONS',
      where,
      remedy:
        'a backup needs two connections, one after the other (restorable\'s own pre-flight queries, then the dump), plus one per other database source dumped at the same time; ' +
        'every client of the server, the application included, shares max_connections: see who holds them (SHOW PROCESSLIST), and raise the limit as an administrator ' +
        '(SET GLOBAL max_connections = <more>; and max_connections = <more> under [mysqld] in the server config, so a restart keeps it), then run the backup again',
      details: [context.serverMessage],
      cause: context.cause,
    },
  );
}
