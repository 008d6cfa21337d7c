// Owns `restore all`: every source of a set, files and database(s), in one
// command, with the plan (what goes where) handed to the caller before
// anything is written. It composes the single-source jobs (runRestoreFilesOfSet,
// restoreDatabase) and asks each artifact's driver only for its `content`.
// Invariants:
//   - Everything that can be refused is refused before the first write: an
//     unknown kind, a database source no longer configured as its kind, a
//     missing target for --in-place, an unconfirmed --in-place.
//   - --to-root DIR: the files sources are recreated under DIR (new or empty),
//     each database into a new database with the kind's default name (or the
//     one --into names); nothing live is written over.
//   - --in-place: the files sources merge into `/` and each database goes into
//     the target --into names (its live database), after one confirmation
//     (or --yes) for all; restore db's safety sets protect each database.

import { resolve } from 'node:path';
import { RestorableError } from '../core/errors.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { Clock, RunReporter } from '../core/ports.ts';
import { resolveSetId, type SetReader } from '../storage/set-reader.ts';
import { driverForKind } from '../sources/registry.ts';
import { restoreDatabase, type RestoreDbOutcome } from './restore-db.ts';
import { runRestoreFilesOfSet, type RestoreFilesOutcome } from './restore-files.ts';

export interface RestoreAllRequest {
  loaded: LoadedConfig;
  reader: SetReader;
  /** A set id or `latest` (the default). */
  set?: string;
  /** `to-root`: a copy of the app under `root`; `in-place`: over the live files and databases. */
  mode: { kind: 'to-root'; root: string } | { kind: 'in-place' };
  /** Database source -> its target (--into SOURCE=TARGET); in place every database source needs one. */
  into?: Record<string, string>;
  /** Go on without asking (in place; and onto a non-empty database target). */
  yes: boolean;
  /** On a TTY: asks the operator; undefined elsewhere. */
  confirm?: (question: string) => Promise<string>;
  /** Receives the plan before anything is written (the CLI prints it). */
  onPlan(plan: RestorePlan): void;
  reporter: RunReporter;
  signal?: AbortSignal;
  clock?: Clock;
}

export interface RestorePlanStep {
  source: string;
  type: string;
  content: 'database' | 'files';
  /** Where it goes, as the operator reads it. */
  target: string;
}

export interface RestorePlan {
  setId: string;
  mode: 'to-root' | 'in-place';
  steps: RestorePlanStep[];
}

export interface RestoreAllOutcome {
  plan: RestorePlan;
  files: RestoreFilesOutcome[];
  databases: RestoreDbOutcome[];
  durationMs: number;
}

export async function runRestoreAll(request: RestoreAllRequest): Promise<RestoreAllOutcome> {
  const started = performance.now();
  const { loaded, reader, mode } = request;
  const setId = await resolveSetId(reader, request.set);
  const manifest = await reader.readManifest(setId);
  const into = request.into ?? {};
  const filesRoot = mode.kind === 'to-root' ? resolve(mode.root) : '/';
  const unknownInto = Object.keys(into).filter((source) => !manifest.artifacts.some((artifact) => artifact.source === source && driverForKind(artifact.type)?.content === 'database'));
  if (unknownInto.length > 0) throw usage(`--into names source(s) that are no database of set ${setId}: ${unknownInto.join(', ')}`, 'give --into SOURCE=TARGET for the database sources `restorable list` shows');

  const steps = manifest.artifacts.map((artifact): RestorePlanStep => {
    const driver = driverForKind(artifact.type);
    if (!driver) throw usage(`source ${artifact.source} of set ${setId} is a ${artifact.type} artifact, a kind this version of restorable does not know`, 'restore with the version that made the set');
    if (driver.content === 'files') return { source: artifact.source, type: artifact.type, content: 'files', target: `${filesRoot} (its paths recreated under it${mode.kind === 'in-place' ? '; entries of the same name replaced' : ''})` };
    if (loaded.config.sources[artifact.source]?.type !== artifact.type) {
      throw usage(`source ${artifact.source} (${artifact.type}) of set ${setId} is not configured as a ${artifact.type} source any more`, `restore it by hand: ${driver.restoreByHand(artifact)}`);
    }
    const named = into[artifact.source];
    if (named === undefined && mode.kind === 'in-place') {
      throw usage(`--in-place needs the live target of database source ${artifact.source}: --into ${artifact.source}=TARGET`, 'name each database source\'s live database (mysql, postgres) or file (sqlite); or restore beside the live app with --to-root DIR');
    }
    return { source: artifact.source, type: artifact.type, content: 'database', target: named ?? 'a new database, named as `restore db` names it by default' };
  });
  if (steps.length === 0) throw usage(`set ${setId} holds no artifact`, '`restorable list` shows the sets and their sources');
  const plan: RestorePlan = { setId, mode: mode.kind, steps };
  request.onPlan(plan);

  if (mode.kind === 'in-place') await confirmInPlace(request, plan);
  const yes = request.yes || mode.kind === 'in-place';
  const files = steps.some((step) => step.content === 'files')
    ? await runRestoreFilesOfSet({ reader, set: setId, to: filesRoot, force: mode.kind === 'in-place', reporter: request.reporter, signal: request.signal })
    : [];
  const databases: RestoreDbOutcome[] = [];
  for (const step of steps.filter((candidate) => candidate.content === 'database')) {
    databases.push(
      await restoreDatabase({ loaded, reader, set: setId, source: step.source, into: into[step.source], yes, confirm: request.confirm, reporter: request.reporter, signal: request.signal, clock: request.clock }),
    );
  }
  return { plan, files, databases, durationMs: Math.round(performance.now() - started) };
}

/** One confirmation for everything an in-place restore writes over: `--yes`, or the app's name typed. */
async function confirmInPlace(request: RestoreAllRequest, plan: RestorePlan): Promise<void> {
  if (request.yes) return;
  const app = request.loaded.config.app;
  const what = `restoring set ${plan.setId} in place writes over the live files and ${plan.steps.filter((step) => step.content === 'database').length} database(s) of ${app}`;
  if (request.confirm && (await request.confirm(`${what}. Type the app's name (${app}) to go on: `)).trim() === app) return;
  throw new RestorableError(`${what}; not confirmed, nothing was changed`, {
    code: 'RESTORE_REFUSED',
    remedy: 'restore beside the live app with --to-root DIR, or pass --yes to restore in place (each database non-empty is first saved as a safety set)',
  });
}

function usage(message: string, remedy: string): RestorableError {
  return new RestorableError(message, { code: 'USAGE', remedy });
}
