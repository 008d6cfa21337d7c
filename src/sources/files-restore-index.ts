// Owns what a files restore takes from the artifact's entry index (read
// through readIndex, the verified read of files-index.ts): with `--path`, the
// first links outside the selection that selected hard links need, and the
// selected bytes for the free-space check; after extraction, the ACLs and
// extended attributes the backup recorded. The index is repository content,
// so it is never trusted further than it is checked here: attribute names and
// values are validated, and attributes are set only on entries reached
// without a symlink. An index that cannot be used is a warning, not a failed
// restore.

import { lstat } from 'node:fs/promises';
import { RestorableError } from '../core/errors.ts';
import type { ArtifactRecord } from '../core/manifest.ts';
import type { SetReader } from '../storage/set-reader.ts';
import { isSelected } from './files-extract.ts';
import { readIndex } from './files-index.ts';
import { applyExtendedAttributes, type AttributeTarget } from './files-xattrs.ts';
import type { RestoreLog } from './source-restore.ts';

export interface SelectionFacts {
  /** Names outside the selection that selected hard links point to. */
  linkTargets: Set<string>;
  /** Bytes of the selected files (undefined when the index could not be read). */
  selectedBytes: number | undefined;
}

/**
 * With `--path`, a selected hard link may point at a first link outside the
 * selection, whose content comes earlier in the archive. The entry index says
 * which: those files are extracted too, and removed once linked. The same
 * read sums the selected files' sizes, for the free-space check. An index
 * that cannot be read is only a warning: such links then fail the restore by
 * name, and the space is not checked beforehand.
 */
export async function readIndexForSelection(reader: SetReader, artifact: ArtifactRecord, selection: string[], log: RestoreLog, signal?: AbortSignal): Promise<SelectionFacts> {
  const index = artifact.index;
  if (!index) return { linkTargets: new Set(), selectedBytes: undefined };
  const targets = new Set<string>();
  let selectedBytes = 0;
  try {
    const { problem } = await readIndex(
      reader,
      artifact,
      (entry) => {
        const name = archiveName(entry.path);
        if (entry.type === 'file' && typeof entry.size === 'number' && isSelected(name, selection)) selectedBytes += entry.size;
        if (entry.type !== 'hardlink' || typeof entry.linkTarget !== 'string') return;
        const linkName = archiveName(entry.linkTarget);
        if (isSelected(name, selection) && !isSelected(linkName, selection)) targets.add(linkName);
      },
      signal,
    );
    if (problem) throw new Error(problem);
  } catch (error) {
    if (signal?.aborted) throw error;
    log.warn(`the entry index ${index.path} cannot be used (${(error as Error).message}); a hard link under --path whose first link is outside it will fail the restore`);
    return { linkTargets: new Set(), selectedBytes: undefined };
  }
  return { linkTargets: targets, selectedBytes };
}

/**
 * Sets the ACLs and extended attributes the entry index recorded (the archive
 * carries them as GNU tar does, but node-tar's parser decodes pax values as
 * UTF-8, which breaks binary ones). Only read when the backup counted any.
 * A failure is a warning, not a failed restore: without its ACL an entry is
 * narrower than it was (the archive's mode never widens), never wider.
 */
export async function restoreExtendedAttributes(
  reader: SetReader,
  artifact: ArtifactRecord,
  selection: string[],
  stagingPath: string,
  log: RestoreLog,
  signal?: AbortSignal,
): Promise<void> {
  const recorded = (artifact.details as { withAttributes?: unknown }).withAttributes;
  if (!artifact.index || typeof recorded !== 'number' || recorded <= 0) return;
  const named: Array<{ name: string; xattrs: Record<string, string> }> = [];
  let refused = 0;
  try {
    const { problem } = await readIndex(
      reader,
      artifact,
      (entry) => {
        const xattrs: unknown = entry.xattrs;
        if (entry.type === 'symlink' || typeof xattrs !== 'object' || xattrs === null) return;
        const name = archiveName(entry.path);
        if (name === '.' || name.split('/').includes('..') || !isSelected(name, selection)) return;
        // The index is repository content: an attribute name with a newline would inject lines into setfattr's input.
        const valid = Object.fromEntries(Object.entries(xattrs).filter(([key, base64]) => isAttributeName(key) && typeof base64 === 'string' && BASE64.test(base64)));
        if (Object.keys(valid).length !== Object.keys(xattrs).length) refused++;
        if (Object.keys(valid).length > 0) named.push({ name, xattrs: valid });
      },
      signal,
    );
    if (problem) throw new Error(`the entry index ${artifact.index.path} cannot be used: ${problem}`);
    // An index entry below a symlink the archive made would set attributes (an ACL granting access) on what
    // the link points to, outside the target: only entries reached without a link get them.
    const targets: AttributeTarget[] = [];
    for (const { name, xattrs } of named) {
      if (await reachedWithoutLink(stagingPath, name)) targets.push({ path: `${stagingPath}/${name}`, xattrs });
      else refused++;
    }
    if (refused > 0) log.warn(`${refused} entr${refused === 1 ? 'y' : 'ies'} of the entry index named attributes or paths that were not applied (not an attribute name, or not reached without a symlink)`);
    await applyExtendedAttributes(targets, signal);
    if (targets.length > 0) log.step(`restored ACLs and extended attributes of ${targets.length} entr${targets.length === 1 ? 'y' : 'ies'}`);
  } catch (error) {
    if (signal?.aborted) throw error;
    const remedy = error instanceof RestorableError && error.remedy ? ` (${error.remedy})` : '';
    log.warn(`ACLs and extended attributes were not restored: ${(error as Error).message}${remedy}; the entries keep the archive's modes, which never grant more than the originals`);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** `user.x`, `security.selinux`, `system.posix_acl_access`: a namespace and printable ASCII without spaces or `=`. */
function isAttributeName(name: string): boolean {
  return /^(user|security|system|trusted)\.[\x21-\x3c\x3e-\x7e]{1,250}$/.test(name);
}

/** Every component of `name` below the staging directory exists and none is a symlink (staging is root's, 0700: no race). */
async function reachedWithoutLink(stagingPath: string, name: string): Promise<boolean> {
  let path = stagingPath;
  for (const component of name.split('/')) {
    path = `${path}/${component}`;
    const info = await lstat(path).catch(() => undefined);
    if (!info || info.isSymbolicLink()) return false;
  }
  return true;
}

/** `/var/www/x` -> `var/www/x`, the entry's name in the archive; `.` for the root. */
export function archiveName(absolutePath: string): string {
  return absolutePath.split('/').filter((part) => part !== '' && part !== '.').join('/') || '.';
}
