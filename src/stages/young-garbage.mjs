// Owns one memory habit of the compression path: collecting the young
// generation of the V8 heap after each block, so dead block buffers are
// returned at once instead of piling up as resident memory.
//
// Why it is needed: buffers live outside the JS heap, and V8 only counts
// them towards a collection loosely (it forces one after roughly 64 MB of new
// external memory per thread). A compression thread makes a few MB of dead
// buffers per block (zlib's per-call state and output, the member sent back),
// so each thread, the main one included, sat on up to ~40 MB of garbage: 2
// workers and the main thread took a full backup to 240-270 MB of peak RSS.
// A young-generation collection of a heap this small costs well under a
// millisecond, and it keeps that garbage from becoming resident memory.
//
// Plain JavaScript (.mjs) because the gzip worker threads load it without
// tsx. The collector is reached the way test runners do it (jest's
// --logHeapUsage): expose it for one context, then switch the flag off again
// so nothing else sees a global `gc`.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** @type {((options?: { type: 'minor' | 'major' }) => void) | undefined} */
let collect;
try {
  setFlagsFromString('--expose-gc');
  collect = runInNewContext('gc');
} catch {
  collect = undefined; // a runtime without it: memory is then only higher, never wrong
} finally {
  setFlagsFromString('--no-expose-gc');
}

/** Collects the young generation (a scavenge); a no-op where the collector is not reachable. */
export function collectYoungGarbage() {
  collect?.({ type: 'minor' });
}
