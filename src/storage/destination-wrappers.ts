// Owns the cross-cutting behaviour around a Destination, each as a wrapper
// with the same interface, and the ONE function that composes them, so no
// driver and no job carries a branch for them:
// - faults (destination-faults.ts): tests make the destination itself fail;
// - retry: bounded attempts with backoff, only for transient errors
//   (isTransientError); a put re-reads its source, which is re-openable;
// - dry run: puts and removes are reported, not done; reads pass through;
// - log: every operation, its duration and outcome, to a callback.
// Order, innermost first: faults -> retry -> dry run -> log. Retry sees
// injected faults as a remote's failures; log sees what the caller asked.

import { setTimeout as sleep } from 'node:timers/promises';
import { isTransientError, type ByteRange, type Destination, type ReopenableSource, type StoredFileInfo } from './destination.ts';
import { withFaults, type InjectedFaults } from './destination-faults.ts';

export interface RetryPolicy {
  /** Attempts in all, the first included (1-10). */
  attempts: number;
  /** Wait before the second attempt; doubled for each one after. */
  delayMs: number;
  /** Which failures are worth another attempt; default isTransientError. */
  isTransient?: (error: unknown) => boolean;
}

export interface DestinationEvent {
  operation: 'stat' | 'list' | 'put' | 'get' | 'remove';
  path: string;
  durationMs: number;
  /** True when the dry run skipped it (a put or remove that was only reported). */
  dryRun?: boolean;
  error?: unknown;
}

export interface DestinationWrappers {
  faults?: InjectedFaults;
  retry?: RetryPolicy;
  /** Puts and removes are reported (through `log`), not done. */
  dryRun?: boolean;
  log?: (event: DestinationEvent) => void;
}

/** The destination with the wrappers asked for, in the one order that makes sense (see the header). */
export function composeDestination(base: Destination, wrappers: DestinationWrappers = {}): Destination {
  let destination = base;
  if (wrappers.faults) destination = withFaults(destination, wrappers.faults);
  if (wrappers.retry) destination = withRetry(destination, wrappers.retry);
  if (wrappers.dryRun) destination = withDryRun(destination);
  if (wrappers.log) destination = withLog(destination, wrappers.log, wrappers.dryRun === true);
  return destination;
}

const MAX_ATTEMPTS = 10;

function withRetry(inner: Destination, policy: RetryPolicy): Destination {
  const attempts = Math.min(MAX_ATTEMPTS, Math.max(1, Math.floor(policy.attempts)));
  const isTransient = policy.isTransient ?? isTransientError;
  async function again<T>(operation: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation();
      } catch (error) {
        if (attempt >= attempts || !isTransient(error)) throw error;
        await sleep(policy.delayMs * 2 ** (attempt - 1));
      }
    }
  }
  return {
    describe: () => inner.describe(),
    stat: (path) => again(() => inner.stat(path)),
    list: (prefix) => again(() => inner.list(prefix)),
    // Each attempt calls the source again: a fresh stream from the start.
    put: (path, source, options) => again(() => inner.put(path, source, options)),
    // Opening is retried; a stream that fails later is its reader's failure (it checks size and sha256).
    get: (path, range) => again(() => inner.get(path, range)),
    remove: (path) => again(() => inner.remove(path)),
  };
}

function withDryRun(inner: Destination): Destination {
  return {
    describe: () => `${inner.describe()} (dry run)`,
    stat: (path) => inner.stat(path),
    list: (prefix) => inner.list(prefix),
    // The source is never opened: nothing is read, nothing is written.
    put: async (path: string, _source: ReopenableSource): Promise<StoredFileInfo> => ({ path, sizeBytes: 0 }),
    get: (path: string, range?: ByteRange) => inner.get(path, range),
    remove: async () => {},
  };
}

function withLog(inner: Destination, log: (event: DestinationEvent) => void, dryRun: boolean): Destination {
  async function logged<T>(operation: DestinationEvent['operation'], path: string, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const skipped = dryRun && (operation === 'put' || operation === 'remove') ? { dryRun: true } : {};
    try {
      const result = await run();
      log({ operation, path, durationMs: Math.round(performance.now() - started), ...skipped });
      return result;
    } catch (error) {
      log({ operation, path, durationMs: Math.round(performance.now() - started), ...skipped, error });
      throw error;
    }
  }
  return {
    describe: () => inner.describe(),
    stat: (path) => logged('stat', path, () => inner.stat(path)),
    list: (prefix) => logged('list', prefix, () => inner.list(prefix)),
    put: (path, source, options) => logged('put', path, () => inner.put(path, source, options)),
    get: (path, range) => logged('get', path, () => inner.get(path, range)),
    remove: (path) => logged('remove', path, () => inner.remove(path)),
  };
}
