// Owns the read side of the sqlite kind: `restore db` of an SQLite artifact
// into a file (beside the live database by default), and its drill.
//
// A restore writes `<target>.partial` (0600), checks its size and sha256 as it
// streams, fsyncs it, runs `PRAGMA integrity_check` on it and only then
// renames it over the target: the target is either the old file or the
// complete restored one, never half of each. A drill restores into the
// drill's scratch directory and compares the integrity check, the row count
// of every table the manifest recorded and the smoke queries.

import { createWriteStream } from 'node:fs';
import { open as openFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { RestorableError } from '../core/errors.ts';
import type { ArtifactRecord } from '../core/manifest.ts';
import { decompressCommand } from '../stages/codec.ts';
import { ByteCounter } from '../stages/hash.ts';
import { ensurePrivateDir } from '../storage/local-repository.ts';
import { countRows, integrityProblems, openSqlite } from './sqlite-database.ts';
import { assertReadSound, explainReadFailure, readVerified } from '../storage/verified-read.ts';
import { judgeQuery, queriesFor } from './drill-queries.ts';
import type { ResolvedSqliteSource } from './sqlite.ts';
import { confirmOverwrite, wrongTarget, type DatabaseRestored, type DatabaseTarget, type DrillContext, type DrillMeasurement, type RestoreContext, type RestoreSide } from './source-restore.ts';

export const sqliteRestoreSide: RestoreSide = {
  restore: (context, target) => (target.content === 'database' ? restoreSqlite(context, target) : wrongTarget(context.artifact, target)),
  drill: drillSqlite,
  restoreByHand: (artifact: ArtifactRecord) => `${decompressCommand(artifact.compression, 'artifact')} > database.sqlite`,
};

async function restoreSqlite(context: RestoreContext, request: DatabaseTarget): Promise<DatabaseRestored> {
  const { manifest, artifact, log } = context;
  const settings = context.settings() as ResolvedSqliteSource | undefined;
  const into = resolve(request.into ?? `${settings?.databasePath}.restored-${manifest.setId}`);
  const target = `file ${into}`;
  const existingSize = await stat(into).then((info) => info.size, () => undefined);
  if (existingSize !== undefined && existingSize > 0) await confirmOverwrite(request, into, `${target} exists and is not empty`);
  log.step(`restoring ${artifact.source} of set ${manifest.setId} into ${target}`);
  await ensurePrivateDir(dirname(into)).catch(() => {});
  const partial = `${into}.partial`;
  const counter = new ByteCounter((bytes) => log.progress(artifact.source, bytes));
  try {
    assertReadSound(artifact, await readVerified(context.reader, artifact, [counter, createWriteStream(partial, { mode: 0o600 })], context.signal));
    const handle = await openFile(partial, 'r');
    await handle.sync();
    await handle.close();
    const copy = openSqlite(partial, { readonly: true });
    try {
      const problems = integrityProblems(copy);
      if (problems.length) throw new RestorableError('the restored SQLite database fails its integrity check', { code: 'RESTORE_FAILED', details: problems.slice(0, 10) });
    } finally {
      copy.close();
    }
    // Atomic: the target is either the old file or the complete restored one.
    await rename(partial, into);
  } catch (error) {
    await rm(partial, { force: true });
    throw await explainReadFailure(context.reader, artifact, error);
  }
  return { content: 'database', target, created: existingSize === undefined, rawBytes: counter.byteCount };
}

async function drillSqlite(context: DrillContext): Promise<DrillMeasurement> {
  const { artifact, stopwatch } = context;
  const path = join(context.scratchDir, `${artifact.source}.sqlite`);
  stopwatch.start();
  const read = await readVerified(context.reader, artifact, [createWriteStream(path, { mode: 0o600 })], context.signal);
  // Bytes that do not decode are damage (the restore failed); bytes that decode but differ from the manifest are a difference.
  if (read.decodeError !== undefined) throw read.decodeError;
  const restoreMs = stopwatch.stop();
  const differences: string[] = [];
  if (read.sha256 !== artifact.sha256) differences.push(`${artifact.path}: sha256 differs from the manifest`);
  const compareStarted = performance.now();
  const database = openSqlite(path, { readonly: true });
  let tables = 0;
  let queries = 0;
  try {
    const problems = integrityProblems(database);
    differences.push(...problems.slice(0, 10).map((problem) => `integrity check: ${problem}`));
    const rowCounts = (artifact.details.rowCounts ?? {}) as Record<string, number>;
    for (const [table, recorded] of Object.entries(rowCounts)) {
      tables++;
      const rows = countRows(database, table);
      if (rows === undefined) differences.push(`table ${table} is missing after the restore`);
      else if (rows !== recorded) differences.push(`table ${table}: ${rows} rows restored, ${recorded} recorded at backup time`);
    }
    for (const query of queriesFor(context.loaded.config.drill, artifact.source)) {
      queries++;
      let value: number | Error;
      try {
        value = Number(database.firstValue(query.sql));
      } catch (error) {
        value = error as Error;
      }
      differences.push(...judgeQuery(query, value));
    }
  } finally {
    database.close();
    await rm(path, { force: true });
  }
  return { ok: differences.length === 0, restoreMs, compareMs: Math.round(performance.now() - compareStarted), compared: `integrity, ${tables} table(s), ${queries} query(ies)`, differences, notes: [] };
}
