// Owns the list of checks `restorable check` and `metrics` run, in the order
// their lines are printed. A new monitor check (offsite lag) is one
// more file in src/checks/ and one more entry here.

import type { Check } from './check.ts';
import { ageCheck } from './age.ts';
import { lastRunCheck } from './last-run.ts';
import { diskCheck } from './disk.ts';
import { integrityCheck } from './integrity.ts';
import { lockCheck } from './lock.ts';
import { scheduleCheck } from './schedule.ts';
import { drillCheck } from './drill.ts';
import { repositoryWritableCheck } from './repository-writable.ts';

export const defaultChecks: readonly Check[] = [ageCheck, lastRunCheck, integrityCheck, drillCheck, diskCheck, lockCheck, scheduleCheck, repositoryWritableCheck];
