// Owns the tar wire format of the files source: header blocks (ustar, plus a
// pax extended header when a name, link target, size, id or time does not fit
// ustar), the zero padding after an entry's body and the end-of-archive marker.
//
// The bytes are encoded by node-tar's own Header and Pax classes (GNU tar reads
// them back in our tests); only the *driving* is ours.
// We do not use node-tar's Pack/WriteEntry, because WriteEntry writes the
// header before it opens the file: a file that vanishes between its stat and
// its open, or shrinks or grows while read, makes Pack emit 'error' after a
// header whose size can no longer be honoured, i.e. a broken archive. It also
// hangs on FIFOs, adds x bits to directory modes (modeFix), reads directory
// names as strings (invalid UTF-8 names get lost silently) and keeps every
// listing in a readdirCache. Writing the entries ourselves lets the archiver
// open the file first, take the size from that open descriptor, and always emit
// exactly the promised number of bytes.

import { basename } from 'node:path';
import { Header, Pax } from 'tar';

export const TAR_BLOCK_SIZE = 512;

/** Two zero blocks close a tar archive (GNU tar also accepts them as a record end). */
export const END_OF_ARCHIVE: Buffer = Buffer.alloc(2 * TAR_BLOCK_SIZE);

export type TarEntryType = 'File' | 'Directory' | 'SymbolicLink' | 'Link';

export interface TarEntryHeader {
  /** Name inside the archive, e.g. `var/www/app/storage/x.jpg` (directories without the trailing `/`). */
  name: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (stat.mode & 0o7777), stored as they are. */
  mode: number;
  uid: number;
  gid: number;
  /** Body length in bytes: the file size for `File`, 0 for every other type. */
  size: number;
  mtime: Date;
  /** Symlink target as read from the link, or the archive name of the first hard link. */
  linkTarget?: string;
  /** Encoded pax records to add (ACLs and extended attributes, see files-xattrs.ts). */
  extraPaxRecords?: Buffer;
}

/**
 * Encodes one entry's header: a pax extended header first when ustar cannot
 * hold a field (long or non-ASCII names, sizes >= 8 GiB, big uids), then the
 * ustar block itself. uname/gname are left empty on purpose so that a restore
 * maps owners by number, which is right on the machine that was backed up.
 */
export function encodeEntryHeader(entry: TarEntryHeader): Buffer {
  const path = entry.type === 'Directory' ? `${entry.name}/` : entry.name;
  const fields = {
    path,
    type: entry.type,
    mode: entry.mode & 0o7777,
    uid: entry.uid,
    gid: entry.gid,
    size: entry.type === 'File' ? entry.size : 0,
    mtime: entry.mtime,
    linkpath: entry.linkTarget,
  };
  const header = new Header(fields);
  const needsPax = header.encode();
  const block = header.block;
  if (!block) throw new Error(`node-tar did not encode a header for ${path}`);
  if (!needsPax && !entry.extraPaxRecords?.length) return block;
  // Only standard pax keywords and GNU tar's own SCHILY.xattr/acl ones: GNU
  // tar prints a notice for every unknown one (node-tar's SCHILY.dev/ino/nlink),
  // which would make restores noisy.
  const pax = new Pax({
    path,
    linkpath: entry.linkTarget,
    size: fields.size,
    uid: entry.uid,
    gid: entry.gid,
    mtime: entry.mtime,
  });
  if (!entry.extraPaxRecords?.length) return Buffer.concat([pax.encode(), block]);
  return Buffer.concat([extendedHeaderBlock(path, Buffer.concat([Buffer.from(pax.encodeBody(), 'utf8'), entry.extraPaxRecords])), block]);
}

/** A pax extended header ('x') carrying `body`, padded to whole blocks (what node-tar's Pax.encode does for its own fields). */
function extendedHeaderBlock(path: string, body: Buffer): Buffer {
  const out = Buffer.alloc(TAR_BLOCK_SIZE * (1 + Math.ceil(body.length / TAR_BLOCK_SIZE)));
  new Header({
    path: `PaxHeader/${basename(path)}`.slice(0, 99),
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: new Date(0),
    type: 'ExtendedHeader',
    linkpath: '',
    uname: '',
    gname: '',
  }).encode(out);
  body.copy(out, TAR_BLOCK_SIZE);
  return out;
}

/** Zero bytes that round a body of `size` bytes up to a whole tar block. */
export function paddingAfterBody(size: number): Buffer | undefined {
  const remainder = size % TAR_BLOCK_SIZE;
  return remainder === 0 ? undefined : Buffer.alloc(TAR_BLOCK_SIZE - remainder);
}

/**
 * The archive name of an absolute path, as GNU tar stores it with
 * `tar -C / -cf - var/www/app`: the path without its leading `/`. The root
 * directory itself becomes `.` (GNU tar's name for `tar -C / -cf - .`).
 */
export function archiveNameOf(absolutePath: string): string {
  const name = absolutePath.replace(/^\/+/, '');
  return name === '' ? '.' : name;
}
