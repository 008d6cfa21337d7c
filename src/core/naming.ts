// Owns names in the repository: set ids (UTC timestamps, sortable, never
// reused), artifact file names in the seed's layout
// (`db/db_backup_2026-01-31_03-00-00.sql.gz`) and the manifest path.

export const SET_ID_PATTERN = /^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}$/;

/** `2026-01-31_03-00-00` for the given instant, in UTC. */
export function setIdFor(date: Date): string {
  const iso = date.toISOString(); // 2026-01-31T03:00:00.000Z
  return `${iso.slice(0, 10)}_${iso.slice(11, 13)}-${iso.slice(14, 16)}-${iso.slice(17, 19)}`;
}

/** The instant a set id names (UTC). */
export function dateOfSetId(setId: string): Date {
  if (!SET_ID_PATTERN.test(setId)) throw new Error(`not a set id: ${setId}`);
  const [day, time] = setId.split('_') as [string, string];
  return new Date(`${day}T${time.replaceAll('-', ':')}Z`);
}

/**
 * The id for a run starting at `now`: its own second, or the next second
 * `isFree` accepts, so two runs in one second never overwrite each other.
 */
export async function nextFreeSetId(now: Date, isFree: (setId: string) => boolean | Promise<boolean>): Promise<string> {
  let candidate = new Date(Math.floor(now.getTime() / 1000) * 1000);
  while (!(await isFree(setIdFor(candidate)))) candidate = new Date(candidate.getTime() + 1000);
  return setIdFor(candidate);
}

/** Relative path of a source's artifact: `<source>/<source>_backup_<set id>.<extension>`. */
export function artifactPath(sourceName: string, setId: string, extension: string): string {
  return `${sourceName}/${sourceName}_backup_${setId}.${extension}`;
}

/** Relative path of a file source's entry index: `<source>/<source>_index_<set id>.jsonl.gz`. */
export function indexPath(sourceName: string, setId: string): string {
  return `${sourceName}/${sourceName}_index_${setId}.jsonl.gz`;
}

export const MANIFEST_DIR = 'manifests';
export const LOG_DIR = 'logs';

export function manifestPath(setId: string): string {
  return `${MANIFEST_DIR}/${setId}.json`;
}

/** Source names become directory and file names: keep them to a safe alphabet. */
export const SOURCE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** The extension of an artifact: `sql.gz`, `tar.zst`, `sqlite.gz`. */
export const ARTIFACT_EXTENSION_PATTERN = /^[a-z0-9]{1,16}(\.[a-z0-9]{1,16}){0,3}$/;

/**
 * True when `path` is exactly the layout path of an artifact of `sourceName`
 * in set `setId` (`<source>/<source>_backup_<set id>.<extension>`). Paths read
 * from the repository (manifests, journals) are acted on only when they pass:
 * a planted `../../etc/shadow` never does.
 */
export function isArtifactPath(path: string, sourceName: string, setId: string): boolean {
  if (!SOURCE_NAME_PATTERN.test(sourceName) || !SET_ID_PATTERN.test(setId)) return false;
  const prefix = `${sourceName}/${sourceName}_backup_${setId}.`;
  return path.startsWith(prefix) && ARTIFACT_EXTENSION_PATTERN.test(path.slice(prefix.length));
}

/** True when `path` is exactly the layout path of `sourceName`'s entry index in set `setId`. */
export function isIndexPath(path: string, sourceName: string, setId: string): boolean {
  return SOURCE_NAME_PATTERN.test(sourceName) && SET_ID_PATTERN.test(setId) && path === indexPath(sourceName, setId);
}

/** True when `path` is an artifact or index path of set `setId`, for any valid source name. */
export function isSetFilePath(path: string, setId: string): boolean {
  const slash = path.indexOf('/');
  if (slash <= 0) return false;
  const sourceName = path.slice(0, slash);
  return isArtifactPath(path, sourceName, setId) || isIndexPath(path, sourceName, setId);
}
