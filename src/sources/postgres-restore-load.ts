// Owns loading a plain pg_dump script into one database with the stock client:
// `psql -X -v ON_ERROR_STOP=1 --single-transaction -d DB`, fed from the one
// verified read (storage/verified-read.ts: the stored bytes counted, hashed
// and decoded in this process) through the backup's PostgresDumpScanner (the
// script's facts) and RestoreScriptFilter, which holds back psql
// meta-commands and the BEGIN/COMMIT around large objects.
//
// Invariants:
//   - psql sees the end of its input only after the whole artifact was read,
//     its size and sha256 matched, it decoded cleanly, its trailer was seen
//     and it held no meta-command. psql would otherwise run a cut-off script
//     to its end and COMMIT it: on any doubt it is killed instead, and the one
//     transaction rolls back, leaving the target as it was.
//   - The password reaches psql in a 0600 PGPASSFILE in the scratch
//     directory (postgres-settings.ts), never argv or a PGPASSWORD variable.

import { access, constants as fsConstants, rm } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { RestorableError, type ErrorWhere } from '../core/errors.ts';
import type { ArtifactRecord } from '../core/manifest.ts';
import { spawnStream } from '../process/spawn-stream.ts';
import type { SetReader } from '../storage/set-reader.ts';
import { assertReadSound, streamVerified } from '../storage/verified-read.ts';
import { scriptCutShort, scriptTiedToDatabase } from './postgres-check.ts';
import { PostgresDumpScanner, type PostgresDumpScan } from './postgres-dump-scanner.ts';
import { RestoreScriptFilter } from './postgres-restore-stream.ts';
import { describePostgresEndpoint, postgresChildEnvironment, scrubPostgresSecret, writePassFile, type PostgresConnection } from './postgres-settings.ts';

export interface ScriptLoad {
  /** The server and account to restore as (its own database is not used: `database` is). */
  connection: PostgresConnection;
  database: string;
  /** A private directory for the PGPASSFILE. */
  scratchDir: string;
  /** SQL run first, in the same transaction (a non-empty target's schemas dropped). */
  prologue?: string;
  reader: SetReader;
  artifact: ArtifactRecord;
  where: ErrorWhere;
  signal?: AbortSignal;
  /** Stored bytes read so far (progress). */
  onBytes?: (bytes: number) => void;
}

/** The psql on PATH, or CLIENT_TOOL_MISSING: asked before anything is created, so a missing client changes nothing. */
export async function requirePsql(where: ErrorWhere): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter((entry) => isAbsolute(entry))) {
    const path = join(dir, 'psql');
    try {
      await access(path, fsConstants.X_OK);
      return path;
    } catch {
      // keep looking
    }
  }
  throw new RestorableError('psql (the PostgreSQL client) is not on PATH, so nothing can be restored; nothing was changed', {
    code: 'CLIENT_TOOL_MISSING',
    where,
    remedy: 'install the client: apt-get install postgresql-client (the version of pg_dump or newer)',
  });
}

/** Loads the artifact into `database`; resolves with what the script held, rejects with psql's first error or the artifact's damage. */
export async function loadPlainScript(load: ScriptLoad): Promise<PostgresDumpScan> {
  const { connection, database, artifact, where } = load;
  load.signal?.throwIfAborted();
  // The database travels as PGDATABASE: a name holding `=` given to -d would be read as a connection string.
  const program = await requirePsql(where);
  const passFile = await writePassFile(load.scratchDir, connection, `pgpass-restore-${process.pid}-${Date.now()}`);
  const psql = spawnStream(program, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction'], {
    name: 'psql',
    stdin: 'pipe',
    env: postgresChildEnvironment(process.env, connection, passFile, database),
  });
  let psqlGone = false;
  psql.child.once('close', () => (psqlGone = true));
  psql.stdin!.on('error', () => {}); // EPIPE when psql stopped at an error: its exit status tells why
  const scanner = new PostgresDumpScanner();
  const filter = new RestoreScriptFilter();
  const feeder = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      // psql gone (an error stopped it): drain the rest so the read still hashes to the end.
      if (psqlGone || psql.stdin!.destroyed) return callback();
      if (psql.stdin!.write(chunk)) return callback();
      const go = () => {
        psql.stdin!.off('drain', go);
        psql.child.off('close', go);
        callback();
      };
      psql.stdin!.once('drain', go);
      psql.child.once('close', go);
    },
    // The end is NOT passed on here: psql gets it only once the read was judged sound.
    final: (callback) => callback(),
  });
  if (load.prologue) psql.stdin!.write(`${load.prologue}\n`);
  const onAbort = () => psql.kill('interrupted');
  load.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const read = await streamVerified(await openCounted(load), artifact, [scanner, filter, feeder], load.signal);
    const scan = scanner.result();
    try {
      assertReadSound(artifact, read);
    } catch (error) {
      // Damage is the cause even when psql also failed on the cut-off SQL.
      if (error instanceof RestorableError && error.code === 'ARTIFACT_DAMAGED') throw error;
      if (!psqlGone) throw error;
    }
    if (!psqlGone) {
      const refusal = scriptCutShort(scan) ?? scriptTiedToDatabase(scan) ?? (filter.heldBack.length > 0 ? `the dump holds psql meta-commands (${filter.heldBack.join(', ')})` : undefined);
      if (refusal) {
        throw new RestorableError(`${artifact.path} was not restored: ${refusal}`, {
          code: 'RESTORE_NOT_PORTABLE',
          where,
          remedy: 'restore another set (`restorable list`); nothing of this one was committed',
        });
      }
      psql.stdin!.end();
    }
    await psql.completed;
    return scan;
  } catch (error) {
    psql.kill('stopped');
    await psql.completed.catch(() => {});
    if (load.signal?.aborted) throw error;
    if (error instanceof RestorableError && error.code !== 'CHILD_FAILED') throw error;
    const stderr = scrubPostgresSecret(psql.stderrTail(), connection.password).trim();
    const first = stderr.split('\n').find((line) => /\b(ERROR|FATAL):/.test(line)) ?? stderr.split('\n').pop() ?? (error as Error).message;
    throw new RestorableError(`restoring into ${database} at ${describePostgresEndpoint(connection)} failed: ${shorten(first || (error as Error).message)}`, {
      code: 'RESTORE_FAILED',
      where,
      details: stderr ? stderr.split('\n').slice(-10).map(shorten) : [],
      remedy: 'read the psql error above, fix its cause (a privilege, a role, an extension, disk space) and restore again; the load ran in one transaction, so nothing of it was committed',
      cause: error,
    });
  } finally {
    load.signal?.removeEventListener('abort', onAbort);
    await rm(passFile, { force: true });
  }
}

/** The stored bytes, counted for progress on their way into the verified read. */
async function openCounted(load: ScriptLoad): Promise<Readable> {
  const stored = await load.reader.openArtifact(load.artifact.path);
  if (!load.onBytes) return stored;
  let bytes = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      load.onBytes!((bytes += chunk.length));
      callback(null, chunk);
    },
  });
  stored.on('error', (error) => counted.destroy(error));
  return stored.pipe(counted);
}

const LONGEST_ERROR_LINE = 300;

function shorten(line: string): string {
  return line.length <= LONGEST_ERROR_LINE ? line : `${line.slice(0, LONGEST_ERROR_LINE)}... (${line.length - LONGEST_ERROR_LINE} more characters)`;
}
