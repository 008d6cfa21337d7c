// Owns the lock check: a job lock left by a dead run (stale: the next run
// takes it over, but something killed the last one — OOM, reboot, kill -9)
// and a live run holding the lock for longer than `monitor.warn_after` (a
// daily backup still going after 26 h is stuck, and the age check will only
// notice once the previous set grows old). Both WARNING: neither loses data
// by itself, but each needs a human to look.

import { formatAge, type Check } from './check.ts';

export const lockCheck: Check = async (context) => {
  const { lock } = context;
  if (!lock.present) return [{ name: 'lock', state: 'OK', summary: 'no run in progress', perfdata: [] }];

  const holder = lock.holder;
  if (!holder) {
    return [
      {
        name: 'lock',
        state: 'WARNING',
        summary: `the lock ${lock.path} cannot be read (half-written by a run that died?)`,
        remedy: `the next run takes it over; if no restorable process is running (pgrep -af restorable), remove ${lock.path}`,
        perfdata: [],
      },
    ];
  }

  const since = new Date(holder.startedAt);
  const heldMs = Number.isNaN(since.getTime()) ? undefined : Math.max(0, context.now.getTime() - since.getTime());
  const heldFor = heldMs === undefined ? `since ${holder.startedAt}` : `for ${formatAge(heldMs)} (since ${holder.startedAt})`;
  const who = `pid ${holder.pid} on ${holder.host}, \`${holder.command}\``;
  const perfdata = heldMs === undefined ? [] : [{ label: 'lock_held', value: Math.round(heldMs / 1000), unit: 's' as const, min: 0 }];

  if (!holder.alive) {
    return [
      {
        name: 'lock',
        state: 'WARNING',
        summary: `stale lock: the run that took it (${who}) is dead; it held the lock ${heldFor}`,
        remedy: `the next run takes the lock over and sweeps what the dead run left; find out what killed it (journalctl, dmesg for the OOM killer) — or remove ${lock.path} now`,
        perfdata,
      },
    ];
  }

  const warnAfter = context.config.monitor.warn_after;
  if (heldMs !== undefined && heldMs > context.config.monitor.warn_after_ms) {
    return [
      {
        name: 'lock',
        state: 'WARNING',
        summary: `a run has been going for ${formatAge(heldMs)} (${who}, since ${holder.startedAt}; warning after ${warnAfter})`,
        remedy: `see what pid ${holder.pid} is waiting for (its run log in ${context.repositoryRoot}/logs, strace -p ${holder.pid}); if it is stuck, stop it with kill ${holder.pid} — it cleans up and publishes nothing`,
        perfdata,
      },
    ];
  }
  return [{ name: 'lock', state: 'OK', summary: `a run is in progress (${who}) ${heldFor}`, perfdata }];
};
