// Owns the worker threads that make gzip members (gzip-worker.mjs), shared by
// every compression stage of the process. A backup compresses several
// artifacts at once (a dump, a tree, the tree's index); with a thread pool per
// stage, two sources on a 2-core machine ran four deflating threads that
// fought for two cores, and each idle thread still cost its own V8 heap
// (tens of MB of peak RSS per thread).
// One pool sized to the cores keeps the cores busy and the memory flat.
//
// Scheduling: the threads are shared between the stages (artifacts) by the
// time their blocks cost, not by the number of blocks. A FIFO of blocks gave a
// dump at level 7 (about 30 ms a block) one slot for every slot of a tree of
// photos (about 2 ms a stored block), so the tree's reader, which runs on the
// main thread and is the longest chain of a backup, waited behind the dump and
// the two sources took as long side by side as one after the other. Here each
// stage (the `owner` of its jobs) has its own queue and a virtual time, the
// thread time its blocks used; the next job comes from the stage that used the
// least (as Linux's CFS picks threads). A stage that comes back after its
// queue ran dry starts at the least virtual time of those still waiting, so it
// can neither starve the others with credit saved while idle nor be starved.
// A worker holds at most JOBS_PER_WORKER jobs, so the next block is already
// waiting when it finishes one (no idle gap for a round trip to the main
// thread).
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
  /** Thread time the block took, in ms (the stage's share of the threads is counted in it). */
  encodeMs: number;
}

export type MemberCallback = (error: Error | null, result?: MemberResult) => void;

interface QueuedJob {
  job: MemberJob;
  done: MemberCallback;
  owner: OwnerQueue;
  /** Thread time charged when the job was sent (the owner's running average), corrected by the result. */
  chargedMs: number;
}

/** One stage's waiting jobs and the thread time its jobs used so far. */
interface OwnerQueue {
  waiting: QueuedJob[];
  virtualMs: number;
  /** Running average cost of this owner's jobs: what a job is charged before its result says. */
  averageMs: number;
}

interface PooledWorker {
  worker: Worker;
  /** Jobs sent and not yet answered, oldest first (a worker answers in order). */
  held: QueuedJob[];
  exited: boolean;
}

export class GzipWorkerPool {
  private readonly workers: PooledWorker[] = [];
  /** Owners with waiting jobs; an owner leaves when its queue is empty (see Scheduling). */
  private readonly owners = new Map<object, OwnerQueue>();
  /** Every owner's state, also while its queue is empty; gone with the owner. */
  private readonly ownerStates = new WeakMap<object, OwnerQueue>();
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
    const abandoned = [...this.owners.values()].flatMap((owner) => owner.waiting);
    this.owners.clear();
    for (const queued of abandoned) queued.done(new Error('the gzip worker pool was stopped'));
    const running = this.workers.splice(0).filter((pooled) => !pooled.exited);
    // ref() first: the caller waits for these exits, and an idle (unref'd)
    // worker's exit would not keep the event loop alive to deliver it.
    for (const pooled of running) {
      pooled.exited = true;
      pooled.worker.ref();
    }
    await Promise.all(running.map((pooled) => pooled.worker.terminate()));
  }

  /**
   * Queues a block; `done` is called once, with the member or with the reason
   * the worker failed. `owner` is the stage the block belongs to: the threads
   * are shared fairly between owners (see Scheduling).
   */
  submit(job: MemberJob, done: MemberCallback, owner: object = this): void {
    let queue = this.owners.get(owner);
    if (!queue) {
      queue = this.ownerStates.get(owner) ?? { waiting: [], virtualMs: 0, averageMs: 0 };
      this.ownerStates.set(owner, queue);
      queue.virtualMs = Math.max(queue.virtualMs, this.leastVirtualMs() ?? queue.virtualMs);
      this.owners.set(owner, queue);
    }
    queue.waiting.push({ job, done, owner: queue, chargedMs: 0 });
    this.dispatch();
  }

  private dispatch(): void {
    while (this.owners.size > 0) {
      const pooled = this.leastBusyWorker();
      if (!pooled) return;
      const queued = this.nextJob();
      queued.chargedMs = queued.owner.averageMs;
      queued.owner.virtualMs += queued.chargedMs;
      if (pooled.held.push(queued) === 1) pooled.worker.ref();
      pooled.worker.postMessage(queued.job, [queued.job.block]);
    }
  }

  /** The oldest job of the owner that used the least thread time. */
  private nextJob(): QueuedJob {
    let chosen: [object, OwnerQueue] | undefined;
    for (const entry of this.owners) if (!chosen || entry[1].virtualMs < chosen[1].virtualMs) chosen = entry;
    const [key, owner] = chosen!;
    const queued = owner.waiting.shift()!;
    if (owner.waiting.length === 0) this.owners.delete(key);
    return queued;
  }

  private leastVirtualMs(): number | undefined {
    let least: number | undefined;
    for (const owner of this.owners.values()) least = least === undefined ? owner.virtualMs : Math.min(least, owner.virtualMs);
    return least;
  }

  /** A job's result came: charge its owner what it really cost instead of the estimate. */
  private settle(queued: QueuedJob, encodeMs: number): void {
    const owner = queued.owner;
    owner.virtualMs += encodeMs - queued.chargedMs;
    owner.averageMs = owner.averageMs === 0 ? encodeMs : owner.averageMs * 0.8 + encodeMs * 0.2;
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
      if (queued) this.settle(queued, result.encodeMs);
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
