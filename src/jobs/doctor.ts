// Owns `restorable doctor`, the seed's troubleshooting list automated: it asks
// every question an administrator would ask by hand (is the repository there,
// initialised, writable, private; is there room and for how long; are the
// tools installed; can the database account do what backup, restore and drill
// need; is the schedule installed; is the clock right) and answers each with a
// finding: a status, what was found, and the remedy.
//
// Invariants: the doctor changes nothing it did not create (a probe file it
// removes again); a question that cannot be answered here is a `skipped`
// finding with the reason, never a silent omission; a finding that throws is
// reported as critical with its error's remedy and does not stop the others.
// The worst status sets the exit code (0 ok, 1 warning, 2 critical; skipped
// counts as ok). The question groups live beside the monitor's checks
// (checks/doctor-*.ts); this file only runs them in order and combines.

import { asRestorableError } from '../core/errors.ts';
import { repositoryFindings } from '../checks/doctor-repository.ts';
import { spaceFindings } from '../checks/doctor-space.ts';
import { clockFindings, toolFindings } from '../checks/doctor-tools.ts';
import type { DoctorContext, DoctorReport, DoctorRequest, Finding, FindingGroup, FindingStatus } from '../checks/doctor-finding.ts';
import { configSafetyFindings, scheduleFindings, sourceFindings } from '../checks/doctor-sources.ts';

export { findingFromError, type DoctorContext, type DoctorReport, type DoctorRequest, type Finding, type FindingGroup, type FindingStatus } from '../checks/doctor-finding.ts';

/** The questions, in the order an administrator would go through them. */
const GROUPS: ReadonlyArray<{ name: string; ask: FindingGroup }> = [
  { name: 'config', ask: configSafetyFindings },
  { name: 'repository', ask: repositoryFindings },
  { name: 'space', ask: spaceFindings },
  { name: 'tools', ask: toolFindings },
  { name: 'sources', ask: sourceFindings },
  { name: 'schedule', ask: scheduleFindings },
  { name: 'clock', ask: clockFindings },
];

export async function runDoctor(request: DoctorRequest): Promise<DoctorReport> {
  const context: DoctorContext = { ...request, now: request.clock.now() };
  const findings: Finding[] = [];
  for (const group of GROUPS) {
    if (request.signal?.aborted) break;
    const found: Finding[] = [];
    try {
      found.push(...(await group.ask(context)));
    } catch (error) {
      const failure = asRestorableError(error);
      found.push({
        name: group.name,
        status: 'critical',
        found: `could not be examined: ${failure.message}`,
        remedy: failure.remedy ?? 'rerun with RESTORABLE_DEBUG=1 and report it if the cause is not obvious',
        details: failure.details.length > 0 ? failure.details : undefined,
      });
    }
    for (const finding of found) request.onFinding?.(finding);
    findings.push(...found);
  }
  return summarize(request.loaded.config.app, request.loaded.repositoryPath, findings);
}

const RANK: Record<FindingStatus, number> = { skipped: 0, ok: 0, warning: 1, critical: 2 };

/** The report of `findings`: the worst status decides (an empty job when no config could be loaded). */
export function summarize(job: string, repository: string, findings: Finding[]): DoctorReport {
  const worst = Math.max(0, ...findings.map((finding) => RANK[finding.status])) as 0 | 1 | 2;
  return {
    job,
    repository,
    status: (['OK', 'WARNING', 'CRITICAL'] as const)[worst],
    findings,
    exitCode: worst,
  };
}
