// Owns the worker threads that make gzip members (gzip-worker.mjs), shared by
// every compression stage of the process. A backup compresses several
// artifacts at once (a dump, a tree, the tree's index); with a thread pool per
// stage, two sources on a 2-core machine ran four deflating threads that
// fought for two cores, and each idle thread still cost its own V8 heap
// (about 45 MB of peak RSS per thread, measured on the reference data set).
// One pool sized to the cores keeps the cores busy and the memory flat.
//
// Scheduling: one FIFO queue for all stages; a worker holds at most
// JOBS_PER_WORKER jobs, so the next block is already waiting when it finishes
// one (no idle gap for a round trip to the main thread), and a worker that
// drew a cheap block (stored photo data) takes more work sooner than one that
// drew a text block to deflate.
//
// Lifetime: workers start lazily, are unref'd while idle (an abandoned stage
// cannot keep the process alive), and are terminated when the last stage
// using the pool is released, so no thread outlives the work. A worker that
// throws or exits fails the jobs it held (their stages fail the run) and is
// replaced for later jobs.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

const WORKER_URL = new URL('./gzip-worker.mjs', import.meta.url);
const JOBS_PER_WORKER = 2;
/**
 * A worker keeps little alive (a block and its output at a time), but V8 sizes
 * a fresh isolate's young generation for throughput; capped, the garbage of
 * each block (zlib's per-call state and output) is collected early instead of
 * piling up as resident memory.
 */
const WORKER_HEAP_LIMITS = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 64 };

/** One block to encode, and how. */
export interface MemberJob {
  block: ArrayBuffer;
  length: number;
  level: number;
  /** Store segments estimated to save less than this; null deflates everything. */
  minSavings: number | null;
  /** Tests only: the worker throws on, or exits(70) at, this job. */
  fault?: 'throw' | 'exit';
}

/** What a worker sends back; see EncodedMember in gzip-worker.mjs. */
export interface MemberResult {
  block: ArrayBuffer;
  literal: ArrayBuffer;
  /** Triples (source, offset, length): source 0 = literal, 1 = the block's input. */
  pieces: number[];
  storedBytes: number;
  deflatedBytes: number;
}

export type MemberCallback = (error: Error | null, result?: MemberResult) => void;

interface QueuedJob {
  job: MemberJob;
  done: MemberCallback;
}

interface PooledWorker {
  worker: Worker;
  /** Jobs sent and not yet answered, oldest first (a worker answers in order). */
  held: QueuedJob[];
  exited: boolean;
}

export class GzipWorkerPool {
  private readonly workers: PooledWorker[] = [];
  private readonly queue: QueuedJob[] = [];
  private users = 0;
  private size: number;

  constructor(size: number) {
    this.size = size;
  }

  /** Threads started and not yet exited. */
  get runningWorkerCount(): number {
    return this.workers.filter((pooled) => !pooled.exited).length;
  }

  /** A stage starts using the pool; `workers` raises the pool's size if it asks for more. */
  acquire(workers: number): void {
    this.size = this.users === 0 ? workers : Math.max(this.size, workers);
    this.users++;
  }

  /** A stage is done; the last one out terminates the threads. */
  async release(): Promise<void> {
    this.users = Math.max(0, this.users - 1);
    if (this.users > 0) return;
    // Jobs of destroyed stages may still wait; nobody wants them any more.
    for (const queued of this.queue.splice(0)) queued.done(new Error('the gzip worker pool was stopped'));
    const running = this.workers.splice(0).filter((pooled) => !pooled.exited);
    // ref() first: the caller waits for these exits, and an idle (unref'd)
    // worker's exit would not keep the event loop alive to deliver it.
    for (const pooled of running) {
      pooled.exited = true;
      pooled.worker.ref();
    }
    await Promise.all(running.map((pooled) => pooled.worker.terminate()));
  }

  /** Queues a block; `done` is called once, with the member or with the reason the worker failed. */
  submit(job: MemberJob, done: MemberCallback): void {
    this.queue.push({ job, done });
    this.dispatch();
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const pooled = this.leastBusyWorker();
      if (!pooled) return;
      const queued = this.queue.shift()!;
      if (pooled.held.push(queued) === 1) pooled.worker.ref();
      pooled.worker.postMessage(queued.job, [queued.job.block]);
    }
  }

  /** A worker with room for another job, starting one if the pool is below size; undefined if all are full. */
  private leastBusyWorker(): PooledWorker | undefined {
    let best: PooledWorker | undefined;
    for (const pooled of this.workers) if (!pooled.exited && (!best || pooled.held.length < best.held.length)) best = pooled;
    if (best && best.held.length === 0) return best;
    if (this.runningWorkerCount < this.size) return this.startWorker();
    return best && best.held.length < JOBS_PER_WORKER ? best : undefined;
  }

  private startWorker(): PooledWorker {
    // execArgv: [] keeps the worker off tsx's loader (inherited otherwise):
    // the worker is plain JavaScript and starts faster and the same way on
    // every Node version without it.
    const worker = new Worker(WORKER_URL, {
      workerData: { role: 'restorable-gzip-worker' },
      execArgv: [],
      resourceLimits: WORKER_HEAP_LIMITS,
    });
    const pooled: PooledWorker = { worker, held: [], exited: false };
    this.workers.push(pooled);
    worker.on('message', (result: MemberResult) => {
      const queued = pooled.held.shift();
      // Idle workers must not keep the process alive.
      if (pooled.held.length === 0 && !pooled.exited) worker.unref();
      this.dispatch();
      queued?.done(null, result);
    });
    worker.on('error', (error: Error) => this.retire(pooled, new Error(`a gzip worker thread failed: ${error.message}`, { cause: error })));
    worker.on('messageerror', (error: Error) => this.retire(pooled, new Error(`a gzip worker sent an unreadable message: ${error.message}`, { cause: error })));
    worker.on('exit', (code: number) => this.retire(pooled, new Error(`a gzip worker thread exited unexpectedly (exit code ${code})`)));
    return pooled;
  }

  /** A worker died: its jobs fail, and it is no longer used. Terminations we asked for land here too, holding nothing. */
  private retire(pooled: PooledWorker, reason: Error): void {
    pooled.exited = true;
    const index = this.workers.indexOf(pooled);
    if (index >= 0) this.workers.splice(index, 1);
    for (const queued of pooled.held.splice(0)) queued.done(reason);
    void pooled.worker.terminate();
    this.dispatch();
  }
}

let shared: GzipWorkerPool | undefined;

/** The process-wide pool (sized min(2, cores) unless a stage asks for more). */
export function sharedGzipWorkerPool(): GzipWorkerPool {
  shared ??= new GzipWorkerPool(Math.min(2, availableParallelism()));
  return shared;
}
