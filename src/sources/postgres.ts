// Owns the postgres source: one PostgreSQL database dumped with pg_dump into a
// plain SQL stream that restores with stock psql under any database name, and
// the proof that the dump is complete.
//
// Consistency: our session opens a REPEATABLE READ transaction and exports its
// snapshot; pg_dump runs with `--snapshot=<id>`, so the dump, our inventory
// and our per-table row counts and checksums (the facts a drill compares) all
// see the same database state. The session stays open until pg_dump has
// started writing (it imports the snapshot before its first byte).
//
// A dump counts only when pg_dump exited 0 and postgres-dump-verdict.ts finds
// it complete (trailer, no \connect, every object, every row, every sequence
// value, every large object). The privilege pre-flight comes first and names
// every missing GRANT at once (postgres-privileges.ts); the password reaches
// pg_dump only through a 0600 PGPASSFILE (postgres-settings.ts).

import { rm } from 'node:fs/promises';
import type { ErrorWhere } from '../core/errors.ts';
import { RestorableError } from '../core/errors.ts';
import { spawnStream } from '../process/spawn-stream.ts';
import { POSTGRES_INVENTORY_KINDS, postgresKindWord, type PostgresInventory } from './postgres-details.ts';
import { findPgDump, pgDumpArguments, type PgDumpTool } from './postgres-dump-tool.ts';
import { PostgresDumpScanner, type PostgresDumpScan } from './postgres-dump-scanner.ts';
import type { PostgresInspection } from './postgres-inventory.ts';
import { checkPostgresDump, pgDumpFailed, postgresDumpDetails, type SnapshotFacts } from './postgres-dump-verdict.ts';
import { postgresReadSide } from './postgres-restore-side.ts';
import { describePostgresEndpoint, postgresChildEnvironment, quotePostgresIdentifier, writePassFile, type PostgresConnection, type ResolvedPostgresSource } from './postgres-settings.ts';
import { PostgresSnapshotSession, type PostgresServer } from './postgres-snapshot.ts';
import type { PreflightReport, ProducedArtifact, SourceContext, SourceDriver } from './source.ts';
import { scanDumpStream } from './dump-scan-handoff.ts';

export { resolvePostgresSource, type ResolvedPostgresSource } from './postgres-settings.ts';

type PostgresContext = SourceContext<ResolvedPostgresSource>;

export const postgresSource: SourceDriver<ResolvedPostgresSource> = {
  type: 'postgres',
  extension: 'sql',
  content: 'database',
  ...postgresReadSide,

  async preflight(context: PostgresContext): Promise<PreflightReport> {
    const { config, connection } = context.config;
    const where = whereOf(context);
    const session = await PostgresSnapshotSession.open(connection, where);
    try {
      const server = await session.server();
      const tool = await findPgDump(config.dump_tool, server.versionNum, context.sourceName);
      failOnMissingPrivileges(server, connection, where);
      const inspection = await session.inventory();
      return {
        notes: [
          ...connection.notes,
          `${tool.version} (${tool.path})`,
          `server ${server.text} at ${describePostgresEndpoint(connection)}, as ${server.privileges.account}${server.privileges.superuser ? ' (superuser)' : ''}`,
          `database ${quotePostgresIdentifier(connection.database)}: ${describeInventory(inspection.inventory)}`,
          ...remappedRolesNote(inspection),
        ],
        warnings: [],
      };
    } finally {
      await session.close();
    }
  },

  async produce(context: PostgresContext): Promise<ProducedArtifact> {
    const { config, connection } = context.config;
    const where = whereOf(context);
    throwIfAborted(context, where);
    const session = await PostgresSnapshotSession.open(connection, where);
    let tool: PgDumpTool;
    let server: PostgresServer;
    let snapshot: string;
    let passFile: string;
    try {
      server = await session.server();
      tool = await findPgDump(config.dump_tool, server.versionNum, context.sourceName);
      failOnMissingPrivileges(server, connection, where);
      throwIfAborted(context, where);
      snapshot = await session.exportSnapshot();
      passFile = await writePassFile(context.scratchDir, connection, `pgpass-${context.sourceName}`);
    } catch (error) {
      await session.close();
      throw error;
    }

    const dump = spawnStream(tool.path, pgDumpArguments(snapshot), {
      name: 'pg_dump',
      env: postgresChildEnvironment(process.env, connection, passFile),
      deadlineMs: config.timeout_ms,
      stallTimeoutMs: config.stall_timeout_ms,
    });
    context.log.info(`dumping ${quotePostgresIdentifier(connection.database)} with ${tool.version}`, { endpoint: describePostgresEndpoint(connection), snapshot });

    let stopReason: string | undefined;
    const stop = (reason: string) => {
      stopReason ??= reason;
      dump.kill(`was stopped because ${reason}`);
    };
    const onAbort = () => stop('the run was aborted');
    context.signal.addEventListener('abort', onAbort, { once: true });
    if (context.signal.aborted) onAbort();

    // The snapshot must outlive pg_dump's import of it: close the session only
    // after pg_dump's first byte (or its end), and after our own reads.
    const dumpStarted = new Promise<void>((resolve) => {
      dump.stdout.once('data', () => resolve());
      dump.completed.then(resolve, () => resolve());
    });
    const facts: Promise<SnapshotFacts> = (async () => {
      try {
        return await session.readFacts(snapshot, server, context.signal);
      } catch (error) {
        stop('the snapshot facts could not be read');
        throw error;
      } finally {
        await dumpStarted;
        await session.close();
      }
    })();
    facts.catch(() => {});
    // pg_dump has connected once it writes: the password file has served (the scratch directory goes anyway).
    void dumpStarted.then(() => rm(passFile, { force: true }).catch(() => {}));

    return scanDumpStream<PostgresDumpScan>({
      output: dump.stdout,
      scanner: (settle) => new PostgresDumpScanner(settle),
      judge: async (scanned) => {
        try {
          try {
            await dump.completed;
          } catch (error) {
            throw pgDumpFailed(error, connection, where, stopReason);
          }
          const snapshotFacts = await facts;
          const scan = await scanned;
          checkPostgresDump(scan, snapshotFacts, connection, where);
          return { warnings: [], degraded: false, details: { ...postgresDumpDetails(scan, snapshotFacts, tool, connection) } };
        } finally {
          context.signal.removeEventListener('abort', onAbort);
          await facts.catch(() => {});
        }
      },
      closedEarly: () => {
        // The consumer went away before the end: stop the dump rather than let it block on a full pipe.
        stop('its output was closed before the dump finished');
        return new RestorableError(`the dump of ${quotePostgresIdentifier(connection.database)} was not read to its end: ${stopReason}`, {
          code: 'DUMP_FAILED',
          where,
          remedy: 'the consumer of the dump failed first: see the other error of this run',
        });
      },
    });
  },
};

function whereOf(context: PostgresContext): ErrorWhere {
  return { job: context.job, source: context.sourceName };
}

function throwIfAborted(context: PostgresContext, where: ErrorWhere): void {
  if (!context.signal.aborted) return;
  throw new RestorableError(`the dump of ${quotePostgresIdentifier(context.config.connection.database)} was not started: the run was aborted`, { code: 'DUMP_ABORTED', where });
}

function failOnMissingPrivileges(server: PostgresServer, connection: PostgresConnection, where: ErrorWhere): void {
  const { missing, account, readAllDataGrant } = server.privileges;
  if (missing.length === 0) return;
  const grants = missing.map((entry) => entry.grant);
  const notCovered = missing.filter((entry) => !entry.readAllData).map((entry) => entry.grant);
  const remedy = readAllDataGrant
    ? `as a PostgreSQL superuser, run: ${[readAllDataGrant, ...notCovered].join(' ')} (or, object by object: ${grants.join(' ')})`
    : `as a PostgreSQL superuser${notCovered.length === 0 ? " or the objects' owner" : ''}, run: ${grants.join(' ')}`;
  throw new RestorableError(`${account} may not read everything pg_dump must read in ${quotePostgresIdentifier(connection.database)} at ${describePostgresEndpoint(connection)}`, {
    code: 'POSTGRES_PRIVILEGES_MISSING',
    where,
    remedy,
    details: missing.map((entry) => `${entry.what}. Fix: ${entry.grant}`),
  });
}

function describeInventory(inventory: PostgresInventory): string {
  const lists = POSTGRES_INVENTORY_KINDS.map((kind) => `${inventory[kind].length} ${postgresKindWord(kind, inventory[kind].length)}`);
  return [...lists, `${inventory.largeObjects} large object${inventory.largeObjects === 1 ? '' : 's'}`].join(', ');
}

function remappedRolesNote(inspection: PostgresInspection): string[] {
  const { owners, grantees } = inspection.roles;
  if (owners.length === 0 && grantees.length === 0) return [];
  return [
    `the dump carries no owners (${owners.join(', ') || 'none'}) or grants (to ${grantees.join(', ') || 'nobody'}): a restore makes the restoring role own everything`,
  ];
}
