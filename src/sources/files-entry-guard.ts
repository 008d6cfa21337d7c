// Owns the one judgement of a files archive's entries that both `verify` and
// `restore files` (and so `drill`) make: is this entry something restore may
// create under its target, and under which name? An archive that restore
// would refuse must not verify as OK.
//
// Refused as unsafe: empty or absolute names, names that climb out with `..`,
// entries at or below a name the archive made a symlink (writing them would
// go through the link), hard links whose target is absolute, climbs out, or
// is (or lies below) a symlink, symlinks without a target, and anything but a
// directory at the archive's root (`.`). Refused as unsupported: FIFOs,
// character and block devices and every other type restore does not create
// (GNU sparse, volume headers, ...), which node-tar's own extraction would
// skip, some silently.
//
// The guard judges every entry in archive order, selected by `--path` or not:
// a symlink outside the selection still makes the names below it unsafe. It
// remembers only the symlink names (memory grows with symlinks, not entries).

/** The node-tar types that name a regular file, a directory. */
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const DIRECTORY_TYPES = new Set(['Directory', 'GNUDumpDir']);

export type GuardedKind = 'file' | 'dir' | 'symlink' | 'hardlink';

export interface GuardedEntry {
  kind: GuardedKind;
  /** The name relative to the target, normalised (`a/b`, or `.` for the target itself). */
  name: string;
  /** For a hard link: the normalised name of the entry it links to. */
  linkName?: string;
}

export class EntryRefusal extends Error {
  constructor(
    message: string,
    /** `unsafe`: the entry would write outside the target or through a link; `unsupported`: a type restore does not create. */
    readonly reason: 'unsafe' | 'unsupported',
    /** For an unsupported entry: its normalised name (restore skips it when outside --path). */
    readonly entryName?: string,
  ) {
    super(message);
    this.name = 'EntryRefusal';
  }
}

export class EntryGuard {
  /** Every symlink name the archive has so far: nothing may be written at or below one. */
  private readonly symlinkNames = new Set<string>();

  /**
   * Judges one entry, in archive order. Returns its kind and normalised
   * name, or throws an EntryRefusal that says why restore would refuse it.
   */
  judge(rawName: string, type: string, linkpath: string | undefined): GuardedEntry {
    const name = checkedName(rawName, 'entry');
    const above = this.symlinkAtOrAbove(name, false);
    if (above) throw new EntryRefusal(`entry ${rawName} lies below ${above}, which the archive makes a symlink: extracting it would write through the link`, 'unsafe');
    const kind = kindOf(type);
    if (kind === undefined) throw new EntryRefusal(`entry ${rawName} is a ${describeType(type)}, which restore files does not create`, 'unsupported', name);
    if (name === '.' && kind !== 'dir') throw new EntryRefusal(`entry ${rawName} (${type}) would replace the target directory itself`, 'unsafe');

    if (kind === 'symlink') {
      if (!linkpath) throw new EntryRefusal(`symlink ${rawName} has no target`, 'unsafe');
      this.symlinkNames.add(name);
      return { kind, name };
    }
    // A later entry of the same name replaces an earlier symlink (tar semantics).
    this.symlinkNames.delete(name);
    if (kind !== 'hardlink') return { kind, name };

    const linkName = checkedName(linkpath ?? '', `hard link ${rawName} ->`);
    const through = this.symlinkAtOrAbove(linkName, true);
    if (through) throw new EntryRefusal(`hard link ${rawName} -> ${linkpath} goes through the symlink ${through}`, 'unsafe');
    if (linkName === name || linkName === '.') throw new EntryRefusal(`hard link ${rawName} -> ${linkpath} links to ${linkName === '.' ? 'the target directory' : 'itself'}`, 'unsafe');
    return { kind, name, linkName };
  }

  /** The symlink name equal to `name` (when `includingSelf`) or above it, if any. */
  private symlinkAtOrAbove(name: string, includingSelf: boolean): string | undefined {
    if (this.symlinkNames.size === 0) return undefined;
    if (includingSelf && this.symlinkNames.has(name)) return name;
    for (let slash = name.indexOf('/'); slash !== -1; slash = name.indexOf('/', slash + 1)) {
      const ancestor = name.slice(0, slash);
      if (this.symlinkNames.has(ancestor)) return ancestor;
    }
    return undefined;
  }
}

function kindOf(type: string): GuardedKind | undefined {
  if (FILE_TYPES.has(type)) return 'file';
  if (DIRECTORY_TYPES.has(type)) return 'dir';
  if (type === 'SymbolicLink') return 'symlink';
  if (type === 'Link') return 'hardlink';
  return undefined;
}

function describeType(type: string): string {
  switch (type) {
    case 'FIFO':
      return 'FIFO';
    case 'CharacterDevice':
      return 'character device';
    case 'BlockDevice':
      return 'block device';
    case 'SparseFile':
      return 'GNU sparse file (old format)';
    default:
      return `${type} entry`;
  }
}

/** The name relative to the target, or a refusal when it would leave it. */
function checkedName(raw: string, what: string): string {
  if (raw === '') throw new EntryRefusal(`${what} has an empty name`, 'unsafe');
  if (raw.startsWith('/')) throw new EntryRefusal(`${what} ${raw} is an absolute path`, 'unsafe');
  const parts = raw.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw new EntryRefusal(`${what} ${raw} climbs out with '..'`, 'unsafe');
  return parts.length > 0 ? parts.join('/') : '.';
}
