// Owns extended attributes and POSIX ACLs of archived entries, both ways.
//
// Node has no listxattr/getxattr, so the backup reads them with one
// `getfattr -R -P -d -m - -e base64` pass per configured path (Debian package
// `attr`): it walks the tree in C, prints only entries that have attributes,
// and its output is streamed, so only entries WITH attributes are held (a
// handful on a typical web app; on an SELinux host every file has a label, and
// the map grows with the tree: that is the known cost). Each entry's
// attributes then travel in the archive as GNU tar `--acls --xattrs` writes
// them (pax records `SCHILY.xattr.<name>` with the raw value, and
// `SCHILY.acl.access`/`SCHILY.acl.default` as ACL text), so `tar --xattrs
// --acls -xpf` restores them by hand; and in the entry index (base64), which
// `restore files` applies with `setfattr --restore` once the tree is in place.
//
// Never wider than the source: with an ACL, the group bits of stat's mode are
// the ACL *mask*, not the owning group's permissions. A plain `tar -xzf`
// (no --acls) would hand the owning group the mask (payroll.csv: `users` r--
// came back rw-). The tar header therefore carries the group bits narrowed to
// what the owning group really had (group entry AND mask); the full ACL,
// restored on top, brings every named entry back.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { RestorableError } from '../core/errors.ts';

/** Attribute name -> raw value. */
export type ExtendedAttributes = Map<string, Buffer>;

export const ACL_ACCESS = 'system.posix_acl_access';
export const ACL_DEFAULT = 'system.posix_acl_default';

/** One `# file:` block or attribute line of getfattr's dump; longer is not an attribute dump. */
const MAX_DUMP_LINE_BYTES = 1024 * 1024;

export interface AttributeScan {
  /** Absolute path (as archived) -> its attributes; only entries that have any. */
  byPath: Map<string, ExtendedAttributes>;
  /** Set when the attributes could not be read at all (tool missing): say so, never pretend. */
  unavailable?: string;
}

/**
 * Reads the attributes of every entry under `root` (symlinks not followed).
 * `readFrom` is where to read (the target of a followed configured link);
 * paths are reported under `root`. Unreadable entries are skipped by
 * getfattr (the archiver reports them itself); a missing tool is reported in
 * `unavailable`.
 */
export async function scanExtendedAttributes(root: string, readFrom: string = root, signal?: AbortSignal): Promise<AttributeScan> {
  const byPath = new Map<string, ExtendedAttributes>();
  const child = spawn('getfattr', ['-R', '-P', '-d', '-m', '-', '-e', 'base64', '--absolute-names', '--', readFrom], {
    stdio: ['ignore', 'pipe', 'ignore'],
    signal,
  });
  const spawnFailure = new Promise<Error>((resolve) => child.once('error', resolve));
  let current: ExtendedAttributes | undefined;
  const lines = createInterface({ input: child.stdout!, crlfDelay: Infinity });
  const reading = (async () => {
    for await (const line of lines) {
      if (line.length > MAX_DUMP_LINE_BYTES) throw new Error('getfattr printed a line longer than any attribute dump');
      if (line.startsWith('# file: ')) {
        const path = unescapeDumpPath(line.slice('# file: '.length));
        const reported = readFrom === root ? path : root + path.slice(readFrom.length);
        current = new Map();
        byPath.set(reported, current);
        continue;
      }
      const separator = line.indexOf('=');
      if (!current || separator <= 0) continue;
      const value = line.slice(separator + 1);
      current.set(line.slice(0, separator), value.startsWith('0s') ? Buffer.from(value.slice(2), 'base64') : Buffer.from(value.replace(/^"|"$/g, ''), 'utf8'));
    }
  })();
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const outcome = await Promise.race([exited.then(() => undefined), spawnFailure]);
  if (outcome instanceof Error) {
    const missing = (outcome as NodeJS.ErrnoException).code === 'ENOENT';
    return {
      byPath,
      unavailable: missing
        ? 'getfattr is not installed, so ACLs and extended attributes were not checked (apt-get install attr)'
        : `getfattr could not run: ${outcome.message}`,
    };
  }
  await reading;
  // Exit 1 means some entries could not be read: the archiver reports those itself.
  for (const [path, attributes] of byPath) if (attributes.size === 0) byPath.delete(path);
  return { byPath };
}

/** getfattr writes `\ooo` for bytes it will not print as they are (newline, backslash...). */
function unescapeDumpPath(escaped: string): string {
  if (!escaped.includes('\\')) return escaped;
  const bytes: number[] = [];
  const raw = Buffer.from(escaped, 'utf8');
  for (let index = 0; index < raw.length; index++) {
    const byte = raw[index]!;
    if (byte === 0x5c && index + 3 < raw.length && /^[0-7]{3}$/.test(raw.subarray(index + 1, index + 4).toString('latin1'))) {
      bytes.push(parseInt(raw.subarray(index + 1, index + 4).toString('latin1'), 8));
      index += 3;
    } else {
      bytes.push(byte);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

// --- POSIX ACLs (the binary `system.posix_acl_*` value of the kernel) ---

const ACL_XATTR_VERSION = 2;
const TAG_NAMES: Record<number, string> = { 0x01: 'user', 0x02: 'user', 0x04: 'group', 0x08: 'group', 0x10: 'mask', 0x20: 'other' };
const TAG_GROUP_OBJ = 0x04;
const TAG_MASK = 0x10;
const NAMED_TAGS = new Set([0x02, 0x08]);

interface AclEntry {
  tag: number;
  perm: number;
  id: number;
}

function decodeAcl(value: Buffer): AclEntry[] | undefined {
  if (value.length < 4 || (value.length - 4) % 8 !== 0 || value.readUInt32LE(0) !== ACL_XATTR_VERSION) return undefined;
  const entries: AclEntry[] = [];
  for (let offset = 4; offset < value.length; offset += 8) {
    entries.push({ tag: value.readUInt16LE(offset), perm: value.readUInt16LE(offset + 2), id: value.readUInt32LE(offset + 4) });
  }
  return entries;
}

/** ACL text as GNU tar stores it in SCHILY.acl.*: one entry per line, numeric ids (owners are restored by number too). */
export function aclText(value: Buffer): string | undefined {
  const entries = decodeAcl(value);
  if (!entries) return undefined;
  const perms = (perm: number) => `${perm & 4 ? 'r' : '-'}${perm & 2 ? 'w' : '-'}${perm & 1 ? 'x' : '-'}`;
  return entries.map((entry) => `${TAG_NAMES[entry.tag] ?? 'unknown'}:${NAMED_TAGS.has(entry.tag) ? entry.id : ''}:${perms(entry.perm)}`).join('\n');
}

/**
 * The mode to write into the tar header for an entry with an access ACL: the
 * group bits narrowed to what the owning group may really do (its entry AND
 * the mask), so a restore without ACL support never widens access.
 */
export function modeWithoutWidening(mode: number, attributes: ExtendedAttributes | undefined): number {
  const acl = attributes?.get(ACL_ACCESS);
  const entries = acl ? decodeAcl(acl) : undefined;
  if (!entries) return mode;
  const group = entries.find((entry) => entry.tag === TAG_GROUP_OBJ);
  const mask = entries.find((entry) => entry.tag === TAG_MASK);
  if (!group || !mask) return mode;
  return (mode & ~0o070) | ((group.perm & mask.perm & 0o7) << 3);
}

// --- the archive side: pax records as GNU tar writes them ---

/** One pax record: `<length> <key>=<value>\n`, the length counting itself. */
function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let length = rest.length + String(rest.length).length;
  if (String(length).length !== String(rest.length).length) length = rest.length + String(length).length;
  return Buffer.concat([Buffer.from(String(length), 'ascii'), rest]);
}

export function paxRecordsFor(attributes: ExtendedAttributes): Buffer {
  const records: Buffer[] = [];
  const access = attributes.get(ACL_ACCESS);
  const accessText = access ? aclText(access) : undefined;
  if (accessText) records.push(paxRecord('SCHILY.acl.access', Buffer.from(accessText, 'utf8')));
  const defaults = attributes.get(ACL_DEFAULT);
  const defaultText = defaults ? aclText(defaults) : undefined;
  if (defaultText) records.push(paxRecord('SCHILY.acl.default', Buffer.from(defaultText, 'utf8')));
  for (const [name, value] of attributes) records.push(paxRecord(`SCHILY.xattr.${name}`, value));
  return Buffer.concat(records);
}

/** For the entry index: attribute name -> base64 value. */
export function attributesForIndex(attributes: ExtendedAttributes): Record<string, string> {
  return Object.fromEntries([...attributes].map(([name, value]) => [name, value.toString('base64')]));
}

// --- the restore side ---

/** getfattr's escaping, for setfattr --restore: everything outside printable ASCII, and the backslash, as `\ooo`. */
function escapeDumpPath(path: string): string {
  let out = '';
  for (const byte of Buffer.from(path, 'utf8')) {
    out += byte === 0x5c || byte < 0x20 || byte >= 0x7f ? `\\${byte.toString(8).padStart(3, '0')}` : String.fromCharCode(byte);
  }
  return out;
}

export interface AttributeTarget {
  /** Where the entry now is on disk. */
  path: string;
  /** From the index: name -> base64 value. */
  xattrs: Record<string, string>;
}

/**
 * Sets the recorded attributes (ACLs included) on restored entries, with one
 * `setfattr -h --restore=-` run (never through a symlink). Call it after
 * modes are final: setting an access ACL rewrites the group bits to its mask,
 * and a chmod after it would change the mask. Rejects naming the tool and the
 * first failure.
 */
export async function applyExtendedAttributes(targets: AttributeTarget[], signal?: AbortSignal): Promise<void> {
  if (targets.length === 0) return;
  const child = spawn('setfattr', ['-h', '--restore=-'], { stdio: ['pipe', 'ignore', 'pipe'], signal });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 4096) stderr += chunk;
  });
  const closed = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  child.stdin!.on('error', () => {}); // a dead setfattr is reported by its exit below
  for (const target of targets) {
    const lines = [`# file: ${escapeDumpPath(target.path)}`];
    for (const [name, value] of Object.entries(target.xattrs)) lines.push(`${name}=0s${value}`);
    if (!child.stdin!.write(`${lines.join('\n')}\n\n`)) {
      // A setfattr that never started (or died) never drains: its exit below says why.
      const stopped = await Promise.race([new Promise((resolve) => child.stdin!.once('drain', () => resolve(false))), closed.then(() => true)]);
      if (stopped) break;
    }
  }
  child.stdin!.end();
  const { code, error } = await closed;
  if (error || code !== 0) {
    const missing = (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
    throw new RestorableError(
      missing
        ? `${targets.length} restored entr${targets.length === 1 ? 'y has' : 'ies have'} ACLs or extended attributes, but setfattr is not installed`
        : `setting ACLs and extended attributes failed: ${(error?.message ?? stderr.trim().split('\n')[0]) || `setfattr exited ${code}`}`,
      {
        code: 'RESTORE_XATTRS_FAILED',
        where: { path: targets[0]!.path },
        remedy: missing ? 'install it (apt-get install attr) and restore again' : 'check that the target filesystem supports ACLs and extended attributes (mount option acl/user_xattr)',
        details: stderr.trim() ? stderr.trim().split('\n').slice(0, 10) : [],
      },
    );
  }
}
