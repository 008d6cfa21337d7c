// Owns the daemon's heartbeat, `.restorable/daemon-heartbeat.json` in the
// repository: who runs the schedule (pid, host, config), since when, when it
// last beat and when each job is next due. `restorable daemon` rewrites it
// every minute and after every job; the schedule check reads it, where a fresh
// heartbeat counts as an installed schedule.
// Invariants: written atomically (a reader never sees half a file) into an
// existing `.restorable` (ensureStateDir never creates the repository itself);
// read without following a planted link, and anything not of our shape reads
// as "no heartbeat".

import { join } from 'node:path';
import { z } from 'zod';
import { STATE_DIR, readSmallFileNoFollow } from './repository-paths.ts';
import { writeFileAtomically } from './private-files.ts';
import { ensureStateDir } from './state-store.ts';

/** How often the daemon beats; a heartbeat older than HEARTBEAT_STALE_MS means it is gone. */
export const HEARTBEAT_INTERVAL_MS = 60_000;
export const HEARTBEAT_STALE_MS = 5 * HEARTBEAT_INTERVAL_MS;

const heartbeatSchema = z.looseObject({
  pid: z.number().int().positive(),
  host: z.string().max(256),
  configPath: z.string().max(4096),
  startedAt: z.string().max(64),
  beatAt: z.string().max(64),
  /** Job name -> its cron expression and next due time (ISO). */
  jobs: z.record(z.string().max(40), z.looseObject({ expression: z.string().max(200), next: z.string().max(64).optional() })),
  /** The job running at the moment of the beat, if any. */
  running: z.string().max(40).optional(),
});

export type DaemonHeartbeat = z.infer<typeof heartbeatSchema>;

export function heartbeatPath(repositoryPath: string): string {
  return join(repositoryPath, STATE_DIR, 'daemon-heartbeat.json');
}

export async function writeHeartbeat(repositoryPath: string, heartbeat: DaemonHeartbeat): Promise<void> {
  await ensureStateDir(repositoryPath);
  await writeFileAtomically(heartbeatPath(repositoryPath), JSON.stringify(heartbeat, null, 2) + '\n');
}

/** The last heartbeat, or undefined when there is none (or it is not one of ours). */
export async function readHeartbeat(repositoryPath: string): Promise<DaemonHeartbeat | undefined> {
  try {
    const parsed = heartbeatSchema.safeParse(JSON.parse(await readSmallFileNoFollow(heartbeatPath(repositoryPath), 64 * 1024)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Fresh: written within HEARTBEAT_STALE_MS of `now` (a stopped or hung daemon stops beating). */
export function isHeartbeatFresh(heartbeat: DaemonHeartbeat, now: Date): boolean {
  const beatAt = Date.parse(heartbeat.beatAt);
  return Number.isFinite(beatAt) && now.getTime() - beatAt <= HEARTBEAT_STALE_MS;
}
