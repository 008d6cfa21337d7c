// Crafted files sets for the tests: a tar archive written header by header
// (so any name, type or link target can be put in it), published in a
// repository as a set whose manifest matches it, so that only the entry guard
// stands between it and the disk. Shared by the restore and verify tests.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import type { Manifest } from '../../src/core/manifest.ts';

const OLD_MTIME = new Date('2001-02-03T04:05:06Z');

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface CraftedEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO' | 'CharacterDevice' | 'BlockDevice';
  body?: string;
  linkpath?: string;
}

/** A tar archive written header by header, so that any name or link target can be put in it. */
export function craftTar(entries: CraftedEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const type = entry.type ?? 'File';
    const body = Buffer.from(entry.body ?? '');
    const header = new Header({
      path: entry.path,
      type,
      mode: type === 'Directory' ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      size: type === 'File' ? body.length : 0,
      mtime: OLD_MTIME,
      linkpath: entry.linkpath,
    });
    assert.equal(header.encode(), false, `${entry.path} fits a ustar header`);
    blocks.push(header.block!);
    if (type === 'File' && body.length > 0) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export const CRAFTED_SET = '2030-01-01_00-00-00';

/** Publishes `tar` (gzipped) as the files artifact of a new set, with a manifest that matches it. */
export function publishCraftedSet(repository: string, tar: Buffer, extra: { index?: object[]; details?: Record<string, unknown> } = {}): void {
  const artifactPath = `files/files_backup_${CRAFTED_SET}.tar.gz`;
  const content = gzipSync(tar);
  mkdirSync(join(repository, 'files'), { recursive: true });
  const indexContent = extra.index ? gzipSync(extra.index.map((entry) => JSON.stringify(entry)).join('\n') + '\n') : undefined;
  const indexPath = `files/files_index_${CRAFTED_SET}.jsonl.gz`;
  if (indexContent) writeFileSync(join(repository, indexPath), indexContent);
  mkdirSync(join(repository, 'manifests'), { recursive: true });
  writeFileSync(join(repository, artifactPath), content);
  const manifest: Manifest = {
    format: 'restorable-manifest',
    version: 1,
    setId: CRAFTED_SET,
    job: 'sample',
    runId: 'crafted',
    host: 'test',
    restorableVersion: '0.1.0',
    startedAt: '2030-01-01T00:00:00.000Z',
    finishedAt: '2030-01-01T00:00:01.000Z',
    durationMs: 1000,
    status: 'ok',
    artifacts: [
      {
        source: 'files',
        type: 'files',
        path: artifactPath,
        compression: 'gzip',
        sizeBytes: content.length,
        sha256: sha256(content),
        rawSizeBytes: tar.length,
        durationMs: 1,
        warnings: [],
        details: extra.details ?? {},
        ...(indexContent ? { index: { path: indexPath, sizeBytes: indexContent.length, sha256: sha256(indexContent), entries: extra.index!.length } } : {}),
      },
    ],
  };
  writeFileSync(join(repository, 'manifests', `${CRAFTED_SET}.json`), JSON.stringify(manifest, null, 2));
}

export interface MaliciousCase {
  name: string;
  /** `base` is the test's directory; the target is base/restore-here. */
  entries: (base: string) => CraftedEntry[];
  /** Paths outside the target that must not exist afterwards. */
  mustNotExist: (base: string) => string[];
}

/** Archives that try to write outside the target; restore refuses them as RESTORE_UNSAFE_ARCHIVE and verify fails them. */
export const MALICIOUS: MaliciousCase[] = [
  {
    name: '../x',
    entries: () => [{ path: '../escaped.txt', body: 'escaped\n' }],
    mustNotExist: (base) => [join(base, 'escaped.txt')],
  },
  {
    name: 'a/b/../../../x',
    entries: () => [{ path: 'a/b/../../../escaped.txt', body: 'escaped\n' }],
    mustNotExist: (base) => [join(base, 'escaped.txt')],
  },
  {
    name: '/abs',
    entries: (base) => [{ path: join(base, 'absolute.txt'), body: 'absolute\n' }],
    mustNotExist: (base) => [join(base, 'absolute.txt')],
  },
  {
    name: 'symlink link -> /outside, then link/file',
    entries: (base) => [
      { path: 'a/', type: 'Directory' },
      { path: 'a/link', type: 'SymbolicLink', linkpath: join(base, 'outside') },
      { path: 'a/link/planted.txt', body: 'planted\n' },
    ],
    mustNotExist: (base) => [join(base, 'outside', 'planted.txt')],
  },
  {
    name: 'symlink up -> .., then up/file',
    entries: () => [
      { path: 'up', type: 'SymbolicLink', linkpath: '..' },
      { path: 'up/escaped.txt', body: 'escaped\n' },
    ],
    mustNotExist: (base) => [join(base, 'escaped.txt')],
  },
  {
    name: 'hard link to an absolute path outside, then a write to it',
    entries: (base) => [
      { path: 'hard', type: 'Link', linkpath: join(base, 'outside', 'secret.txt') },
      { path: 'hard', body: 'overwritten\n' },
    ],
    mustNotExist: () => [],
  },
  {
    name: 'hard link to ../outside, then a write to it',
    entries: () => [
      { path: 'hard', type: 'Link', linkpath: '../outside/secret.txt' },
      { path: 'hard', body: 'overwritten\n' },
    ],
    mustNotExist: () => [],
  },
];

