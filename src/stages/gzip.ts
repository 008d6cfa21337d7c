// Owns compression of artifacts: one gzip stream, readable by gunzip, tar -z
// and the seed's own `gunzip < x.sql.gz | mysql`.

import { createGzip, constants, type Gzip } from 'node:zlib';

/** zlib works on the libuv threadpool: the event loop stays free while it deflates. */
export function gzipStage(level: number): Gzip {
  return createGzip({ level, chunkSize: 256 * 1024, memLevel: constants.Z_DEFAULT_MEMLEVEL });
}
