// Owns the repository marker, `.restorable/repository.json`: the small file
// `restorable init` writes to say "this directory is a restorable repository"
// (the app it is for and a random id), so that a backup never guesses. An
// unmounted backup disk or a typo in `repository` has no marker, and the
// backup refuses instead of filling the root filesystem with `mkdir -p`.
//
// Invariants:
// - the marker records the app and an id, never its own path: a repository
//   copied to another disk or moved keeps working as it is;
// - it is written atomically (0600, `.partial` -> fsync -> rename) and never
//   replaced once there: `init` on an initialised repository changes nothing;
// - it is read bounded and without following a link, and validated: a
//   malformed marker is reported (REPOSITORY_MARKER_INVALID), never trusted.

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { RestorableError } from '../core/errors.ts';
import { writeFileAtomically } from './private-files.ts';
import { checkLayoutDirectory, readSmallFileNoFollow, STATE_DIR } from './repository-paths.ts';

export const MARKER_FORMAT = 'restorable-repository';
export const MARKER_VERSION = 1;
/** Relative to the repository root. */
export const MARKER_PATH = `${STATE_DIR}/repository.json`;
/** A marker is a few hundred bytes; anything far larger was not written by restorable. */
const MAX_MARKER_BYTES = 64 * 1024;

const markerSchema = z.looseObject({
  format: z.literal(MARKER_FORMAT),
  version: z.number().int().positive(),
  id: z.string().regex(/^[A-Za-z0-9-]{8,64}$/),
  app: z.string().min(1).max(200),
  createdAt: z.string().max(64).refine((text) => Number.isFinite(Date.parse(text))),
  /** The restorable version that wrote it, for the operator's eyes. */
  createdBy: z.string().max(100).optional(),
  /** Set when a backup wrote the marker into a repository made before markers existed. */
  adopted: z.boolean().optional(),
});

export type RepositoryMarker = z.infer<typeof markerSchema>;

export function markerPath(root: string): string {
  return join(root, MARKER_PATH);
}

/** A new marker for `app`, with a fresh random id. */
export function newMarker(app: string, now: Date, extra: { createdBy?: string; adopted?: boolean } = {}): RepositoryMarker {
  return { format: MARKER_FORMAT, version: MARKER_VERSION, id: randomUUID(), app, createdAt: now.toISOString(), ...extra };
}

/**
 * The marker of the repository at `root`, or undefined when it has none.
 * Throws REPOSITORY_MARKER_INVALID for a marker that is not one (not JSON, the
 * wrong shape, a link, far too large) or of a newer format than this version
 * understands, and REPOSITORY_UNSAFE when `.restorable` is a link.
 */
export async function readRepositoryMarker(root: string): Promise<RepositoryMarker | undefined> {
  if (!(await checkLayoutDirectory(root, STATE_DIR))) return undefined;
  const path = markerPath(root);
  let text: string;
  try {
    text = await readSmallFileNoFollow(path, MAX_MARKER_BYTES);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EACCES' || code === 'EPERM') throw error; // permissions: the caller reports those as such
    throw invalidMarker(path, code === 'ELOOP' ? 'it is a symlink' : `it cannot be read (${code ?? (error as Error).message})`, error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalidMarker(path, 'it is not JSON', error);
  }
  const checked = markerSchema.safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw invalidMarker(path, `${issue?.path.join('.') || 'its content'}: ${issue?.message ?? 'not a marker'}`);
  }
  if (checked.data.version > MARKER_VERSION) {
    throw new RestorableError(`the repository marker ${path} has format version ${checked.data.version}; this restorable understands ${MARKER_VERSION}`, {
      code: 'REPOSITORY_MARKER_INVALID',
      where: { path },
      remedy: 'the repository was initialised by a newer restorable: upgrade restorable on this machine',
    });
  }
  return checked.data;
}

/**
 * Writes the marker atomically unless one is there already; returns the one
 * in place (the existing one when there was one). `.restorable` must exist.
 */
export async function writeRepositoryMarker(root: string, marker: RepositoryMarker): Promise<RepositoryMarker> {
  const existing = await readRepositoryMarker(root);
  if (existing) return existing;
  await writeFileAtomically(markerPath(root), JSON.stringify(marker, null, 2) + '\n');
  return marker;
}

function invalidMarker(path: string, why: string, cause?: unknown): RestorableError {
  return new RestorableError(`the repository marker ${path} is malformed: ${why}`, {
    code: 'REPOSITORY_MARKER_INVALID',
    where: { path },
    remedy:
      'restorable wrote no such file: find out who changed it; if the directory is the right repository, ' +
      `remove ${path} and run \`restorable init\` to write a new marker (the sets are not touched)`,
    cause,
  });
}
