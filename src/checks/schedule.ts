// Owns the schedule check (the seed's "Cron-Job Status"): whether the
// configured schedule is installed and firing. Scheduling is not configurable
// yet (`schedule install|remove|status` is a later issue), so with no schedule
// configured this check grades nothing and returns no result — an absent
// schedule is not a problem `check` could name. When `schedule` lands in the
// config, this is where the installed cron/systemd entry is compared with it.

import type { Check } from './check.ts';

export const scheduleCheck: Check = async () => [];
