// Owns fault injection for tests: a Destination wrapper that makes the
// destination itself fail the way a disk or a remote does (a put that breaks
// off part-way, a read that ends early, a connection reset), so that tests
// check how jobs handle it without any fault switch inside a driver, a stage
// or a job. Composed by composeDestination (destination-wrappers.ts), where
// it is innermost: retry and the jobs see its faults as the destination's.

import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import { RestorableError } from '../core/errors.ts';
import type { Destination } from './destination.ts';

export interface InjectedFaults {
  /** A put of a matching path breaks off after its source's first chunk (which may already be written). */
  failPut?: (path: string) => boolean;
  /** A get of a matching path ends cleanly after this many bytes (undefined: a whole read). */
  shortRead?: (path: string) => number | undefined;
  /** The first `count` operations on a matching path fail with a transient error (ECONNRESET), then they pass. */
  transient?: { count: number; matches?: (operation: string, path: string) => boolean };
}

export function withFaults(inner: Destination, faults: InjectedFaults): Destination {
  let transientLeft = faults.transient?.count ?? 0;
  const maybeReset = (operation: string, path: string): void => {
    if (transientLeft <= 0 || !(faults.transient?.matches?.(operation, path) ?? true)) return;
    transientLeft--;
    throw Object.assign(new Error(`injected fault: connection reset during ${operation} of ${path}`), { code: 'ECONNRESET' });
  };
  return {
    describe: () => inner.describe(),
    stat: async (path) => (maybeReset('stat', path), inner.stat(path)),
    list: async (prefix) => (maybeReset('list', prefix), inner.list(prefix)),
    put: async (path, source, options) => {
      maybeReset('put', path);
      if (!faults.failPut?.(path)) return inner.put(path, source, options);
      return inner.put(path, async () => breakOffAfterFirstChunk(await source(), path), options);
    },
    get: async (path, range) => {
      maybeReset('get', path);
      const stream = await inner.get(path, range);
      const keep = faults.shortRead?.(path);
      return keep === undefined ? stream : pipeline(stream, endAfter(keep), () => {});
    },
    remove: async (path) => (maybeReset('remove', path), inner.remove(path)),
  };
}

function breakOffAfterFirstChunk(source: Readable, path: string): Readable {
  let chunks = 0;
  const failure = () =>
    new RestorableError(`injected fault: the put of ${path} broke off part-way`, {
      code: 'INJECTED_FAULT',
      where: { path },
      remedy: 'none needed: a test injected this fault (destination-faults.ts)',
    });
  return pipeline(
    source,
    new Transform({
      transform(chunk: Buffer, _encoding, callback: TransformCallback) {
        if (chunks++ === 0) callback(null, chunk);
        else callback(failure());
      },
      flush: (callback: TransformCallback) => callback(failure()),
    }),
    () => {},
  );
}

/** Passes `keep` bytes and then ends, quietly dropping the rest: what a short read looks like to a reader. */
function endAfter(keep: number): Transform {
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const room = Math.max(0, keep - passed);
      passed += chunk.length;
      callback(null, room === 0 ? undefined : chunk.subarray(0, room));
    },
  });
}
