// Owns telling a dump tool that is stuck in itself from one that waits for the
// server, for the message of a stalled dump. A dump that writes nothing for
// the stall timeout is usually waiting (locks, a hung server); but
// mariadb-dump can also spin at full CPU without writing a byte (an event
// with `;;` in it, see mysql-dump-hazards.ts), and then blaming the server
// sends the operator the wrong way. The child's CPU time from
// /proc/<pid>/stat, sampled every few seconds, tells the two apart. On
// systems without /proc there is no answer, and the message stays generic.

import { readFileSync } from 'node:fs';

const SAMPLE_EVERY_MS = 2_000;
/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux architecture restorable runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
/** Samples kept: enough for a stall window of a few minutes at SAMPLE_EVERY_MS. */
const MAX_SAMPLES = 300;

interface Sample {
  atMs: number;
  cpuSeconds: number;
}

export class ChildCpuWatch {
  readonly #pid: number | undefined;
  readonly #samples: Sample[] = [];
  readonly #timer: NodeJS.Timeout | undefined;

  constructor(pid: number | undefined) {
    this.#pid = pid;
    if (pid === undefined || this.#read() === undefined) return;
    this.sample();
    this.#timer = setInterval(() => this.sample(), SAMPLE_EVERY_MS);
    this.#timer.unref();
  }

  sample(): void {
    const cpuSeconds = this.#read();
    if (cpuSeconds === undefined) return;
    this.#samples.push({ atMs: performance.now(), cpuSeconds });
    if (this.#samples.length > MAX_SAMPLES) this.#samples.shift();
  }

  /**
   * The share of one CPU the child used over (about) the last `windowMs`,
   * 0..1; undefined when it cannot be told (no /proc, too few samples).
   */
  busyShare(windowMs: number): number | undefined {
    const last = this.#samples[this.#samples.length - 1];
    if (!last) return undefined;
    const first = this.#samples.find((sample) => last.atMs - sample.atMs <= windowMs) ?? last;
    const wallSeconds = (last.atMs - first.atMs) / 1000;
    if (wallSeconds < 1) return undefined;
    return Math.min(1, (last.cpuSeconds - first.cpuSeconds) / wallSeconds);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  #read(): number | undefined {
    try {
      const stat = readFileSync(`/proc/${this.#pid}/stat`, 'utf8');
      // The command name (field 2) is in parentheses and may hold spaces: count fields after its ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const utime = Number(fields[11]);
      const stime = Number(fields[12]);
      return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / CLOCK_TICKS_PER_SECOND : undefined;
    } catch {
      return undefined;
    }
  }
}
