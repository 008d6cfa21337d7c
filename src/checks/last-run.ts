// Owns the last-run check: the outcome of the most recent backup run in the
// run history. A failed run is CRITICAL even while an older set is still young
// enough for the age check: the next one will be missing too unless someone
// acts, and the error says what to do. A run that finished with warnings is
// WARNING. Only the last run counts: a later success clears an earlier failure.

import { describeDegradation } from '../core/set-degradation.ts';
import { formatAge, type Check } from './check.ts';

export const lastRunCheck: Check = async (context) => {
  // An interrupted run (`aborted`) says nothing about the backups; the age check still sees a missed night.
  const backups = context.runs.filter((run) => run.command === 'backup' && run.status !== 'aborted');
  const last = backups[backups.length - 1];
  if (!last) return [{ name: 'last-run', state: 'OK', summary: 'no backup run recorded yet', perfdata: [] }];

  const when = `${last.startedAt}, ${formatAge(context.now.getTime() - new Date(last.finishedAt).getTime())} ago`;
  const perfdata = [{ label: 'last_run_duration', value: Math.round(last.durationMs / 100) / 10, unit: 's' as const, min: 0 }];
  const runLogs = `the run log in ${context.repositoryRoot}/logs`;

  if (last.status === 'failed') {
    const where = last.error?.source ? ` (source ${last.error.source})` : '';
    return [
      {
        name: 'last-run',
        state: 'CRITICAL',
        summary: `the last backup run (${when}) failed${where}: ${last.error?.message ?? 'no error recorded'}`,
        remedy: last.error?.remedy ? `${last.error.remedy}; then run \`restorable backup\`` : `read ${runLogs}, fix the cause, then run \`restorable backup\``,
        perfdata,
      },
    ];
  }
  if (last.status === 'warning') {
    const count = last.warnings ? `${last.warnings} warning(s)` : 'warnings';
    const set = context.sets.find((stored) => stored.manifest.setId === last.setId);
    const degradation = set ? describeDegradation(set.manifest) : undefined;
    return [
      {
        name: 'last-run',
        state: 'WARNING',
        summary: `the last backup run (${when}) published set ${last.setId ?? '?'} with ${count}${degradation ? `; degraded: ${degradation.summary}` : ''}`,
        remedy: `read the warnings in ${runLogs} (e.g. files that could not be read) and fix their cause`,
        perfdata,
      },
    ];
  }
  return [{ name: 'last-run', state: 'OK', summary: `the last backup run (${when}) succeeded: set ${last.setId ?? '?'}`, perfdata }];
};
