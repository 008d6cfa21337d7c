// Owns `check` as the monitor runs it: grade the repository (jobs/check.ts),
// then tell the configured channels when the state changed or a bad state is
// due for a reminder (notify/state.ts decides which). Invariant: with no
// channel configured nothing is read or written for notifications.

import { oneLine } from '../checks/check.ts';
import { runCheck, type CheckReport, type CheckRequest } from './check.ts';
import { notifierForJob } from './job-notifier.ts';

/** `onNotifyProblem` hears about channels that could not take the alert. */
export async function runCheckAndNotify(request: CheckRequest, onNotifyProblem: (message: string) => void): Promise<CheckReport> {
  const report = await runCheck(request);
  await announceStateChange(request, report, onNotifyProblem);
  return report;
}

/** Tells the configured channels when the state changed (or a bad state is due for a reminder). */
async function announceStateChange(request: CheckRequest, report: CheckReport, onNotifyProblem: (message: string) => void): Promise<void> {
  const notifier = notifierForJob(request.loaded, request.clock, onNotifyProblem);
  if (notifier.channels.length === 0) return;
  const problems = report.checks
    .filter((check) => check.state !== 'OK')
    .map((check) => `${check.state} ${check.name}: ${oneLine(check.summary)}${check.remedy ? ` - next: ${oneLine(check.remedy)}` : ''}`);
  await notifier.notifyCheckState({ state: report.state, summary: report.summary, problems });
}
