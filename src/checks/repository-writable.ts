// Owns the repository-writable check: a repository that `check` can read but
// that cannot be written (its filesystem remounted read-only after an I/O
// error, an owner changed by hand) fails the next backup before it starts,
// and such a run cannot record itself in the repository's run history. So the
// check looks for itself. Read-only filesystem: CRITICAL (no backup can
// succeed); no write permission: WARNING, because `check` may run as another
// user than `backup`. Writable: no result line at all.

import { repositoryWriteProblem } from '../storage/repository-init.ts';
import type { Check } from './check.ts';

export const repositoryWritableCheck: Check = async (context) => {
  const problem = await repositoryWriteProblem(context.repositoryRoot).catch(() => undefined);
  if (!problem) return [];
  const readOnly = problem.code === 'REPOSITORY_READ_ONLY';
  return [
    {
      name: 'repository-writable',
      state: readOnly ? 'CRITICAL' : 'WARNING',
      summary: `${problem.message}: the next backup will fail before it starts${readOnly ? '' : ' (if it runs as this user)'}`,
      remedy: problem.remedy,
      perfdata: [],
    },
  ];
};
