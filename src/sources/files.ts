// Owns the files source: configured paths (uploads, storage, config files) ->
// one raw tar stream that GNU tar restores in place (`cd / && tar -xf`), plus
// a JSON-lines entry index with a sha256 per file. Pre-flight checks the paths;
// produce() validates again (nothing may have been mounted in between), then
// streams the archive. The work is split by concern:
//   files-exclude.ts  what is left out (globs, the repository, the scratch dir)
//   files-walk.ts     the directory walk
//   files-archive.ts  entries -> tar bytes, races, hashing, warnings
//   files-tar.ts      the header encoding
//   files-index.ts    the index file
//
// Outcomes: a clean run resolves `completed` with degraded=false. Files that
// vanish before they are read are warnings (they no longer exist). Files that
// change while read (shrink, grow, modified, swapped) make the run degraded
// (exit 1, as GNU tar's "file changed as we read it"), and so does data that
// exists but could not be archived (unreadable, a name that is not UTF-8, a
// path longer than PATH_MAX); with `fail_on_unreadable: true` the latter
// rejects `completed` with FILES_UNREADABLE naming the paths. The tar stream
// is valid in every case.
//
// A configured path that is a symlink (deploy tools link `storage` and `.env`
// into a shared dir) is followed for that name only, like `tar -h`; one that
// dangles fails the source.

import { constants as fsConstants, type Stats } from 'node:fs';
import { access, lstat, readlink, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { FilesSourceConfig } from '../config/schema.ts';
import { ConfigError, RestorableError, asRestorableError, describeSystemError } from '../core/errors.ts';
import type { SourceWarning } from '../core/manifest.ts';
import { archiveTrees } from './files-archive.ts';
import { ArchiveLedger } from './files-archive-ledger.ts';
import { buildExcludeRules, compileExcludePatterns, type ExcludeRules, type ProtectedDirectory } from './files-exclude.ts';
import { IndexWriter } from './files-index.ts';
import type { PreflightReport, ProducedArtifact, SourceContext, SourceDriver, SourceFacts } from './source.ts';
import { TarCheck } from './files-check.ts';
import { filesRestoreSide } from './files-drill.ts';

type FilesContext = SourceContext<FilesSourceConfig>;

/** Stream buffering on our side: one read chunk ahead of the consumer. */
const STREAM_HIGH_WATER_MARK = 1024 * 1024;

export const filesSource: SourceDriver<FilesSourceConfig> = {
  type: 'files',
  extension: 'tar',
  content: 'files',
  checkContent: (artifact) => new TarCheck(artifact),
  ...filesRestoreSide,

  async preflight(context: FilesContext): Promise<PreflightReport> {
    const plan = await planArchive(context);
    const notes = [
      `${plan.roots.length} path(s): ${plan.roots.join(', ')}`,
      ...(context.config.exclude.length > 0 ? [`excluding ${context.config.exclude.join(', ')}`] : []),
      ...plan.notes,
    ];
    return { notes, warnings: plan.warnings };
  },

  async produce(context: FilesContext): Promise<ProducedArtifact> {
    context.signal.throwIfAborted();
    const plan = await planArchive(context);
    const index = new IndexWriter(join(context.scratchDir, `${context.sourceName}.index.jsonl`));
    const ledger = new ArchiveLedger(context.log);
    let settle!: { resolve: (facts: SourceFacts) => void; reject: (error: unknown) => void };
    const completed = new Promise<SourceFacts>((resolve, reject) => {
      settle = { resolve, reject };
    });
    completed.catch(() => {}); // the pipeline awaits it; never an unhandled rejection

    let started = false;
    async function* archiveThenSettle(): AsyncGenerator<Buffer> {
      started = true;
      let failure: RestorableError | undefined;
      let finished = false;
      try {
        yield* archiveTrees({
          roots: plan.roots,
          rules: plan.rules,
          index,
          ledger,
          signal: context.signal,
          followedRoots: new Map(plan.followedLinks.map((link) => [link.path, link.target])),
          rootFailure: (root, error) => rootError(context, root, plan.fieldOf(root), error),
        });
        finished = true;
      } catch (error) {
        failure = toArchiveError(context, error);
        throw failure;
      } finally {
        // Runs on success, on failure and when the consumer destroys the
        // stream early (Readable.from calls return() on the generator).
        if (finished) {
          try {
            await index.close();
            settle.resolve(outcome(context, ledger, index, plan));
          } catch (error) {
            settle.reject(error instanceof RestorableError ? error : indexError(context, index.filePath, error));
          }
        } else {
          index.discard();
          settle.reject(failure ?? interruptedError(context));
        }
      }
    }

    const stream = Readable.from(archiveThenSettle(), { objectMode: false, highWaterMark: STREAM_HIGH_WATER_MARK });
    // Destroyed before its first read (the run aborted by another source that
    // failed fast), the generator never runs, nor its finally: settle here.
    stream.once('close', () => {
      if (started) return;
      index.discard();
      settle.reject(interruptedError(context, stream.errored ?? undefined));
    });
    // A consumer that stopped reading would leave the generator parked at a
    // yield, deaf to the signal: destroy the stream so it unwinds.
    const onAbort = (): void => {
      stream.destroy(toArchiveError(context, context.signal.reason));
    };
    context.signal.addEventListener('abort', onAbort, { once: true });
    completed.finally(() => context.signal.removeEventListener('abort', onAbort)).catch(() => {});
    return { stream, completed };
  },
};

interface ArchivePlanning {
  /** Normalised absolute paths, in config order, minus those inside another. */
  roots: string[];
  /** Configured paths that are symlinks, followed for that name only, with what they resolved to. */
  followedLinks: Array<{ path: string; target: string }>;
  rules: ExcludeRules;
  notes: string[];
  warnings: SourceWarning[];
  /** `sources.<name>.paths[i]` for a root, to name the field in errors. */
  fieldOf(root: string): string;
}

/** Everything that can be checked before a byte is written; throws for the operator. */
async function planArchive(context: FilesContext): Promise<ArchivePlanning> {
  const { config, sourceName } = context;
  const field = (index: number): string => `sources.${sourceName}.paths[${index}]`;
  const fieldByRoot = new Map<string, string>();
  const notes: string[] = [];
  const warnings: SourceWarning[] = [];
  const followedLinks: Array<{ path: string; target: string }> = [];

  const compiled = compileExcludePatterns(config.exclude, sourceName);
  const repository = await describeProtected(context.repositoryPath);
  const scratch = await describeProtected(context.scratchDir);

  const candidates: string[] = [];
  for (const [index, configured] of config.paths.entries()) {
    if (!isAbsolute(configured)) {
      throw new ConfigError(`${field(index)}: expected an absolute path, got "${configured}"`, {
        where: { source: sourceName, path: configured },
        remedy: `write the full path, e.g. "/var/www/app/${configured.replace(/^\.?\/*/, '')}"`,
      });
    }
    const root = resolve(configured);
    if (fieldByRoot.has(root)) continue;
    fieldByRoot.set(root, field(index));
    for (const inside of [repository, scratch]) {
      for (const protectedPath of inside.paths) {
        if (root === protectedPath || root.startsWith(`${protectedPath}/`)) {
          throw new ConfigError(`${field(index)}: ${root} lies inside the backup repository ${context.repositoryPath}`, {
            where: { source: sourceName, path: root },
            remedy: 'back up the application directories, not the repository (copy it offsite with a destination instead)',
          });
        }
      }
    }
    let stats = await lstatRoot(context, root, field(index));
    if (stats.isSymbolicLink()) {
      // Deploy tools make `storage` and `.env` links into a shared dir. The
      // operator named the path to back up what it holds, so the link is
      // followed for this one name (like `tar -h`); archiving the bare link
      // would be a "backup OK" of nothing.
      const target = await readlink(root).catch(() => '?');
      const resolved = await realpath(root).catch((error: unknown) => {
        throw new RestorableError(`${field(index)}: ${root} is a symlink to ${target}, which does not exist`, {
          code: 'SOURCE_PATH_MISSING',
          where: { source: sourceName, path: root },
          remedy: `mount or create what the link points to, or correct ${field(index)}; nothing was backed up for this source`,
          cause: error,
        });
      });
      for (const protectedPath of [...repository.paths, ...scratch.paths]) {
        if (resolved === protectedPath || resolved.startsWith(`${protectedPath}/`)) {
          throw new ConfigError(`${field(index)}: ${root} links to ${resolved}, inside the backup repository ${context.repositoryPath}`, {
            where: { source: sourceName, path: root },
            remedy: 'back up the application directories, not the repository (copy it offsite with a destination instead)',
          });
        }
      }
      stats = await statRoot(context, root, field(index));
      followedLinks.push({ path: root, target: resolved });
      notes.push(`${root} is a symlink to ${resolved}: its contents are archived under ${root} (the link is followed for this path only, like tar -h)`);
    }
    await checkReadable(context, root, field(index), stats);
    candidates.push(root);
  }

  // A path inside another configured path would be archived twice.
  const roots = candidates.filter((root) => {
    const outer = candidates.find((other) => other !== root && (other === '/' || root.startsWith(`${other}/`)));
    if (outer) notes.push(`${root} is inside ${outer}, which is archived whole; it is not added twice`);
    return !outer;
  });

  const protectedDirectories: ProtectedDirectory[] = [...repository.directories, ...scratch.directories];
  return {
    roots,
    followedLinks,
    rules: buildExcludeRules(compiled, protectedDirectories),
    notes,
    warnings,
    fieldOf: (root) => fieldByRoot.get(root) ?? `sources.${sourceName}.paths`,
  };
}

/** The path as configured and as resolved through symlinks, plus its identity if it exists. */
async function describeProtected(path: string): Promise<{ paths: string[]; directories: ProtectedDirectory[] }> {
  const configured = resolve(path);
  const real = await realpath(configured).catch(() => configured);
  const identity = await lstat(real)
    .then((stats) => `${stats.dev}:${stats.ino}`)
    .catch(() => undefined);
  const paths = [...new Set([configured, real])];
  return { paths, directories: paths.map((each) => ({ path: each, identity })) };
}

async function lstatRoot(context: FilesContext, root: string, field: string): Promise<Stats> {
  try {
    return await lstat(root);
  } catch (error) {
    throw rootError(context, root, field, error);
  }
}

async function statRoot(context: FilesContext, root: string, field: string): Promise<Stats> {
  try {
    return await stat(root);
  } catch (error) {
    throw rootError(context, root, field, error);
  }
}

async function checkReadable(context: FilesContext, root: string, field: string, stats: Stats): Promise<void> {
  const mode = stats.isDirectory() ? fsConstants.R_OK | fsConstants.X_OK : fsConstants.R_OK;
  try {
    await access(root, mode);
  } catch (error) {
    throw rootError(context, root, field, error);
  }
}

/** A configured path that is missing or unreadable fails the source: never an empty or partial "backup". */
function rootError(context: FilesContext, root: string, field: string, error: unknown): RestorableError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new RestorableError(`${field}: ${root} does not exist`, {
      code: 'SOURCE_PATH_MISSING',
      where: { source: context.sourceName, path: root },
      remedy: `mount the filesystem that holds it, or correct ${field}; nothing was backed up for this source`,
      cause: error,
    });
  }
  return new RestorableError(`${field}: ${root} cannot be read (${code ?? (error as Error)?.message ?? String(error)})`, {
    code: 'SOURCE_PATH_UNREADABLE',
    where: { source: context.sourceName, path: root },
    remedy: 'run restorable as a user that can read it (usually root), or remove it from the paths',
    cause: error,
  });
}

function outcome(context: FilesContext, ledger: ArchiveLedger, index: IndexWriter, plan: ArchivePlanning): SourceFacts {
  const { counts } = ledger;
  if (context.config.fail_on_unreadable && ledger.leftOutCount > 0) {
    const more = ledger.leftOutCount - ledger.leftOutPaths.length;
    throw new RestorableError(
      `${ledger.leftOutCount} path(s) could not be read and fail_on_unreadable is set: ${ledger.leftOutPaths.slice(0, 5).join(', ')}${ledger.leftOutCount > 5 ? ', ...' : ''}`,
      {
        code: 'FILES_UNREADABLE',
        where: { source: context.sourceName, path: ledger.leftOutPaths[0] },
        details: [...ledger.leftOutPaths, ...(more > 0 ? [`... and ${more} more`] : [])],
        remedy: `make them readable for the backup user, exclude them (sources.${context.sourceName}.exclude), or set sources.${context.sourceName}.fail_on_unreadable: false to accept a degraded backup`,
      },
    );
  }
  return {
    warnings: [...plan.warnings, ...ledger.allWarnings()],
    degraded: ledger.degraded,
    indexFile: index.filePath,
    indexEntries: index.entryCount,
    details: {
      paths: context.config.paths,
      exclude: context.config.exclude,
      entries: {
        total: counts.files + counts.dirs + counts.symlinks + counts.hardlinks,
        files: counts.files,
        dirs: counts.dirs,
        symlinks: counts.symlinks,
        hardlinks: counts.hardlinks,
      },
      contentBytes: counts.contentBytes,
      dataBytes: counts.dataBytes,
      changedWhileRead: counts.changedWhileRead,
      withAttributes: counts.withAttributes,
      changedPaths: ledger.changedPaths,
      skipped: { ...counts.skipped },
      leftOutPaths: ledger.leftOutPaths,
      ...(plan.followedLinks.length > 0 ? { followedLinks: plan.followedLinks } : {}),
    },
  };
}

function toArchiveError(context: FilesContext, error: unknown): RestorableError {
  if (error instanceof RestorableError) return error;
  if (context.signal.aborted) {
    return new RestorableError('the files backup was interrupted before the archive was complete', {
      code: 'ABORTED',
      where: { source: context.sourceName },
      remedy: 'nothing was published for this source; run the backup again',
      cause: error,
    });
  }
  if ((error as Error | undefined)?.name === 'AbortError') {
    // Node's stream machinery throws this into the generator when the
    // consumer destroyed the stream (a failed write, an early break).
    return interruptedError(context, error);
  }
  const path = (error as NodeJS.ErrnoException | undefined)?.path;
  const system = describeSystemError(error, path);
  if (system) return system.locatedAt({ source: context.sourceName });
  return asRestorableError(error, 'FILES_ARCHIVE_FAILED').locatedAt({ source: context.sourceName, ...(path ? { path } : {}) });
}

function indexError(context: FilesContext, indexPath: string, error: unknown): RestorableError {
  // A full disk reads the same wherever it strikes first: the archive, the index or the artifact.
  const system = describeSystemError(error, indexPath);
  if (system) return system.locatedAt({ source: context.sourceName });
  return new RestorableError(`writing the entry index ${indexPath} failed: ${(error as Error)?.message ?? String(error)}`, {
    code: 'FILES_INDEX_FAILED',
    where: { source: context.sourceName, path: indexPath },
    remedy: 'check free space on the repository filesystem (the scratch dir lives there)',
    cause: error,
  });
}

function interruptedError(context: FilesContext, cause?: unknown): RestorableError {
  return new RestorableError('the files archive stream was closed by its reader before the archive was complete', {
    code: 'ARCHIVE_INTERRUPTED',
    where: { source: context.sourceName },
    remedy: 'see the error reported for the repository write; this artifact was not published',
    cause,
  });
}
