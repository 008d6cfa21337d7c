// Owns the manual drill as one use case, the way `restorable drill` and the
// scheduler run it: the drill, then the `drill_failed` announcement through the
// configured channels. Invariants: notifying never changes the drill's outcome
// or exit code; only a failed drill is announced (an aborted one was stopped by
// someone, which nobody needs to be paged for).

import { announceDrillFailure, runDrill, type DrillOutcome, type DrillRequest } from './drill.ts';

/** `onNotifyProblem` hears about channels that could not take the announcement. */
export async function runDrillAndNotify(request: DrillRequest, onNotifyProblem: (message: string) => void): Promise<DrillOutcome> {
  const outcome = await runDrill(request);
  await announceDrillFailure(request.loaded, outcome, request.clock, onNotifyProblem);
  return outcome;
}
